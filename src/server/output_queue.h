// OutputQueue: the response bytes a connection has yet to send, in order. Frames (header + meta)
// are built in place in small buffers; values travel in the AlignedBuffers they were read into
// (pooled), so a value is never copied again on its way to the socket.
//
// Thread-safety: none; owned by one connection.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "kvtier/status.h"
#include "engine/block_view.h"
#include "kvtier/types.h"
#include "memory/aligned_buffer.h"
#include "memory/buffer_pool.h"
#include "protocol/meta.h"

namespace kvtier::server {

class OutputQueue {
 public:
  explicit OutputQueue(BufferPool& pool) : pool_(pool) {}
  ~OutputQueue();
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;

  // Appends the response frame carrying `message` (protocol::append_frame); its data_len data
  // bytes must follow through append_data / append_view. A frame the codec refuses is a bug: it is
  // replaced by an io_error response so the client is still answered, and the data the caller
  // then appends for it is dropped (counted in dropped_data()): the stream stays in step
  // whatever the caller does, since data is only ever queued against a frame that announced it.
  template <typename T>
  void add_frame(std::uint64_t request_id, const T& message, std::uint64_t data_len = 0,
                 StatusCode status = StatusCode::kOk) {
    std::vector<std::byte>& b = frame_buffer();
    Status s = protocol::append_frame(b, request_id, message, data_len, status);
    frame_appended();
    data_owed_ = s.ok() ? data_len : 0;
    if (!s.ok()) add_error(T::kOpcode, request_id, Status::IOError("response: " + s.message()));
  }
  // Appends the error response `error` to a request of `op`.
  void add_error(protocol::Opcode op, std::uint64_t request_id, const Status& error);
  // `len` bytes of `buffer` follow the last frame (its data). The buffer returns to the pool once
  // sent.
  void append_data(AlignedBuffer buffer, std::size_t len);
  // The bytes of a DRAM block follow the last frame, sent straight from the block (no copy).
  void append_view(engine::BlockView view);

  std::uint64_t queued_bytes() const { return queued_; }
  // The memory the queue keeps until it is sent: frame bytes not yet sent, and the whole
  // footprint of each value buffer and DRAM block not yet completely sent (a 1-byte value in a
  // page-sized buffer holds the page). >= queued_bytes(); what the in-flight budget charges.
  std::uint64_t held_bytes() const { return held_; }
  // Data pieces dropped because no frame announced them (a bug in the caller, made harmless).
  std::uint64_t dropped_data() const { return dropped_data_; }
  bool empty() const { return queued_ == 0; }

  // Sends what the socket takes without blocking (sendmsg, MSG_NOSIGNAL). Returns the bytes sent;
  // an IOError when the peer is gone.
  Result<std::uint64_t> send_to(int fd);
  // The same through `write`, which sends from the iovecs it is given and returns the bytes it
  // sent (> 0), kWouldBlock, or an error (a TLS connection's writer).
  static constexpr std::int64_t kWouldBlock = -1;
  using Writer = std::function<Result<std::int64_t>(const iovec* iov, std::size_t count)>;
  Result<std::uint64_t> send_with(const Writer& write);

 private:
  // One of: frames (header + meta of one or more responses), a value buffer, a DRAM block view.
  struct Piece {
    std::vector<std::byte> frames;
    AlignedBuffer data;
    engine::BlockView view;
    std::size_t len = 0;  // bytes of data or view (frames use frames.size())
    std::size_t sent = 0;
    std::uint64_t held = 0;  // data's or view's memory, counted in held_ until retired
    bool is_frames() const { return data.empty() && !view; }
    std::size_t size() const { return is_frames() ? frames.size() : len; }
    const std::byte* bytes() const {
      return view ? view.bytes().data() : data.empty() ? frames.data() : data.data();
    }
  };
  std::vector<std::byte>& frame_buffer();
  void frame_appended();
  // Recycles a finished piece: its value buffer back to the pool, its frame buffer kept.
  void retire_front();

  BufferPool& pool_;
  std::deque<Piece> pieces_;
  std::vector<std::byte> spare_frames_;
  std::size_t tail_size_before_ = 0;  // frame_buffer() size before the frame being appended
  std::uint64_t queued_ = 0;
  std::uint64_t held_ = 0;          // held_bytes()
  std::uint64_t data_owed_ = 0;     // data bytes the last frame announced and not yet appended
  std::uint64_t dropped_data_ = 0;
};

}  // namespace kvtier::server
