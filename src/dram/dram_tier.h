// DramTier: the DRAM tier. Values under a byte budget, a sharded index, S3-FIFO eviction,
// two-phase publication, reference-counted readers and leased pins.
//
// Thread-safety: every method may be called concurrently from any thread.
// Invariants:
//  - A block is visible (get/contains/probe) only after commit(); a Reservation that is dropped
//    without commit() leaves no trace.
//  - Bytes are freed only when the block is out of the index AND no BlockRef refers to it, so
//    eviction or removal never frees bytes under a reader.
//  - Charged bytes (the sum of block_charge(value size) of the blocks still in the index: the value
//    rounded to its buffer plus allocator slack and metadata, see block.h) stay <= capacity after
//    every commit returns, except that pinned blocks are never evicted (commit then fails NoSpace).
//  - Evicted blocks are handed back to the caller (as BlockRefs) so it can demote them to the
//    next tier outside of every lock; their memory is released when the last ref goes.
//  - An evicted block stays a departure of its id until the caller ends it (end_departure): a
//    later put, promotion or removal of the id supersedes it, so the caller can tell
//    (departure_current) whether the bytes in hand are still the newest the tier was given for
//    the id. Versions of one id therefore never overtake each other on their way down.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/block_tier.h"
#include "kvtier/config.h"
#include "kvtier/key.h"
#include "kvtier/status.h"
#include "kvtier/types.h"

namespace kvtier::dram {

// What DramTier::acquire() is for, which decides what it counts.
enum class AcquireFor : std::uint8_t {
  kRead,                 // a client's read: a hit (with the S3-FIFO access) or a miss
  kReadMissCountedNext,  // a client's read whose miss the next tier counts: a hit only
  // The store reading a block for itself (to upload it to the shared tier): counts nothing and
  // leaves the access state alone, or every block uploaded after its put would look read once
  // and go to S3-FIFO's main queue instead of being evicted from the small one.
  kStoreInternal,
};

class DramTierImpl;
struct Block;  // defined in dram_tier.cpp

// One counted reference to a block, released when the holder goes: what BlockRef and Reservation
// share. Move-only.
class BlockHold {
 public:
  explicit operator bool() const { return block_ != nullptr; }

 protected:
  BlockHold() = default;
  explicit BlockHold(Block* block) : block_(block) {}
  ~BlockHold();
  BlockHold(BlockHold&& other) noexcept;
  BlockHold& operator=(BlockHold&& other) noexcept;

  Block* block_ = nullptr;
};

// A counted reference to a committed block: its bytes stay valid while the ref lives, even if the
// block is evicted or removed meanwhile. Move-only.
class BlockRef : public BlockHold {
 public:
  BlockRef() = default;

  const BlockId& id() const;
  std::span<const std::byte> value() const;
  // block_charge() of the block: what keeping it alive costs, in DRAM or past its eviction.
  std::uint64_t charge() const;
  // True when the block's bytes are known to be in the tier below already (its owner wrote them
  // there, or read them from there): a clean block needs no demotion; a dirty one does.
  bool clean() const;

 private:
  friend class DramTierImpl;
  explicit BlockRef(Block* block) : BlockHold(block) {}
};

// Space for one value, written by the caller and then published with DramTier::commit().
// Move-only; dropping it uncommitted frees the space.
class Reservation : public BlockHold {
 public:
  Reservation() = default;

  // The caller writes exactly size() bytes here. 4 KiB-aligned.
  std::span<std::byte> data() const;

 private:
  friend class DramTierImpl;
  explicit Reservation(Block* block) : BlockHold(block) {}
};

// How commit() treats an id the tier holds already (indexed, or departing after an eviction).
enum class CommitMode : std::uint8_t {
  kReplace,   // a put: replaces the indexed block and supersedes a departure, even if it fails
  kIfAbsent,  // a promotion of a copy from another tier: only if the tier holds nothing of the
              // id (Rejected otherwise), since what it holds is newer than that copy
};


// Lifetime: every BlockRef and Reservation must be released before the DramTier that issued it is
// destroyed (the destructor checks this and aborts otherwise).
class DramTier : public engine::BlockTier {
 public:
  // InvalidArgument when the config does not validate.
  static Result<std::unique_ptr<DramTier>> create(const DramConfig& config);
  virtual ~DramTier() = default;

  // Two-phase put. reserve() allocates; TooLarge when size exceeds the capacity.
  virtual Result<Reservation> reserve(const BlockId& id, std::size_t size) = 0;
  // Publishes the reservation as `mode` says and evicts until the budget holds. Evicted blocks are
  // appended to *evicted (may be null: they are then dropped); each is a departure the caller
  // must end with end_departure() once it is done with it. On success the reservation is empty;
  // on failure it still holds the bytes (NoSpace: pinned blocks leave no room; Rejected: kIfAbsent
  // found the id held).
  virtual Status commit(Reservation& reservation, CommitMode mode, bool clean,
                        std::vector<BlockRef>* evicted) = 0;
  // reserve + copy + commit.
  virtual Status put(const BlockId& id, std::span<const std::byte> value, CommitMode mode,
                     bool clean, std::vector<BlockRef>* evicted) = 0;

  // Copies the value into dst. A client's read counts a hit (S3-FIFO frequency) or a miss.
  // status OK, NotFound or BufferTooSmall (size is then the value's); tier kDram when found.
  // BlockTier::get_many is get() for each item.
  virtual GetResult get(const BlockId& id, std::span<std::byte> dst,
                        engine::ReadFor why = engine::ReadFor::kClient) = 0;
  // A reference to the block, or an empty ref on a miss, counted as `why` says.
  virtual BlockRef acquire(const BlockId& id, AcquireFor why = AcquireFor::kRead) = 0;
  // True when `ref` is still the block indexed under its id (not replaced, evicted or removed);
  // counts no hit.
  virtual bool is_current(const BlockRef& ref) = 0;
  // BlockTier::probe locks each shard once per call. BlockTier::remove removes the indexed block
  // and supersedes a departure of the id; NotFound when it had neither.
  // True when `ref` holds the newest bytes the tier was given for its id: it is the indexed block,
  // or the id's departure and not superseded.
  virtual bool departure_current(const BlockRef& ref) = 0;
  // Ends the departure of an evicted block (no-op for any other ref). Call once per evicted ref.
  virtual void end_departure(const BlockRef& ref) = 0;

  // Pinned blocks are not evicted until unpin() or the lease passes. Errors: NotFound,
  // InvalidArgument (lease <= 0 or above max_lease), Busy (max_pinned_fraction reached, or the
  // id's namespace would pin more than `max_namespace_pinned_bytes`, when that is not 0).
  virtual Status pin(const BlockId& id, std::chrono::milliseconds lease,
                     std::uint64_t max_namespace_pinned_bytes = 0) = 0;
  virtual Status unpin(const BlockId& id) = 0;

  // Marks a block clean: its owner wrote it to the tier below. DRAM knows no tier but itself; a
  // block committed clean (`clean` = true, as a promoted one is) or marked so is one its owner
  // need not write down again.
  virtual void mark_clean(const BlockId& id) = 0;
  // Marks exactly the referenced block, even if a newer version was committed under its id since
  // the ref was taken (mark_clean(id) would then mark the newer, unwritten version). Prefer this
  // form after writing a ref from dirty_blocks().
  virtual void mark_clean(const BlockRef& ref) = 0;
  // References to every dirty block (for Store::flush, which writes them down).
  virtual std::vector<BlockRef> dirty_blocks() = 0;

  // BlockTier::visit_counters, prefixed "dram_": hits, misses, inserts, evictions, evicted_bytes,
  // removes, bytes (gauge), blocks (gauge), pinned_bytes (gauge), capacity_bytes (gauge), ...
};

}  // namespace kvtier::dram
