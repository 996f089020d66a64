// MetaWriter and MetaReader: the primitives every meta layout is built from (docs/PROTOCOL.md,
// "Meta encodings"): little-endian integers, 16-byte keys, `bytes` (u32 length + bytes) and list
// counts (u32). The reader is bounds-checked: every read returns a Status naming the field and
// how many bytes it needed, and nothing is allocated from a count before the bytes are known to
// be there.
//
// Thread-safety: none; plain values used by one thread.
#pragma once

#include <cstddef>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/key.h"
#include "kvtier/status.h"
#include "coding/little_endian.h"
#include "protocol/frame.h"

namespace kvtier::protocol {

inline constexpr std::size_t kKeyBytes = 16;

// One frame's meta, as FrameReader::meta() hands it out.
using MetaBytes = std::span<const std::byte>;

// Appends fields to a caller-owned buffer, so a frame can be built in place after its header
// (encode_frame) and many responses can share one output buffer.
class MetaWriter {
 public:
  explicit MetaWriter(std::vector<std::byte>& out) : out_(out) {}

  // An unsigned integer, little-endian, in its own width.
  template <std::unsigned_integral T>
  void integer(T v) {
    std::size_t at = out_.size();
    out_.resize(at + sizeof(T));
    store_le(out_.data() + at, v);
  }
  // 16-byte keys back to back, in one append.
  void keys(std::span<const Key> ks);
  // u32 length, then the bytes. A field longer than 4 GiB cannot be encoded, but it cannot be
  // sent either: its meta would exceed kMaxMetaBytes, which encode_frame refuses.
  void bytes(std::string_view b);
  // A list's u32 count; the caller then writes the items.
  void count(std::size_t n) { integer(static_cast<std::uint32_t>(n)); }

 private:
  std::vector<std::byte>& out_;
};

// Reads fields from one meta buffer. Every message starts with the frame it reads ("GET_MANY
// request meta"), built only when there is an error.
// Error codes follow one rule: InvalidArgument when the bytes do not match the layout (the daemon
// closes the connection), TooLarge when a well-formed field exceeds a limit (the frame is still
// well delimited; the daemon answers and keeps the connection). Layout is checked first.
class MetaReader {
 public:
  MetaReader(std::span<const std::byte> meta, Opcode op, FrameKind kind)
      : in_(meta), op_(op), kind_(kind) {}

  // An unsigned integer, little-endian, in its own width.
  template <std::unsigned_integral T>
  Status integer(std::string_view field, T* out) {
    KVTIER_RETURN_IF_ERROR(need(field, sizeof(T)));
    *out = load_le<T>(in_.data() + pos_);
    pos_ += sizeof(T);
    return Status::Ok();
  }
  // out.size() keys back to back in one copy; for a list, the caller checked the count with
  // list_count.
  Status keys(std::string_view field, std::span<Key> out);
  // A `bytes` field: its length must fit in the bytes left (InvalidArgument), then be at most
  // max_len (TooLarge).
  Status bytes(std::string_view field, std::size_t max_len, std::string* out);
  // A list count, checked before the caller allocates anything: count items of item_bytes each
  // must fit in the bytes left (InvalidArgument: "list of 5 items needs 120 bytes, 96 left"),
  // then count <= max_batch (TooLarge). The product is computed in 64 bits from a u32 count and a
  // small item size, so a hostile count of 2^32-1 cannot overflow or allocate.
  Status list_count(std::string_view field, std::size_t item_bytes, std::uint32_t max_batch,
                    std::uint32_t* count);
  // OK when every byte was read; InvalidArgument naming the trailing bytes otherwise.
  Status finish() const;

  std::size_t remaining() const { return in_.size() - pos_; }
  // A Status in this reader's voice: "<what>: <message>".
  Status invalid(const std::string& message) const;

 private:
  Status need(std::string_view field, std::size_t n) const;
  Status too_large(const std::string& message) const;
  std::string what() const;

  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
  Opcode op_;
  FrameKind kind_;
};

}  // namespace kvtier::protocol
