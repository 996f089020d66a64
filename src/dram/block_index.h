// dram::BlockIndex: the DRAM tier's concurrent index, BlockId -> Block*.
//
// Shards, each a mutex and a flat open-addressing table (linear probing, backward-shift deletion,
// load <= 3/4). A 32-byte slot holds the full id (so a lookup compares without touching the
// Block) and the Block pointer. The shard is chosen by the top bits of the id's hash, the slot by
// the low bits.
//
// Thread-safety: every method may be called concurrently. Methods that change the index (prepare,
// insert, erase) are called by DramTier only under its eviction mutex, so the set of indexed blocks
// is stable for a holder of that mutex; the shard mutex only orders them against readers.
// Lock order: eviction mutex -> shard mutex. Nothing is called back while a shard is locked except
// the visit() functor, which must not lock anything.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "dram/block.h"
#include "kvtier/key.h"
#include "sync/mutex.h"

namespace kvtier::dram {

class BlockIndex {
 public:
  // Read counters kept per shard (updated under its lock, so readers do not share a cache line).
  struct ShardStats {
    std::atomic<std::uint64_t> hits{0};
    std::atomic<std::uint64_t> misses{0};
    void add_hit() { hits.store(hits.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
    void add_miss() {
      misses.store(misses.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
  };

  // shards: a power of two, >= 1.
  explicit BlockIndex(std::uint32_t shards);
  ~BlockIndex();
  BlockIndex(const BlockIndex&) = delete;
  BlockIndex& operator=(const BlockIndex&) = delete;

  // 64-bit hash of an id: id_hash(), keyed per process, so clients cannot aim keys at one shard or
  // one cluster of slots (engine/id_hash.h).
  static std::uint64_t hash_of(const BlockId& id);

  // Calls f(Block* or nullptr, ShardStats&) with the id's shard locked. f must be short and must
  // not lock anything; to use a block after f returns it takes a ref (ref_block).
  template <typename F>
  void visit(const BlockId& id, std::uint64_t hash, F&& f) {
    Shard& s = shard_of(hash);
    MutexLock lock(s.mu);
    f(find_locked(s, id, hash), s.stats);
  }

  // The indexed block (no ref taken), or nullptr. REQUIRES: the eviction mutex (the result stays
  // indexed only while nobody else can change the index).
  Block* find(const BlockId& id, std::uint64_t hash);

  // Makes sure insert(id) cannot fail: returns the block currently under id in *existing (or
  // nullptr) and, when there is none, grows the table if needed. False when that allocation
  // failed. REQUIRES: the eviction mutex.
  bool prepare_insert(const BlockId& id, std::uint64_t hash, Block** existing);
  // Inserts b, replacing and returning the block under the same id (nullptr if none).
  // REQUIRES: the eviction mutex and a successful prepare_insert(b->id) since it was taken.
  Block* insert(Block* b);
  // Removes b if it is the block indexed under b->id; true when it was. REQUIRES: eviction mutex.
  bool erase(Block* b);
  // Removes and returns the block under id, or nullptr. REQUIRES: the eviction mutex.
  Block* erase_id(const BlockId& id, std::uint64_t hash);

  // found[i] = 1 when (ns, keys[i]) is indexed, else 0. Locks each shard once.
  // REQUIRES: found.size() >= keys.size().
  void probe(NamespaceId ns, std::span<const Key> keys, std::span<std::uint8_t> found);

  // Calls f(Block*) for every indexed block, shard by shard (each locked in turn).
  template <typename F>
  void for_each(F&& f) {
    for (auto& sp : shards_) {
      MutexLock lock(sp->mu);
      for (std::size_t i = 0; sp->slots && i <= sp->mask; ++i) {
        if (sp->slots[i].block) f(sp->slots[i].block);
      }
    }
  }

  // Sums of the per-shard read counters.
  std::uint64_t hits() const;
  std::uint64_t misses() const;

  // Empties every shard (without touching the blocks). For the tier's destructor.
  void clear();

 private:
  struct Slot {
    std::uint64_t w0 = 0;
    std::uint64_t w1 = 0;
    NamespaceId ns = 0;
    Block* block = nullptr;  // nullptr: empty slot
  };
  static_assert(sizeof(Slot) == 32, "two slots per cache line");

  struct alignas(64) Shard {
    Mutex mu;
    // mask + 1 slots, or null before the first insert.
    std::unique_ptr<Slot[]> slots KVTIER_GUARDED_BY(mu);
    std::size_t mask KVTIER_GUARDED_BY(mu) = 0;
    std::size_t size KVTIER_GUARDED_BY(mu) = 0;
    ShardStats stats;
  };

  static void words_of(const Key& key, std::uint64_t* w0, std::uint64_t* w1) {
    std::memcpy(w0, key.bytes.data(), 8);
    std::memcpy(w1, key.bytes.data() + 8, 8);
  }

  std::size_t shard_index(std::uint64_t hash) const {
    return shard_shift_ >= 64 ? 0 : static_cast<std::size_t>(hash >> shard_shift_);
  }
  Shard& shard_of(std::uint64_t hash) { return *shards_[shard_index(hash)]; }

  // The slot index holding (ns, w0, w1) or, when absent, the empty slot ending its probe run.
  // REQUIRES: s.slots non-null.
  static std::size_t find_slot(const Shard& s, NamespaceId ns, std::uint64_t w0, std::uint64_t w1,
                               std::uint64_t hash) KVTIER_REQUIRES(s.mu);
  static Block* find_locked(const Shard& s, const BlockId& id, std::uint64_t hash)
      KVTIER_REQUIRES(s.mu);
  static void erase_slot(Shard& s, std::size_t i) KVTIER_REQUIRES(s.mu);
  static bool grow(Shard& s) KVTIER_REQUIRES(s.mu);

  std::vector<std::unique_ptr<Shard>> shards_;
  unsigned shard_shift_ = 64;  // 64 - log2(shards); 64 when there is one shard
};

}  // namespace kvtier::dram
