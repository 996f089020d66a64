// The packed shared tier's objects: segments of many blocks and the index of each segment.
// docs/SHARED_OBJECT_FORMAT.md describes the same layout for people (and for another tool that
// would read it); change both together and bump kPackedFormatVersion on any change below.
//
// Names, under the store's root (a bucket and prefix, a container, a directory):
//   seg/<writer: 16 hex>/<segment: 16 hex>.seg
//   idx/<published: 16 hex>-<writer: 16 hex>-<segment: 16 hex>.idx
// <published> is the writer's wall clock in ms since the Unix epoch when it wrote the index, so
// listing idx/ after a name finds what was published since (give or take the clocks' skew,
// which readers cover by listing again from a while back). <segment> increases per writer.
//
// Segment: records back to back from offset 0, each [PackedRecordHeader][stored value]. The
// stored value is what the backend was given (the value and, for a sealed namespace, its
// BlockAuth trailer). A reader fetches one record with one ranged read of record_bytes at the
// offset its index gives, and serves it only if the header names the block asked for, the
// lengths agree and the value's checksum matches.
//
// Index: [PackedIndexHeader][entry_count x PackedIndexEntry][u64 XXH3-64 of all bytes before].
// An entry is a put (a record of the segment) or a removal (a tombstone: no record). Between
// entries of one key, from any writers, the greater (stamp, origin) wins: a tombstone hides
// every older put, and a put older than a tombstone already seen is ignored. Two entries with the
// same (stamp, origin) are one write (a compaction's copy and its original): the one in the
// index published later wins, so a block moves to the segment it was copied into.
//
// Stamp: the writer's wall clock in nanoseconds since the Unix epoch, made strictly increasing per
// writer (a clock that steps back does not make a writer's later write lose to its earlier one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/key.h"
#include "kvtier/status.h"

namespace kvtier::shared::packed {

inline constexpr std::uint16_t kPackedFormatVersion = 1;

// "KVPKREC1" / "KVPKIDX1" read as little-endian u64s.
inline constexpr std::uint64_t kRecordMagic = 0x3143455242504b56ull;
inline constexpr std::uint64_t kIndexMagic = 0x3158444942504b56ull;

struct PackedRecordHeader {
  std::uint64_t magic;            // kRecordMagic
  std::uint16_t format_version;   // kPackedFormatVersion
  std::uint16_t flags;            // 0; reserved
  std::uint32_t ns;               // NamespaceId
  std::uint8_t key[16];
  std::uint64_t value_bytes;      // the stored value that follows
  std::uint64_t value_checksum;   // block_checksum (XXH3-64) of the stored value
  std::uint64_t stamp;            // the write's stamp (see the top of this file)
  std::uint64_t header_checksum;  // XXH3-64 of the bytes above
};
static_assert(sizeof(PackedRecordHeader) == 64, "pinned layout; bump kPackedFormatVersion");

struct PackedIndexHeader {
  std::uint64_t magic;            // kIndexMagic
  std::uint16_t format_version;   // kPackedFormatVersion
  std::uint16_t entry_bytes;      // sizeof(PackedIndexEntry)
  std::uint32_t entry_count;
  std::uint64_t writer;           // the writer's id (random per daemon start)
  std::uint64_t segment;          // the segment's number; its object is named from it
  std::uint64_t segment_bytes;    // the segment object's size (0: an index of removals only)
  std::uint64_t published_ms;     // the writer's wall clock when it published this index
  std::uint64_t reserved[2];
};
static_assert(sizeof(PackedIndexHeader) == 64, "pinned layout; bump kPackedFormatVersion");

inline constexpr std::uint32_t kEntryRemoved = 1;  // PackedIndexEntry::flags: a tombstone

struct PackedIndexEntry {
  std::uint32_t ns;
  std::uint32_t flags;            // kEntryRemoved, or 0 for a put
  std::uint8_t key[16];
  std::uint64_t offset;           // of the record in the segment (0 for a tombstone)
  std::uint64_t record_bytes;     // header + stored value (0 for a tombstone)
  std::uint64_t value_checksum;   // as in the record's header
  std::uint64_t stamp;
  std::uint64_t origin;           // the writer that made this write (a compacted copy keeps it)
};
static_assert(sizeof(PackedIndexEntry) == 64, "pinned layout; bump kPackedFormatVersion");

// The largest record (header and stored value) and segment a reader accepts from an index:
// indexes come from a shared bucket, and their sizes decide what a node reads and allocates.
// 4 GiB is far above kvtier's largest value (max_value_bytes, 256 MiB by default).
inline constexpr std::uint64_t kMaxRecordBytes = (std::uint64_t{4} << 30) + 4096;
inline constexpr std::uint64_t kMaxSegmentBytes = std::uint64_t{64} << 30;

// The largest index accepted from a store: 1M entries (a 64 MiB segment of 64 KiB blocks holds
// about 1,000; compaction merges at most a few segments), so a damaged or hostile index cannot
// make a reader allocate without bound.
inline constexpr std::size_t kMaxIndexEntries = std::size_t{1} << 20;
inline constexpr std::size_t kMaxIndexBytes =
    sizeof(PackedIndexHeader) + kMaxIndexEntries * sizeof(PackedIndexEntry) + 8;

// Object names.
std::string segment_name(std::uint64_t writer, std::uint64_t segment);
std::string index_name(std::uint64_t published_ms, std::uint64_t writer, std::uint64_t segment);
inline constexpr std::string_view kIndexPrefix = "idx/";
inline constexpr std::string_view kSegmentPrefix = "seg/";
struct IndexNameParts {
  std::uint64_t published_ms;
  std::uint64_t writer;
  std::uint64_t segment;
};
// The parts of an index name; nullopt for any other name.
std::optional<IndexNameParts> parse_index_name(std::string_view name);
// The smallest index name published at or after `ms` (a start_after bound for listing).
std::string index_name_floor(std::uint64_t published_ms);

// A record header for `value` stored under `id`, checksums filled in.
PackedRecordHeader make_record_header(const BlockId& id, std::span<const std::byte> value,
                                      std::uint64_t stamp);
// Why `record` (header and stored value, as read at an entry's offset) cannot be served for
// `entry`; nullptr when it can. Checks magic, version, header checksum, namespace, key, length
// and the value's checksum.
const char* record_mismatch(std::span<const std::byte> record, const PackedIndexEntry& entry);

// An index in memory, as written and as read.
struct SegmentIndex {
  std::uint64_t writer = 0;
  std::uint64_t segment = 0;
  std::uint64_t segment_bytes = 0;
  std::uint64_t published_ms = 0;
  std::vector<PackedIndexEntry> entries;
};
std::string encode_index(const SegmentIndex& index);
// Corruption saying what is wrong when `bytes` is not a whole, intact index.
Result<SegmentIndex> decode_index(std::string_view bytes);

BlockId entry_id(const PackedIndexEntry& e);

}  // namespace kvtier::shared::packed
