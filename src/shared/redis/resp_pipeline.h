// RespPipeline: Redis commands encoded in RESP (the protocol's multi-bulk request form) as a list
// of byte segments for one sendmsg(), so a value is sent from the caller's memory without a copy.
//
// hiredis 0.14's redisAppendCommandArgv would copy every argument twice (it formats the command,
// then appends it to the context's output buffer) and its redisBufferWrite shifts the unsent rest
// of that buffer after every partial write, which for a 256 MiB SET is gigabytes of memmove. Only
// small bytes (command names, keys, lengths, the 64-byte value header) are copied here; a
// value's payload is referenced and must outlive the send.
//
// Thread-safety: a value type, used by one thread.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kvtier::shared::redis {

class RespPipeline {
 public:
  // Appends a whole command of small arguments (copied).
  void command(std::initializer_list<std::string_view> args);
  // Appends a command in parts: begin(argc), then exactly argc arg()/arg_with_payload() calls.
  void begin(std::size_t argc);
  void arg(std::string_view bytes);
  // One bulk argument made of `head` (copied) followed by `payload` (referenced, not copied).
  void arg_with_payload(std::span<const std::byte> head, std::span<const std::byte> payload);

  std::size_t commands() const { return commands_; }
  std::size_t bytes() const { return bytes_; }
  bool empty() const { return commands_ == 0; }
  // The segments in order; pointers into this object stay valid until it is modified again.
  std::vector<iovec> iovecs() const;

 private:
  // A run of bytes in small_ (external == nullptr, at `offset`) or in caller memory.
  struct Segment {
    const std::byte* external;
    std::size_t offset;
    std::size_t size;
  };
  void append_small(std::string_view bytes);

  std::string small_;
  std::vector<Segment> segments_;
  std::size_t commands_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace kvtier::shared::redis
