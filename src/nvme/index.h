// nvme::Index: the compact in-memory index of the NVMe tier: BlockId -> where its entry is.
//
// Each entry is one 16-byte slot in an open-addressing table (linear probing, backward-shift
// deletion), split into shards each with its own mutex. A slot keeps a 48-bit tag of the block id
// rather than the full key: the full (ns, key) is in the on-device entry header and is verified on
// every read, so a tag collision (probability ~2^-48 per probe) can only cost a miss, never wrong
// bytes. Bytes per entry = 16 / load factor; tables grow by 1.5x at load 0.8, so it stays within
// 20..30 bytes once past a few thousand entries.
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
// value size in bytes, and how often it was read since it was written (saturates at 255).
struct Location {
  std::uint64_t page = 0;  // < 2^40
  std::uint32_t size = 0;  // > 0
  std::uint8_t hits = 0;
  friend bool operator==(const Location&, const Location&) = default;
};

inline constexpr std::uint64_t kMaxIndexPage = (std::uint64_t{1} << 40) - 1;

// Version of the serialize() image. Bump on any change to the image or to how tags are derived
// (tags are persisted, so tag_of() is part of the format).
inline constexpr std::uint32_t kIndexFormatVersion = 1;

// The part of a BlockId the index keeps and the shard it lives in, derived deterministically.
struct IndexTag {
  std::uint64_t tag = 0;    // 48 bits
  std::uint32_t shard = 0;
};

class Index {
 public:
  // shards: a power of two (checked).
  explicit Index(std::uint32_t shards);
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  IndexTag tag_of(const BlockId& id) const;

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

  std::size_t size() const;
  // Bytes of memory the tables hold (slot arrays plus shard headers).
  std::size_t memory_bytes() const;

  // Persistence for warm restart: a self-describing byte image (with its own checksum) and its
  // inverse. restore() replaces the whole content; Corruption when the image does not verify.
  //
  // Image (all integers little-endian; bump kIndexFormatVersion on any change):
  //   "KVTIDX01" | u32 version | u32 shard count
  //   per shard: u64 capacity | u64 entry count | entry count x 16-byte slot (occupied slots only:
  //              u64 tag(48) | hits(8) << 48 | page bits 32..39 << 56,
  //              u64 size(32) | page bits 0..31 << 32)
  //   u64 XXH3-64 (block_checksum) of every byte before it.
  // Each shard is copied under its own lock: concurrent writers may land in some shards' copies
  // and not others'. restore() verifies everything before it touches the content (on error the
  // index is unchanged) and re-packs each shard to fit its entries; an image with a different
  // shard count is InvalidArgument (slots keep no shard bits, so they cannot be re-sharded).
  std::vector<std::byte> serialize() const;
  Status restore(std::span<const std::byte> image);

  void clear();

 private:
  struct Shard;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::uint32_t shard_mask_;
};

}  // namespace kvtier::nvme
