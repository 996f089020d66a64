// nvme::Index: the compact in-memory index of the NVMe tier: BlockId -> where its entry is.
//
// Each entry is one 40-byte slot in an open-addressing table (linear probing, backward-shift
// deletion), split into shards each with its own mutex. A slot holds the whole id (namespace and
// key) and every operation compares the whole id, so no id can find, replace or remove another's
// entry, whatever keys a client chooses. The shard and the home slot come from id_hash(), a hash
// keyed per process, so a client cannot aim keys at one cluster either (engine/id_hash.h).
// A slot also holds the generation of the region its entry was written into: a reader checks it
// against the region's current generation before any device I/O, so an entry left behind by a
// region that was since reused is refused before a byte of the new occupant is read.
// Bytes per entry = 40 / load factor; tables grow by 1.5x at load 0.8, so it stays within
// 50..75 bytes once past a few thousand entries.
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "kvtier/key.h"
#include "kvtier/status.h"

namespace kvtier::nvme {

// Where an entry lives: the device page (4 KiB unit, global over all devices) of its header, the
// value size in bytes, how often it was read since it was written (saturates at 255), and the
// generation (Region::seq) of the region when the entry was written into it.
struct Location {
  std::uint64_t page = 0;  // <= kMaxIndexPage
  std::uint32_t size = 0;  // > 0
  std::uint8_t hits = 0;
  std::uint64_t seq = 0;   // <= kMaxIndexSeq
  friend bool operator==(const Location&, const Location&) = default;
  // The same entry: the same page in the same region generation (its hits change as it is read,
  // so == is not the test). A put or removal of the id since gives another entry, or none.
  bool same_entry(const Location& other) const { return page == other.page && seq == other.seq; }
  // Written after `other`: the tier hands region generations out in increasing order and fills a
  // region front to back.
  bool written_after(const Location& other) const {
    return seq != other.seq ? seq > other.seq : page > other.page;
  }
};

inline constexpr std::uint64_t kMaxIndexPage = (std::uint64_t{1} << 40) - 1;
// 2^48 region generations: a region opened every microsecond would take 8 years to get there.
inline constexpr std::uint64_t kMaxIndexSeq = (std::uint64_t{1} << 48) - 1;

// Version of the serialize() image. Bump on any change to the image.
// 1 (until 727dc88): 16-byte slots of a 48-bit tag; 2: whole ids and generations.
inline constexpr std::uint32_t kIndexFormatVersion = 2;

class Index {
 public:
  // shards: a power of two (checked).
  explicit Index(std::uint32_t shards);
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // The entry's location, counting a hit (saturating) when count_hit.
  std::optional<Location> lookup(const BlockId& id, bool count_hit);
  // found[i] = 1 when (ns, keys[i]) has an entry; locks each shard once per call.
  void probe(NamespaceId ns, std::span<const Key> keys, std::span<std::uint8_t> found);
  // Inserts or replaces; hits start at 0. Returns the location it replaced, if any.
  std::optional<Location> insert(const BlockId& id, const Location& loc);
  // Removes; returns the location it had.
  std::optional<Location> remove(const BlockId& id);
  // Removes only if the entry still sits at `page` (a reclaimed region must not drop a newer copy
  // written elsewhere). Returns the removed location.
  std::optional<Location> remove_if_at(const BlockId& id, std::uint64_t page);
  // Removes every entry for which drop(id, location) is true, calling gone(id, location) for each
  // (under its shard's lock: neither may lock anything). O(capacity): for error paths, such as a
  // region whose entries cannot be listed.
  void remove_where(const std::function<bool(const BlockId&, const Location&)>& drop,
                    const std::function<void(const BlockId&, const Location&)>& gone);

  // Calls f(id, location) for every entry, a shard at a time under its lock (f may not lock).
  void visit(const std::function<void(const BlockId&, const Location&)>& f) const;

  std::size_t size() const;
  // Bytes of memory the tables hold (slot arrays plus shard headers).
  std::size_t memory_bytes() const;

  // Persistence for warm restart: a self-describing byte image (with its own checksum) and its
  // inverse. restore() replaces the whole content; Corruption when the image does not verify.
  //
  // Image (all integers little-endian; bump kIndexFormatVersion on any change):
  //   "KVTIDX01" | u32 version | u64 entry count
  //   entry count x 40-byte entry: key[16] | u32 ns | u32 size | u64 page(40) | hits(8) << 40 |
  //                                u64 seq(48)   (the upper bits of both u64 are 0)
  //   u64 XXH3-64 (block_checksum) of every byte before it.
  // Placement (id_hash's per-process key, the shard count) is not in the image: restore()
  // re-hashes every id, so an image loads into an index of any shard count. Each shard is copied
  // under its own lock: concurrent writers may land in some shards' copies and not others'.
  // restore() verifies everything before it touches the content (on error the index is
  // unchanged).
  std::vector<std::byte> serialize() const;
  Status restore(std::span<const std::byte> image);

  void clear();

 private:
  struct Shard;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::uint32_t shard_mask_;
};

}  // namespace kvtier::nvme
