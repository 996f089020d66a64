// BlockView: a block's bytes held in the engine's memory, read in place. The DRAM tier's blocks
// are served this way to a socket (ServingStore::view), and the shared tier hands verified copies
// to the store and blocks to its uploader as views.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace kvtier::engine {

// A block's bytes in memory the engine owns (a DRAM block, a buffer of the shared tier), read
// without a copy (a daemon sends them straight to a socket). The bytes stay valid and unchanged while the view lives, even if the block is evicted, replaced
// or removed meanwhile. Every view must be released before its Store is destroyed.
class BlockView {
 public:
  BlockView() = default;
  // held_bytes: the memory the holder keeps alive (a block's buffer and metadata), at least the
  // bytes' size; 0 means just the bytes.
  BlockView(std::span<const std::byte> bytes, std::shared_ptr<const void> holder,
            std::uint64_t held_bytes = 0)
      : bytes_(bytes),
        holder_(std::move(holder)),
        held_bytes_(std::max<std::uint64_t>(held_bytes, bytes.size())) {}
  std::span<const std::byte> bytes() const { return bytes_; }
  // What keeping this view keeps in memory: a response that holds it is charged this much
  // (a 1-byte DRAM block costs a page and more), whether or not the tier evicts the block.
  std::uint64_t held_bytes() const { return held_bytes_; }
  explicit operator bool() const { return holder_ != nullptr; }

 private:
  std::span<const std::byte> bytes_;
  std::shared_ptr<const void> holder_;  // keeps the block alive
  std::uint64_t held_bytes_ = 0;
};

}  // namespace kvtier::engine
