// nvme::Index: sharded open-addressing table of 16-byte slots (see index.h for the contract).
#include "nvme/index.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <string>

#include "coding/little_endian.h"
#include "integrity/check.h"
#include "integrity/checksum.h"
#include "engine/id_hash.h"
#include "sync/mutex.h"

namespace kvtier::nvme {
namespace {

// ---- Slot -----------------------------------------------------------------------------------
// The whole id, the value size (0 marks an empty slot; an empty slot is all zero), and
//   loc = page (bits 0..39) | hits (40..47); bits 48..63 are 0 (room for a later field)
//   seq = region generation (bits 0..47); bits 48..63 are 0
struct Slot {
  std::uint64_t k0;  // key bytes 0..7 and 8..15, in memory order
  std::uint64_t k1;
  std::uint32_t ns;
  std::uint32_t size;
  std::uint64_t loc;
  std::uint64_t seq;
};
static_assert(sizeof(Slot) == 40, "a slot is 40 bytes: the memory budget depends on it");

constexpr std::uint64_t kPageMask = kMaxIndexPage;
constexpr unsigned kHitsShift = 40;

// The key as two words in memory order: compared, never interpreted, so no byte swap.
struct KeyWords {
  std::uint64_t k0;
  std::uint64_t k1;
};
inline KeyWords words_of(const Key& key) {
  KeyWords w;
  std::memcpy(&w.k0, key.bytes.data(), 8);
  std::memcpy(&w.k1, key.bytes.data() + 8, 8);
  return w;
}

inline bool slot_empty(const Slot& s) { return s.size == 0; }
inline bool slot_is(const Slot& s, NamespaceId ns, const KeyWords& w) {
  return s.k0 == w.k0 && s.k1 == w.k1 && s.ns == ns && !slot_empty(s);
}
inline std::uint8_t slot_hits(const Slot& s) { return static_cast<std::uint8_t>(s.loc >> kHitsShift); }

inline Location slot_location(const Slot& s) {
  return Location{s.loc & kPageMask, s.size, slot_hits(s), s.seq};
}

inline BlockId slot_id(const Slot& s) {
  BlockId id;
  id.ns = s.ns;
  std::memcpy(id.key.bytes.data(), &s.k0, 8);
  std::memcpy(id.key.bytes.data() + 8, &s.k1, 8);
  return id;
}

inline Slot make_slot(const BlockId& id, const Location& loc) {
  const KeyWords w = words_of(id.key);
  return Slot{w.k0, w.k1, id.ns, loc.size,
              loc.page | (std::uint64_t{loc.hits} << kHitsShift), loc.seq};
}

inline void set_hits(Slot& s, std::uint8_t hits) {
  s.loc = (s.loc & ~(std::uint64_t{0xFF} << kHitsShift)) | (std::uint64_t{hits} << kHitsShift);
}

inline std::uint64_t slot_hash(const Slot& s) { return id_hash(slot_id(s)); }

// Home slot: fastrange (Lemire) of the hash; any capacity works. The shard takes the hash's low
// bits, fastrange mostly its high ones.
inline std::uint64_t home_of(std::uint64_t hash, std::uint64_t capacity) {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(hash) * capacity) >> 64);
}

// ---- Table sizing ---------------------------------------------------------------------------

constexpr std::uint64_t kInitialCapacity = 64;

// Load stays <= 4/5.
inline bool fits(std::uint64_t entries, std::uint64_t capacity) {
  return entries * 5 <= capacity * 4;
}
inline std::uint64_t grown(std::uint64_t capacity) { return capacity + capacity / 2; }

inline std::uint64_t capacity_for(std::uint64_t entries) {
  std::uint64_t cap = kInitialCapacity;
  while (!fits(entries, cap)) cap = grown(cap);
  return cap;
}

// Slot arrays: zeroed. Large ones (few shards over many entries) come straight from mmap,
// page-rounded (memory_bytes() ignores the < 4 KiB per shard), and are marked for transparent
// huge pages, which spares random probes most TLB misses.
constexpr std::size_t kMmapThreshold = std::size_t{2} << 20;
constexpr std::size_t kPage = 4096;

inline std::size_t mapped_bytes(std::uint64_t capacity) {
  return (capacity * sizeof(Slot) + kPage - 1) & ~(kPage - 1);
}

Slot* alloc_slots(std::uint64_t capacity) {
  const std::size_t bytes = capacity * sizeof(Slot);
  void* p = nullptr;
  if (bytes >= kMmapThreshold) {
    p = ::mmap(nullptr, mapped_bytes(capacity), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
               -1, 0);
    if (p == MAP_FAILED) p = nullptr;
    if (p != nullptr) (void)::madvise(p, mapped_bytes(capacity), MADV_HUGEPAGE);
  } else {
    p = std::calloc(capacity, sizeof(Slot));
  }
  // Out of memory for the index leaves no sane way to keep the tier consistent.
  KVTIER_CHECK(p != nullptr);
  return static_cast<Slot*>(p);
}

void free_slots(Slot* slots, std::uint64_t capacity) {
  if (slots == nullptr) return;
  if (capacity * sizeof(Slot) >= kMmapThreshold) {
    ::munmap(slots, mapped_bytes(capacity));
  } else {
    std::free(slots);
  }
}

// Linear probe from the home slot: the index of the slot holding (ns, w), or capacity when absent.
inline std::uint64_t find_slot(const Slot* slots, std::uint64_t capacity, std::uint64_t hash,
                               NamespaceId ns, const KeyWords& w) {
  std::uint64_t i = home_of(hash, capacity);
  for (;;) {
    const Slot& s = slots[i];
    if (slot_empty(s)) return capacity;
    if (slot_is(s, ns, w)) return i;
    if (++i == capacity) i = 0;
  }
}

// ---- Image encoding -------------------------------------------------------------------------

constexpr char kMagic[8] = {'K', 'V', 'T', 'I', 'D', 'X', '0', '1'};
constexpr std::size_t kHeaderBytes = 8 + 4 + 8;
constexpr std::size_t kEntryBytes = 16 + 4 + 4 + 8 + 8;
constexpr std::size_t kTrailerBytes = 8;

}  // namespace

// ---- Shard ----------------------------------------------------------------------------------

// One independently locked table. Cache-line aligned so neighbouring shards' locks do not share
// a line.
struct alignas(64) Index::Shard {
  Mutex mu;
  Slot* slots KVTIER_GUARDED_BY(mu) = nullptr;
  std::uint64_t capacity KVTIER_GUARDED_BY(mu) = 0;
  std::uint64_t count KVTIER_GUARDED_BY(mu) = 0;

  explicit Shard(std::uint64_t cap) : slots(alloc_slots(cap)), capacity(cap) {}
  ~Shard() { free_slots(slots, capacity); }
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Index of the slot holding the id, or capacity when absent.
  std::uint64_t find(std::uint64_t hash, const BlockId& id) const KVTIER_REQUIRES(mu) {
    return find_slot(slots, capacity, hash, id.ns, words_of(id.key));
  }

  // REQUIRES: the slot's id absent, room for one more. Places the slot at the first free slot
  // from its home.
  void place(const Slot& slot, std::uint64_t hash) KVTIER_REQUIRES(mu) {
    std::uint64_t i = home_of(hash, capacity);
    while (!slot_empty(slots[i])) {
      if (++i == capacity) i = 0;
    }
    slots[i] = slot;
  }

  // Grows by 1.5x when one more entry would push the load past 0.8.
  void reserve_one() KVTIER_REQUIRES(mu) {
    if (fits(count + 1, capacity)) return;
    const std::uint64_t old_cap = capacity;
    Slot* old = slots;
    capacity = grown(old_cap);
    slots = alloc_slots(capacity);
    for (std::uint64_t i = 0; i < old_cap; ++i) {
      if (!slot_empty(old[i])) place(old[i], slot_hash(old[i]));
    }
    free_slots(old, old_cap);
  }

  // REQUIRES: i occupied. Empties slot i and shifts later slots of its cluster back so every
  // entry stays reachable from its home without tombstones.
  void erase_at(std::uint64_t i) KVTIER_REQUIRES(mu) {
    std::uint64_t j = i;
    for (;;) {
      if (++j == capacity) j = 0;
      const Slot& s = slots[j];
      if (slot_empty(s)) break;
      const std::uint64_t home = home_of(slot_hash(s), capacity);
      // The entry at j may move to the hole at i unless its home lies cyclically in (i, j].
      const std::uint64_t dist_home = j >= home ? j - home : j + capacity - home;
      const std::uint64_t dist_hole = j >= i ? j - i : j + capacity - i;
      if (dist_home >= dist_hole) {
        slots[i] = s;
        i = j;
      }
    }
    slots[i] = Slot{};
    --count;
  }
};

// ---- Index ----------------------------------------------------------------------------------

Index::Index(std::uint32_t shards) : shard_mask_(shards - 1) {
  KVTIER_CHECK(shards > 0 && std::has_single_bit(shards));
  shards_.reserve(shards);
  for (std::uint32_t i = 0; i < shards; ++i) {
    shards_.push_back(std::make_unique<Shard>(kInitialCapacity));
  }
}

Index::~Index() = default;

std::optional<Location> Index::lookup(const BlockId& id, bool count_hit) {
  const std::uint64_t h = id_hash(id);
  Shard& sh = *shards_[h & shard_mask_];
  MutexLock lock(sh.mu);
  const std::uint64_t i = sh.find(h, id);
  if (i == sh.capacity) return std::nullopt;
  Slot& s = sh.slots[i];
  if (count_hit) {
    const std::uint8_t hits = slot_hits(s);
    if (hits != 0xFF) set_hits(s, static_cast<std::uint8_t>(hits + 1));
  }
  return slot_location(s);
}

void Index::probe(NamespaceId ns, std::span<const Key> keys, std::span<std::uint8_t> found) {
  KVTIER_CHECK(found.size() >= keys.size());
  const std::size_t n = keys.size();
  if (n == 0) return;
  const std::size_t nshards = shards_.size();
  const std::uint32_t mask = shard_mask_;

  // Per-thread scratch, so a warm probe allocates nothing. The loops below use raw local
  // pointers: `found` is a byte array, and a store through it could alias anything the compiler
  // would otherwise have to reload.
  struct Item {
    std::uint64_t hash;
    std::uint64_t pos;  // index into keys
  };
  thread_local std::vector<std::uint64_t> hash_buf;
  thread_local std::vector<Item> item_buf;
  thread_local std::vector<std::size_t> start_buf;
  hash_buf.resize(n);
  item_buf.resize(n);
  start_buf.assign(nshards + 1, 0);
  std::uint64_t* const hashes = hash_buf.data();
  Item* const items = item_buf.data();
  std::size_t* const starts = start_buf.data();
  std::uint8_t* const out = found.data();
  const Key* const in = keys.data();

  // Pass 1: hash every key.
  id_hash_many(ns, keys, hash_buf);
  for (std::size_t i = 0; i < n; ++i) ++starts[(hashes[i] & mask) + 1];
  // Pass 2: group by shard (counting sort), so each shard is locked once.
  for (std::size_t s = 0; s < nshards; ++s) starts[s + 1] += starts[s];
  // After this loop starts[s] is the end of shard s's group (its start is starts[s-1] or 0).
  for (std::size_t i = 0; i < n; ++i) items[starts[hashes[i] & mask]++] = Item{hashes[i], i};
  // Pass 3: probe shard by shard, prefetching home slots kWindow keys ahead. The table is far
  // larger than the caches, so nearly every home is a cache miss; the prefetches keep many in
  // flight. Prefetching every home in pass 1 instead (through racy copies of the table pointers)
  // measured slower.
  constexpr std::size_t kWindow = 16;
  std::size_t begin = 0;
  for (std::size_t s = 0; s < nshards; ++s) {
    const std::size_t end = starts[s];
    if (begin == end) continue;
    Shard& sh = *shards_[s];
    MutexLock lock(sh.mu);
    const Slot* const slots = sh.slots;
    const std::uint64_t cap = sh.capacity;
    for (std::size_t i = begin; i < std::min(end, begin + kWindow); ++i) {
      __builtin_prefetch(slots + home_of(items[i].hash, cap));
    }
    for (std::size_t i = begin; i < end; ++i) {
      if (i + kWindow < end) __builtin_prefetch(slots + home_of(items[i + kWindow].hash, cap));
      const std::size_t pos = items[i].pos;
      out[pos] = find_slot(slots, cap, items[i].hash, ns, words_of(in[pos])) != cap ? 1 : 0;
    }
    begin = end;
  }
}

std::optional<Location> Index::insert(const BlockId& id, const Location& loc) {
  KVTIER_CHECK(loc.size > 0);
  KVTIER_CHECK(loc.page <= kMaxIndexPage);
  KVTIER_CHECK(loc.seq <= kMaxIndexSeq);
  const std::uint64_t h = id_hash(id);
  Shard& sh = *shards_[h & shard_mask_];
  MutexLock lock(sh.mu);
  const std::uint64_t i = sh.find(h, id);
  Location fresh = loc;
  fresh.hits = 0;
  const Slot slot = make_slot(id, fresh);
  if (i != sh.capacity) {
    const Location old = slot_location(sh.slots[i]);
    sh.slots[i] = slot;
    return old;
  }
  sh.reserve_one();
  sh.place(slot, h);
  ++sh.count;
  return std::nullopt;
}

std::optional<Location> Index::remove(const BlockId& id) {
  const std::uint64_t h = id_hash(id);
  Shard& sh = *shards_[h & shard_mask_];
  MutexLock lock(sh.mu);
  const std::uint64_t i = sh.find(h, id);
  if (i == sh.capacity) return std::nullopt;
  const Location old = slot_location(sh.slots[i]);
  sh.erase_at(i);
  return old;
}

std::optional<Location> Index::remove_if_at(const BlockId& id, std::uint64_t page) {
  const std::uint64_t h = id_hash(id);
  Shard& sh = *shards_[h & shard_mask_];
  MutexLock lock(sh.mu);
  const std::uint64_t i = sh.find(h, id);
  if (i == sh.capacity || (sh.slots[i].loc & kPageMask) != page) return std::nullopt;
  const Location old = slot_location(sh.slots[i]);
  sh.erase_at(i);
  return old;
}

void Index::remove_where(const std::function<bool(const BlockId&, const Location&)>& drop,
                         const std::function<void(const BlockId&, const Location&)>& gone) {
  std::vector<BlockId> doomed;
  for (const auto& shp : shards_) {
    Shard& sh = *shp;
    MutexLock lock(sh.mu);
    doomed.clear();
    for (std::uint64_t i = 0; i < sh.capacity; ++i) {
      const Slot& s = sh.slots[i];
      if (!slot_empty(s) && drop(slot_id(s), slot_location(s))) doomed.push_back(slot_id(s));
    }
    // Erasing shifts slots back, so the ids are found again one by one.
    for (const BlockId& id : doomed) {
      const std::uint64_t i = sh.find(id_hash(id), id);
      gone(id, slot_location(sh.slots[i]));
      sh.erase_at(i);
    }
  }
}

void Index::visit(const std::function<void(const BlockId&, const Location&)>& f) const {
  for (const auto& sh : shards_) {
    MutexLock lock(sh->mu);
    for (std::uint64_t i = 0; i < sh->capacity; ++i) {
      const Slot& s = sh->slots[i];
      if (!slot_empty(s)) f(slot_id(s), slot_location(s));
    }
  }
}

std::size_t Index::size() const {
  std::size_t total = 0;
  for (const auto& sh : shards_) {
    MutexLock lock(sh->mu);
    total += sh->count;
  }
  return total;
}

std::size_t Index::memory_bytes() const {
  std::size_t total = sizeof(Index) + shards_.capacity() * sizeof(shards_[0]);
  for (const auto& sh : shards_) {
    MutexLock lock(sh->mu);
    total += sh->capacity * sizeof(Slot) + sizeof(Shard);
  }
  return total;
}

void Index::clear() {
  for (const auto& sh : shards_) {
    Slot* fresh = alloc_slots(kInitialCapacity);
    MutexLock lock(sh->mu);
    free_slots(sh->slots, sh->capacity);
    sh->slots = fresh;
    sh->capacity = kInitialCapacity;
    sh->count = 0;
  }
}

std::vector<std::byte> Index::serialize() const {
  std::vector<std::byte> out;
  // A little slack for entries inserted while the shards are copied.
  const std::size_t entries = size();
  out.reserve(kHeaderBytes + kTrailerBytes + (entries + entries / 64 + 64) * kEntryBytes);
  for (char c : kMagic) out.push_back(static_cast<std::byte>(c));
  append_le<std::uint32_t>(out, kIndexFormatVersion);
  const std::size_t count_at = out.size();
  append_le<std::uint64_t>(out, 0);  // the entry count, known once every shard is copied
  std::uint64_t count = 0;
  for (const auto& sh : shards_) {
    MutexLock lock(sh->mu);
    for (std::uint64_t i = 0; i < sh->capacity; ++i) {
      const Slot& s = sh->slots[i];
      if (slot_empty(s)) continue;
      const BlockId id = slot_id(s);
      const auto* key = reinterpret_cast<const std::byte*>(id.key.bytes.data());
      out.insert(out.end(), key, key + 16);
      append_le<std::uint32_t>(out, s.ns);
      append_le<std::uint32_t>(out, s.size);
      append_le<std::uint64_t>(out, s.loc);
      append_le<std::uint64_t>(out, s.seq);
      ++count;
    }
  }
  store_le<std::uint64_t>(out.data() + count_at, count);
  append_le<std::uint64_t>(out, block_checksum(out));
  return out;
}

Status Index::restore(std::span<const std::byte> image) {
  const std::string what = "nvme index image: ";
  if (image.size() < kHeaderBytes + kTrailerBytes) {
    return Status::Corruption(what + "truncated (" + std::to_string(image.size()) + " bytes)");
  }
  if (std::memcmp(image.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::Corruption(what + "bad magic (not a KVTIDX01 image)");
  }
  const std::uint32_t version = load_le<std::uint32_t>(image.data() + 8);
  if (version != kIndexFormatVersion) {
    return Status::Corruption(what + "unsupported format version " + std::to_string(version) +
                              " (expected " + std::to_string(kIndexFormatVersion) + ")");
  }
  const std::size_t body = image.size() - kTrailerBytes;
  const std::uint64_t stored_sum = load_le<std::uint64_t>(image.data() + body);
  if (block_checksum(image.first(body)) != stored_sum) {
    return Status::Corruption(what + "checksum mismatch");
  }
  const std::uint64_t count = load_le<std::uint64_t>(image.data() + 12);
  if (count != (body - kHeaderBytes) / kEntryBytes || (body - kHeaderBytes) % kEntryBytes != 0) {
    return Status::Corruption(what + std::to_string(count) + " entries do not fill " +
                              std::to_string(body - kHeaderBytes) + " bytes");
  }

  // Decode and place every entry aside; the live content changes only once all have verified.
  const std::uint32_t nshards = static_cast<std::uint32_t>(shards_.size());
  std::vector<Slot> decoded(count);
  std::vector<std::uint64_t> hashes(count);
  std::vector<std::uint64_t> per_shard(nshards, 0);
  for (std::uint64_t e = 0; e < count; ++e) {
    const std::byte* p = image.data() + kHeaderBytes + e * kEntryBytes;
    BlockId id;
    std::memcpy(id.key.bytes.data(), p, 16);
    id.ns = load_le<NamespaceId>(p + 16);
    const std::uint32_t size = load_le<std::uint32_t>(p + 20);
    const std::uint64_t loc = load_le<std::uint64_t>(p + 24);
    const std::uint64_t seq = load_le<std::uint64_t>(p + 32);
    if (size == 0 || (loc >> (kHitsShift + 8)) != 0 || seq > kMaxIndexSeq) {
      return Status::Corruption(what + "entry " + std::to_string(e) + " is malformed");
    }
    decoded[e] = Slot{0, 0, id.ns, size, loc, seq};
    const KeyWords w = words_of(id.key);
    decoded[e].k0 = w.k0;
    decoded[e].k1 = w.k1;
    hashes[e] = id_hash(id);
    ++per_shard[hashes[e] & shard_mask_];
  }
  std::vector<std::unique_ptr<Shard>> fresh;
  fresh.reserve(nshards);
  for (std::uint32_t s = 0; s < nshards; ++s) {
    fresh.push_back(std::make_unique<Shard>(capacity_for(per_shard[s])));
  }
  for (std::uint64_t e = 0; e < count; ++e) {
    Shard& sh = *fresh[hashes[e] & shard_mask_];
    MutexLock lock(sh.mu);  // uncontended: the fresh shards are this call's alone
    if (sh.find(hashes[e], slot_id(decoded[e])) != sh.capacity) {
      return Status::Corruption(what + "duplicate id (entry " + std::to_string(e) + ")");
    }
    sh.place(decoded[e], hashes[e]);
    ++sh.count;
  }

  for (std::uint32_t s = 0; s < nshards; ++s) {
    Shard& live = *shards_[s];
    Shard& next = *fresh[s];
    MutexLock lock(live.mu);
    MutexLock lock_next(next.mu);  // uncontended, as above
    std::swap(live.slots, next.slots);
    std::swap(live.capacity, next.capacity);
    std::swap(live.count, next.count);
  }  // `fresh` now owns the old tables and frees them outside the locks.
  return Status::Ok();
}

}  // namespace kvtier::nvme
