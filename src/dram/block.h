// dram::Block: one value held by the DRAM tier, with its reference count and the per-block state
// the index and the S3-FIFO policy keep. Internal to src/dram.
//
// Ownership: a Block is created with refs = 1 by DramTier::reserve() (the Reservation's ref). On
// commit that ref becomes the index's ref. Every BlockRef adds one. The block (and its bytes) is
// deleted when the count reaches 0, which can only happen once it is out of the index.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "kvtier/key.h"
#include "memory/aligned_buffer.h"
#include "memory/buffer_pool.h"

namespace kvtier::dram {

// Which S3-FIFO queue a block is on.
enum class Queue : std::uint8_t { kNone = 0, kSmall = 1, kMain = 2 };

// Memory held by a tier's blocks (indexed or not): what unref() gives back, and the pool their
// buffers return to. One per DramTier.
struct LiveMemory {
  explicit LiveMemory(std::uint64_t pool_limit_bytes = 0) : pool(pool_limit_bytes) {}
  std::atomic<std::int64_t> blocks{0};
  std::atomic<std::int64_t> bytes{0};
  BufferPool pool;
};

// What a block of `value_size` bytes really costs the process, the unit of the tier's capacity:
// its buffer (value_size rounded up to a page, or to 2 MiB for a huge buffer), the allocator's
// alignment slack (an aligned allocation takes one more page from malloc, whose leading part
// small objects rarely reuse), and the Block and its index slot. docs/ARCHITECTURE.md ("Memory")
// builds the daemon's RSS bound on it; tests/server/daemon_memory_test.cpp holds RSS to it.
inline constexpr std::uint64_t kBlockMetadataBytes = 256;  // sizeof(Block) + index slot, rounded up
constexpr std::uint64_t block_charge(std::uint64_t value_size) {
  return aligned_buffer_footprint(value_size) + kBlockMetadataBytes;
}

struct Block {
  Block(const BlockId& block_id, std::uint64_t block_hash, std::size_t value_size,
        LiveMemory* live_memory)
      : id(block_id),
        hash(block_hash),
        size(value_size),
        charge(block_charge(value_size)),
        buffer(live_memory->pool.take(value_size)),
        live(live_memory) {}

  // Immutable after construction.
  const BlockId id;
  const std::uint64_t hash;  // BlockIndex::hash_of(id)
  const std::size_t size;      // value bytes; buffer holds size rounded up to 4 KiB
  const std::uint64_t charge;  // block_charge(size): what capacity, pins and the policy count
  AlignedBuffer buffer;       // not replaced while the block lives; returned to the pool at the end
  LiveMemory* const live;    // the owning tier's accounting; identifies the owner

  std::atomic<std::uint32_t> refs{1};
  std::atomic<std::uint8_t> freq{0};  // S3-FIFO access counter, saturates at kMaxFreq
  std::atomic<bool> clean{false};  // its bytes are in the tier below too (DramTier::clean)

  // Guarded by the owning tier's eviction mutex.
  Block* prev = nullptr;  // toward the queue's head (newer)
  Block* next = nullptr;  // toward the queue's tail (older)
  Queue queue = Queue::kNone;
  std::int64_t pinned_until_ns = 0;  // steady_clock deadline; 0 = not pinned (not in the pin set)
  // Evicted and handed to the caller to demote, listed in the tier's departures until the caller
  // ends the departure (DramTier::end_departure). `superseded`: a put, promotion or removal of
  // the same id came after the eviction, so these bytes must not land in another tier.
  bool leaving = false;
  bool superseded = false;

  static constexpr std::uint8_t kMaxFreq = 3;  // two bits, as in S3-FIFO

  std::byte* data() const { return buffer.data(); }

  // A read hit: bumps the frequency without a read-modify-write when it is already saturated, so
  // hot blocks do not bounce their cache line between readers. Lossy under races, by design.
  void touch() {
    std::uint8_t f = freq.load(std::memory_order_relaxed);
    if (f < kMaxFreq) freq.store(static_cast<std::uint8_t>(f + 1), std::memory_order_relaxed);
  }
};

inline void ref_block(Block* b) { b->refs.fetch_add(1, std::memory_order_relaxed); }

// Drops one reference; deletes the block when it was the last.
inline void unref_block(Block* b) {
  if (b->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  LiveMemory* live = b->live;
  const auto bytes = static_cast<std::int64_t>(b->buffer.size());
  live->pool.give(std::move(b->buffer));
  delete b;
  live->bytes.fetch_sub(bytes, std::memory_order_relaxed);
  live->blocks.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace kvtier::dram
