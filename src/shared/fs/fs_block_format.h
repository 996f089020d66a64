// On-file layout of one shared-filesystem block. docs/SHARED_FS_FORMAT.md describes the same
// layout for people; change both together and bump kFsFormatVersion (and the "kvtier-v<N>"
// directory, fs_layout.h) on any change to the struct below.
//
// Block file: [header page (FsBlockHeader + zero padding to 4 KiB)][value, value_size bytes]
// The value starts at offset 4096 so a page-aligned (O_DIRECT-capable) read of it can land in a
// caller's 4 KiB-aligned buffer; the file length is exactly kFsHeaderBytes + value_size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kvtier/key.h"

namespace kvtier::shared::fs {

inline constexpr std::uint16_t kFsFormatVersion = 1;

// "KVTSHFS1" read as a little-endian u64: identifies a kvtier shared-filesystem block file.
inline constexpr std::uint64_t kFsBlockMagic = 0x315346485354564bull;

// Bytes before the value: the header struct, then zeros.
inline constexpr std::size_t kFsHeaderBytes = 4096;

struct FsBlockHeader {
  std::uint64_t magic;
  std::uint16_t format_version;
  std::uint16_t flags;            // 0; reserved
  std::uint32_t ns;               // NamespaceId
  std::uint8_t key[16];
  std::uint64_t value_size;       // bytes; the file is kFsHeaderBytes + value_size long
  std::uint64_t value_checksum;   // block_checksum (XXH3-64) of the value bytes
  std::int64_t written_at_ns;     // writer's CLOCK_REALTIME, ns since the Unix epoch; for people
  std::uint64_t header_checksum;  // XXH3-64 of the bytes above
};
static_assert(sizeof(FsBlockHeader) == 64, "FsBlockHeader layout is pinned; bump kFsFormatVersion");
static_assert(sizeof(FsBlockHeader) <= kFsHeaderBytes);

// A header for `value` stored under `id`, checksums filled in.
FsBlockHeader make_block_header(const BlockId& id, std::span<const std::byte> value,
                                std::int64_t written_at_ns);

// Why a header read back from a file cannot be trusted for `id` and a file of `file_bytes`;
// nullptr when it can (the value checksum is checked separately, after the value is read).
const char* header_mismatch(const FsBlockHeader& h, const BlockId& id, std::uint64_t file_bytes);

}  // namespace kvtier::shared::fs
