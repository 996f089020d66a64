// On-device layout of the NVMe tier. docs/NVME_FORMAT.md describes the same layout for people;
// change both together and bump kNvmeFormatVersion on any change to a struct below.
//
// Device:   [superblock page][region 0][region 1]...[region n-1]
// Region:   [entry][entry]...[entry] (gap) [summary entries ... summary trailer]
// Entry:    [header page (EntryHeader + padding)][value, padded to whole pages]
// Every value starts on a 4 KiB boundary so an O_DIRECT read can land in a caller's buffer with no
// bounce copy; the header is kept on its own page for the same reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "integrity/checksum.h"
#include "kvtier/key.h"
#include "memory/aligned_buffer.h"

namespace kvtier::nvme {

inline constexpr std::uint32_t kNvmeFormatVersion = 1;

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

// First page of every entry. The value follows on the next page.
struct EntryHeader {
  std::uint32_t magic;
  std::uint16_t format_version;
  std::uint16_t flags;            // 0; reserved
  std::uint32_t ns;               // NamespaceId
  std::uint32_t value_size;       // bytes, > 0
  std::uint8_t key[16];
  std::uint64_t format_id;        // the device set's format id
  std::uint64_t region_seq;       // generation of the region when the entry was written
  std::uint64_t value_checksum;   // XXH3-64 of the value bytes
  std::uint64_t header_checksum;  // XXH3-64 of the bytes above
};
static_assert(sizeof(EntryHeader) == 64, "EntryHeader layout is pinned; bump kNvmeFormatVersion");

// One per entry in a sealed region's summary: enough to rebuild the index and to reclaim the
// region without reading entry headers.
struct SummaryEntry {
  std::uint8_t key[16];
  std::uint32_t ns;
  std::uint32_t value_size;
  std::uint32_t page_in_region;  // page of the entry's header
  std::uint32_t reserved;
};
static_assert(sizeof(SummaryEntry) == 32, "SummaryEntry layout is pinned; bump kNvmeFormatVersion");

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

// Pages a summary of `entries` entries needs (always at least one, for the trailer).
constexpr std::uint64_t summary_pages_for(std::uint64_t entries) {
  return (entries * sizeof(SummaryEntry) + sizeof(SummaryTrailer) + kPageSize - 1) / kPageSize;
}

// Bytes an entry of `value_size` takes in a region: its header page plus its padded value.
constexpr std::uint64_t entry_footprint(std::uint64_t value_size) {
  return kPageSize + round_up_to_page(value_size);
}

// Largest value a region of `region_size` bytes can hold (one entry plus a one-page summary).
constexpr std::uint64_t max_value_for_region(std::uint64_t region_size) {
  return region_size - 2 * kPageSize;
}

inline std::uint64_t header_checksum(const EntryHeader& h) {
  return block_checksum({reinterpret_cast<const std::byte*>(&h), offsetof(EntryHeader, header_checksum)});
}

inline std::uint64_t trailer_checksum(const SummaryTrailer& t) {
  return block_checksum({reinterpret_cast<const std::byte*>(&t), offsetof(SummaryTrailer, trailer_checksum)});
}

inline SummaryEntry summary_of(const BlockId& id, std::uint32_t size, std::uint32_t page_in_region) {
  SummaryEntry e{};
  std::memcpy(e.key, id.key.bytes.data(), 16);
  e.ns = id.ns;
  e.value_size = size;
  e.page_in_region = page_in_region;
  return e;
}

inline BlockId block_id_of(const SummaryEntry& e) {
  BlockId id;
  id.ns = e.ns;
  std::memcpy(id.key.bytes.data(), e.key, 16);
  return id;
}

}  // namespace kvtier::nvme
