// dram::S3Fifo: the DRAM tier's eviction policy, S3-FIFO (Yang et al., "FIFO queues are all you
// need for cache eviction", SOSP 2023), with byte accounting for variable-size blocks.
//
//   small  FIFO: new blocks; kept to ~small_target bytes (10% of the capacity by default)
//   main   FIFO: blocks that were read while in small, or whose id was evicted recently
//   ghost  FIFO: hashes of ids recently evicted from small (no data), as many as there are blocks
//
// A read only bumps the block's 2-bit atomic frequency (Block::touch); queues move only here, under
// the tier's eviction mutex. Eviction takes the tail of small while small holds >= small_target
// bytes (or main is empty): read since insert -> moved to main, else evicted (its hash goes to
// ghost). Otherwise it takes the tail of main: read since last pass -> frequency - 1 and back to the
// head, else evicted. Pinned blocks are never evicted: they go to the head of main.
//
// Thread-safety: none; every method REQUIRES the owning tier's eviction mutex.
// docs/DRAM.md explains the choice of S3-FIFO.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>

#include "dram/block.h"

namespace kvtier::dram {

// An intrusive FIFO of blocks (Block::prev/next) with a count and a byte total.
class FifoList {
 public:
  void push_head(Block* b);  // newest end
  void push_tail(Block* b);  // oldest end
  Block* pop_tail();         // nullptr when empty
  void unlink(Block* b);     // REQUIRES: b is on this list
  bool empty() const { return tail_ == nullptr; }
  std::size_t count() const { return count_; }
  std::uint64_t bytes() const { return bytes_; }
  Block* tail() const { return tail_; }

 private:
  Block* head_ = nullptr;
  Block* tail_ = nullptr;
  std::size_t count_ = 0;
  std::uint64_t bytes_ = 0;
};

class S3Fifo {
 public:
  explicit S3Fifo(std::uint64_t small_target_bytes) : small_target_(small_target_bytes) {}

  // A newly committed block: to main when its id is a ghost (it was evicted recently and came
  // back), else to small.
  void insert(Block* b);
  // Onto the head of queue q (kSmall or kMain), bypassing the ghost check: a block put back, or
  // the new version of a block that was in main.
  void insert_into(Block* b, Queue q);
  // Takes b off its queue. REQUIRES: b is queued.
  void erase(Block* b);

  // One eviction step. Returns a victim, already off its queue, or nullptr when the step only
  // moved a block (promotion, second chance, pinned). is_pinned(Block*) -> bool.
  template <typename IsPinned>
  Block* evict_step(IsPinned&& is_pinned);

  // Puts victims of an abandoned eviction back at the tail of main, victims[0] at the very tail.
  void restore(std::span<Block* const> victims);

  bool empty() const { return small_.empty() && main_.empty(); }
  std::size_t blocks() const { return small_.count() + main_.count(); }

  // Calls f(Block*) for every queued block, oldest first (small, then main).
  template <typename F>
  void for_each(F&& f) const {
    for (Block* b = small_.tail(); b; b = b->prev) f(b);
    for (Block* b = main_.tail(); b; b = b->prev) f(b);
  }

 private:
  static constexpr std::size_t kMinGhost = 64;

  void to_main(Block* b);  // b is off every queue
  void ghost_add(std::uint64_t hash);
  bool ghost_contains(std::uint64_t hash) const { return ghost_count_.count(hash) != 0; }

  const std::uint64_t small_target_;
  FifoList small_;
  FifoList main_;
  std::deque<std::uint64_t> ghost_fifo_;                      // oldest at the front
  std::unordered_map<std::uint64_t, std::uint32_t> ghost_count_;  // hash -> entries in the fifo
};

template <typename IsPinned>
Block* S3Fifo::evict_step(IsPinned&& is_pinned) {
  if (!small_.empty() && (small_.bytes() >= small_target_ || main_.empty())) {
    Block* t = small_.pop_tail();
    if (is_pinned(t) || t->freq.load(std::memory_order_relaxed) > 0) {
      to_main(t);
      return nullptr;
    }
    t->queue = Queue::kNone;
    ghost_add(t->hash);
    return t;
  }
  Block* t = main_.pop_tail();
  if (!t) return nullptr;
  if (is_pinned(t)) {
    main_.push_head(t);
    return nullptr;
  }
  const std::uint8_t f = t->freq.load(std::memory_order_relaxed);
  if (f > 0) {
    t->freq.store(static_cast<std::uint8_t>(f - 1), std::memory_order_relaxed);
    main_.push_head(t);
    return nullptr;
  }
  t->queue = Queue::kNone;
  return t;
}

}  // namespace kvtier::dram
