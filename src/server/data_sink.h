// DataSink: where a request frame's data bytes go, as spans filled in order: one value buffer,
// one PUT's DRAM reservation, or one reservation per item of a PUT_MANY, so each value is
// received straight where it will be stored. A cursor remembers how far the bytes have come.
//
// Invariant: 0 <= filled() <= size(); the spans do not overlap (the caller owns their memory and
// keeps it alive while the sink is in use).
// Thread-safety: none; part of one connection's pending request.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace kvtier::server {

class DataSink {
 public:
  // Appends `bytes` after the spans already added (empty spans are skipped).
  void add(std::span<std::byte> bytes);

  std::uint64_t size() const { return size_; }
  std::uint64_t filled() const { return filled_; }
  bool empty() const { return size_ == 0; }

  // Fills `out` with iovecs for the next unfilled bytes (at most `limit` of them); returns how
  // many entries it used (0 when the sink is full or `out` is empty).
  std::size_t next_iovecs(std::span<iovec> out, std::uint64_t limit) const;
  // `n` bytes were written at the cursor (through next_iovecs); n <= size() - filled().
  void advance(std::uint64_t n);
  // Copies `bytes` in at the cursor and advances; bytes.size() <= size() - filled().
  void copy_in(std::span<const std::byte> bytes);

 private:
  std::vector<std::span<std::byte>> spans_;
  std::uint64_t size_ = 0;
  std::uint64_t filled_ = 0;
  std::size_t span_ = 0;         // the span the cursor is in (spans_.size() when full)
  std::size_t span_offset_ = 0;  // the cursor's offset in it
};

}  // namespace kvtier::server
