// On-device layout of the NVMe tier. docs/NVME_FORMAT.md describes the same layout for people;
// change both together and bump kNvmeFormatVersion on any change to a struct below.
//
// Device:   [superblock page][region 0][region 1]...[region n-1]
// Region:   [region start][entry or tombstone]... (gap) [summary entries ... summary trailer]
// Entry:    [header page (EntryHeader + padding)][value, padded to whole pages]
// Every value starts on a 4 KiB boundary so an O_DIRECT read can land in a caller's buffer with no
// bounce copy; the header is kept on its own page for the same reason.
//
// Records are ordered by (region generation, page): generations are handed out in increasing
// order and a region is filled front to back. Recovery applies them in that order, so a newer
// entry of a key replaces an older one and a tombstone (a removal) erases it.
//
// Version rule: format 2 reads format 1 (kOldestReadableFormat): its entry headers are format 2's
// first 56 bytes followed by their checksum, its summary entries 32 bytes with no flags. A set of
// format 1 has its superblocks raised to format 2 at its first start, so an older build refuses it
// rather than misreading the tombstones in it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "integrity/checksum.h"
#include "kvtier/key.h"
#include "memory/aligned_buffer.h"

namespace kvtier::nvme {

inline constexpr std::uint32_t kNvmeFormatVersion = 2;
// 1 (until format 2, issue 27): no tombstones, no region start records, 64-byte entry headers.
inline constexpr std::uint32_t kOldestReadableFormat = 1;

// "KVTNVME1" read as a little-endian u64: identifies a kvtier superblock.
inline constexpr std::uint64_t kSuperblockMagic = 0x31454d56544e564bull;
// "KVTE", "KVTS" as little-endian u32: entry header and region summary trailer.
inline constexpr std::uint32_t kEntryMagic = 0x4554564bu;
inline constexpr std::uint32_t kSummaryMagic = 0x5354564bu;

// Page 0 of every device. Written once when the device set is formatted.
struct Superblock {
  std::uint64_t magic;
  std::uint32_t format_version;
  std::uint32_t device_index;   // position of this device in the set
  std::uint32_t device_count;
  std::uint32_t reserved0;
  std::uint64_t region_size;    // bytes
  std::uint64_t region_count;   // regions on this device
  std::uint64_t device_bytes;   // bytes of the device in use
  std::uint64_t format_id;      // random per format; also in every entry and summary
  std::uint64_t checksum;       // XXH3-64 of the bytes above
};
static_assert(sizeof(Superblock) == 64, "Superblock layout is pinned; bump kNvmeFormatVersion");

// EntryHeader::flags and SummaryEntry::flags. A record without kTombstone or kRegionStart is an
// entry with a value.
enum EntryFlag : std::uint16_t {
  // A removal of (ns, key): value_size and value_checksum 0, no value pages. Erases every older
  // record of the id at recovery.
  kTombstone = 1,
  // Page 0 of every region of format 2: ns, key, value_size 0. Written to the device when the
  // region is opened, before its records, so the records of the generation it replaces are dead
  // for recovery from then on (they are not of the region's first generation).
  kRegionStart = 2,
  // An entry written while the tier held an older entry of the id (in an older region): dropping
  // it before that region would let recovery find the older bytes (see RegionReclaimPolicy).
  kShadowsOlder = 4,
};
inline constexpr std::uint16_t kKnownEntryFlags = kTombstone | kRegionStart | kShadowsOlder;

// First page of every record; an entry's value follows on the next page.
struct EntryHeader {
  std::uint32_t magic;
  std::uint16_t format_version;
  std::uint16_t flags;            // EntryFlag bits
  std::uint32_t ns;               // NamespaceId
  std::uint32_t value_size;       // bytes; > 0 for an entry, 0 for a tombstone or region start
  std::uint8_t key[16];
  std::uint64_t format_id;        // the device set's format id
  std::uint64_t region_seq;       // generation of the region when the record was written
  std::uint64_t value_checksum;   // XXH3-64 of the value bytes (0 without a value)
  // Where the block sits in the chain it was put with (1 = a chain's head), 0 when not known.
  // Kept for chain-aware eviction (issue 30), which reads it back from here and the summary.
  std::uint32_t chain_position;
  std::uint32_t reserved0;        // 0
  std::uint8_t reserved[56];      // 0; a later format may use them (and raise the version)
  std::uint64_t header_checksum;  // XXH3-64 of the bytes above
};
static_assert(sizeof(EntryHeader) == 128, "EntryHeader layout is pinned; bump kNvmeFormatVersion");
// Format 1's header: the first 56 bytes of EntryHeader (flags 0), then its XXH3-64.
inline constexpr std::size_t kEntryHeaderV1Body = 56;
static_assert(offsetof(EntryHeader, chain_position) == kEntryHeaderV1Body);

// One per record in a sealed region's summary: enough to rebuild the index and to reclaim the
// region without reading entry headers.
struct SummaryEntry {
  std::uint8_t key[16];
  std::uint32_t ns;
  std::uint32_t value_size;
  std::uint32_t page_in_region;  // page of the record's header
  std::uint16_t flags;           // EntryFlag bits, as in the header
  std::uint16_t reserved0;       // 0
  std::uint32_t chain_position;  // as in the header
  std::uint32_t reserved1;       // 0
};
static_assert(sizeof(SummaryEntry) == 40, "SummaryEntry layout is pinned; bump kNvmeFormatVersion");
// Format 1's summary entry: key, ns, value_size, page_in_region, a reserved u32.
inline constexpr std::size_t kSummaryEntryV1Bytes = 32;

// The last 64 bytes of a sealed region. The summary entries end where the trailer starts and
// occupy the region's last `summary_pages` pages.
struct SummaryTrailer {
  std::uint32_t magic;
  std::uint32_t format_version;
  std::uint64_t format_id;
  std::uint64_t region_seq;
  std::uint32_t entry_count;
  std::uint32_t summary_pages;
  std::uint64_t entries_checksum;  // XXH3-64 of the summary entries
  std::uint64_t reserved0;
  std::uint64_t reserved1;
  std::uint64_t trailer_checksum;  // XXH3-64 of the bytes above
};
static_assert(sizeof(SummaryTrailer) == 64, "SummaryTrailer layout is pinned; bump kNvmeFormatVersion");

// Pages a summary of `entries` entries of `entry_bytes` needs (always at least one, for the
// trailer).
constexpr std::uint64_t summary_pages_for(std::uint64_t entries,
                                          std::uint64_t entry_bytes = sizeof(SummaryEntry)) {
  return (entries * entry_bytes + sizeof(SummaryTrailer) + kPageSize - 1) / kPageSize;
}

// Summary entry bytes of a format version (1 or 2).
constexpr std::uint64_t summary_entry_bytes(std::uint32_t format_version) {
  return format_version == 1 ? kSummaryEntryV1Bytes : sizeof(SummaryEntry);
}

// Bytes a record with a value of `value_size` takes in a region: its header page plus its padded
// value (one page for a tombstone or region start).
constexpr std::uint64_t entry_footprint(std::uint64_t value_size) {
  return kPageSize + round_up_to_page(value_size);
}

// Largest value a region of `region_size` bytes can hold (its start record, one entry and a
// one-page summary).
constexpr std::uint64_t max_value_for_region(std::uint64_t region_size) {
  return region_size - 3 * kPageSize;
}

inline std::uint64_t header_checksum(const EntryHeader& h) {
  return block_checksum({reinterpret_cast<const std::byte*>(&h), offsetof(EntryHeader, header_checksum)});
}

// Decodes the record header at the start of `page` (format 1 or 2) into format 2's layout. False
// unless the magic, version, checksum and flags are valid and the sizes agree with the flags;
// the caller checks format_id, generation, id and size against what it expects.
inline bool decode_entry_header(const std::byte* page, EntryHeader* h) {
  std::memcpy(h, page, sizeof *h);
  if (h->magic != kEntryMagic) return false;
  if (h->format_version == 1) {
    std::uint64_t stored;
    std::memcpy(&stored, page + kEntryHeaderV1Body, sizeof stored);
    if (stored != block_checksum({page, kEntryHeaderV1Body}) || h->flags != 0) return false;
    std::memset(reinterpret_cast<std::byte*>(h) + kEntryHeaderV1Body, 0,
                sizeof *h - kEntryHeaderV1Body);
    // Format 1 did not mark entries that hide older ones: every one is taken to.
    h->flags = kShadowsOlder;
    return h->value_size > 0;
  }
  if (h->format_version != kNvmeFormatVersion || h->header_checksum != header_checksum(*h) ||
      (h->flags & ~kKnownEntryFlags) != 0) {
    return false;
  }
  const bool valueless = (h->flags & (kTombstone | kRegionStart)) != 0;
  return valueless ? h->value_size == 0 && h->value_checksum == 0 : h->value_size > 0;
}

inline std::uint64_t trailer_checksum(const SummaryTrailer& t) {
  return block_checksum({reinterpret_cast<const std::byte*>(&t), offsetof(SummaryTrailer, trailer_checksum)});
}

inline SummaryEntry summary_of(const BlockId& id, std::uint32_t size, std::uint32_t page_in_region,
                               std::uint16_t flags = 0, std::uint32_t chain_position = 0) {
  SummaryEntry e{};
  std::memcpy(e.key, id.key.bytes.data(), 16);
  e.ns = id.ns;
  e.value_size = size;
  e.page_in_region = page_in_region;
  e.flags = flags;
  e.chain_position = chain_position;
  return e;
}

// A summary entry of an entry with a value (not a tombstone or region start).
inline bool has_value(const SummaryEntry& e) { return (e.flags & (kTombstone | kRegionStart)) == 0; }

inline BlockId block_id_of(const SummaryEntry& e) {
  BlockId id;
  id.ns = e.ns;
  std::memcpy(id.key.bytes.data(), e.key, 16);
  return id;
}

}  // namespace kvtier::nvme
