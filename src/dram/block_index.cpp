// dram::BlockIndex: sharded flat hash table of the DRAM tier (see block_index.h).
#include "dram/block_index.h"

#include <bit>
#include <new>

#include "integrity/check.h"
#include "engine/id_hash.h"
#include "sync/mutex.h"

namespace kvtier::dram {

namespace {

constexpr std::size_t kInitialSlots = 16;

}  // namespace

BlockIndex::BlockIndex(std::uint32_t shards) {
  KVTIER_CHECK(shards >= 1 && std::has_single_bit(shards));
  shards_.reserve(shards);
  for (std::uint32_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
  shard_shift_ = shards == 1 ? 64u : 64u - static_cast<unsigned>(std::countr_zero(shards));
}

BlockIndex::~BlockIndex() = default;

std::uint64_t BlockIndex::hash_of(const BlockId& id) { return id_hash(id); }

std::size_t BlockIndex::find_slot(const Shard& s, NamespaceId ns, std::uint64_t w0,
                                  std::uint64_t w1, std::uint64_t hash) {
  // The table is never full (load <= 3/4), so the loop ends at an empty slot at the latest.
  std::size_t i = static_cast<std::size_t>(hash) & s.mask;
  for (;;) {
    const Slot& slot = s.slots[i];
    if (slot.block == nullptr) return i;
    if (slot.w0 == w0 && slot.w1 == w1 && slot.ns == ns) return i;
    i = (i + 1) & s.mask;
  }
}

Block* BlockIndex::find_locked(const Shard& s, const BlockId& id, std::uint64_t hash) {
  if (!s.slots) return nullptr;
  std::uint64_t w0, w1;
  words_of(id.key, &w0, &w1);
  return s.slots[find_slot(s, id.ns, w0, w1, hash)].block;
}

Block* BlockIndex::find(const BlockId& id, std::uint64_t hash) {
  Shard& s = shard_of(hash);
  MutexLock lock(s.mu);
  return find_locked(s, id, hash);
}

bool BlockIndex::grow(Shard& s) {
  const std::size_t old_slots = s.slots ? s.mask + 1 : 0;
  const std::size_t new_slots = old_slots ? old_slots * 2 : kInitialSlots;
  std::unique_ptr<Slot[]> table(new (std::nothrow) Slot[new_slots]);
  if (!table) return false;
  const std::size_t new_mask = new_slots - 1;
  for (std::size_t i = 0; i < old_slots; ++i) {
    const Slot& from = s.slots[i];
    if (!from.block) continue;
    std::size_t j = static_cast<std::size_t>(from.block->hash) & new_mask;
    while (table[j].block) j = (j + 1) & new_mask;
    table[j] = from;
  }
  s.slots = std::move(table);
  s.mask = new_mask;
  return true;
}

bool BlockIndex::prepare_insert(const BlockId& id, std::uint64_t hash, Block** existing) {
  Shard& s = shard_of(hash);
  MutexLock lock(s.mu);
  *existing = find_locked(s, id, hash);
  if (*existing) return true;  // insert() will replace in place
  if (!s.slots || (s.size + 1) * 4 > (s.mask + 1) * 3) return grow(s);
  return true;
}

Block* BlockIndex::insert(Block* b) {
  Shard& s = shard_of(b->hash);
  MutexLock lock(s.mu);
  KVTIER_CHECK(s.slots != nullptr);
  std::uint64_t w0, w1;
  words_of(b->id.key, &w0, &w1);
  Slot& slot = s.slots[find_slot(s, b->id.ns, w0, w1, b->hash)];
  Block* replaced = slot.block;
  if (!replaced) {
    KVTIER_CHECK((s.size + 1) * 4 <= (s.mask + 1) * 3);  // prepare_insert made room
    slot.w0 = w0;
    slot.w1 = w1;
    slot.ns = b->id.ns;
    ++s.size;
  }
  slot.block = b;
  return replaced;
}

void BlockIndex::erase_slot(Shard& s, std::size_t i) {
  // Backward-shift deletion: pull later members of the probe run into the hole so that every
  // entry stays reachable from its home slot without tombstones.
  std::size_t hole = i;
  std::size_t j = i;
  for (;;) {
    j = (j + 1) & s.mask;
    Block* b = s.slots[j].block;
    if (!b) break;
    const std::size_t home = static_cast<std::size_t>(b->hash) & s.mask;
    // Entry j may move to the hole unless its home lies cyclically in (hole, j].
    const bool home_in_between =
        hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_in_between) {
      s.slots[hole] = s.slots[j];
      hole = j;
    }
  }
  s.slots[hole] = Slot{};
  --s.size;
}

bool BlockIndex::erase(Block* b) {
  Shard& s = shard_of(b->hash);
  MutexLock lock(s.mu);
  if (!s.slots) return false;
  std::uint64_t w0, w1;
  words_of(b->id.key, &w0, &w1);
  const std::size_t i = find_slot(s, b->id.ns, w0, w1, b->hash);
  if (s.slots[i].block != b) return false;
  erase_slot(s, i);
  return true;
}

Block* BlockIndex::erase_id(const BlockId& id, std::uint64_t hash) {
  Shard& s = shard_of(hash);
  MutexLock lock(s.mu);
  if (!s.slots) return nullptr;
  std::uint64_t w0, w1;
  words_of(id.key, &w0, &w1);
  const std::size_t i = find_slot(s, id.ns, w0, w1, hash);
  Block* b = s.slots[i].block;
  if (b) erase_slot(s, i);
  return b;
}

void BlockIndex::probe(NamespaceId ns, std::span<const Key> keys, std::span<std::uint8_t> found) {
  KVTIER_CHECK(found.size() >= keys.size());
  const std::size_t n = keys.size();
  if (n == 0) return;

  // Hash every key, then bucket the positions by shard (a counting sort) so that each shard is
  // locked once and its keys are looked up back to back, prefetching a few slots ahead.
  struct Probe {
    std::uint64_t w0, w1, hash;
  };
  const std::size_t nshards = shards_.size();
  std::vector<Probe> probes(n);
  std::vector<std::uint32_t> start(nshards + 1, 0);
  thread_local std::vector<std::uint64_t> hashes;
  hashes.resize(n);
  id_hash_many(ns, keys, hashes);
  for (std::size_t i = 0; i < n; ++i) {
    Probe& p = probes[i];
    words_of(keys[i], &p.w0, &p.w1);
    p.hash = hashes[i];
    ++start[shard_index(p.hash) + 1];
  }
  for (std::size_t s = 1; s <= nshards; ++s) start[s] += start[s - 1];
  std::vector<std::uint32_t> order(n);
  {
    std::vector<std::uint32_t> next(start.begin(), start.end() - 1);
    for (std::size_t i = 0; i < n; ++i) order[next[shard_index(probes[i].hash)]++] = static_cast<std::uint32_t>(i);
  }

  constexpr std::size_t kPrefetchAhead = 8;
  for (std::size_t s = 0; s < nshards; ++s) {
    const std::size_t begin = start[s], end = start[s + 1];
    if (begin == end) continue;
    Shard& shard = *shards_[s];
    MutexLock lock(shard.mu);
    if (!shard.slots) {
      for (std::size_t k = begin; k < end; ++k) found[order[k]] = 0;
      continue;
    }
    for (std::size_t k = begin; k < begin + kPrefetchAhead && k < end; ++k) {
      __builtin_prefetch(&shard.slots[probes[order[k]].hash & shard.mask]);
    }
    for (std::size_t k = begin; k < end; ++k) {
      if (k + kPrefetchAhead < end) {
        __builtin_prefetch(&shard.slots[probes[order[k + kPrefetchAhead]].hash & shard.mask]);
      }
      const std::uint32_t i = order[k];
      const Probe& p = probes[i];
      found[i] = shard.slots[find_slot(shard, ns, p.w0, p.w1, p.hash)].block != nullptr ? 1 : 0;
    }
  }
}

std::uint64_t BlockIndex::hits() const {
  std::uint64_t total = 0;
  for (const auto& s : shards_) total += s->stats.hits.load(std::memory_order_relaxed);
  return total;
}

std::uint64_t BlockIndex::misses() const {
  std::uint64_t total = 0;
  for (const auto& s : shards_) total += s->stats.misses.load(std::memory_order_relaxed);
  return total;
}

void BlockIndex::clear() {
  for (auto& s : shards_) {
    MutexLock lock(s->mu);
    s->slots.reset();
    s->mask = 0;
    s->size = 0;
  }
}

}  // namespace kvtier::dram
