// Where the shared-filesystem backend keeps each block: the directory tree and the names in it
// (docs/SHARED_FS_FORMAT.md, "Layout").
//
//   <path>/kvtier-v1/<ns: 8 hex>/<key hex 0..2>/<key hex 2..4>/<key: 32 hex>.blk   a block
//   <same leaf directory>/.<key: 32 hex>.tmp.<host>.<pid>.<n>                        being written
//
// Thread-safety: all functions are pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kvtier/key.h"

namespace kvtier::shared::fs {

// Named after the format version (fs_block_format.h): a new format gets a new tree, so nodes of
// two versions can share a mount without reading each other's files.
inline constexpr std::string_view kFsTreeName = "kvtier-v1";
inline constexpr std::string_view kBlockSuffix = ".blk";
inline constexpr std::string_view kTempMarker = ".tmp.";

// <path>/kvtier-v1
std::string tree_root(const std::string& path);
// 8 lower-case hex digits.
std::string ns_dir_name(NamespaceId ns);
// <root>/<ns>/<aa>/<bb>: the leaf directory of `id`.
std::string block_dir(const std::string& root, const BlockId& id);
// <key hex>.blk
std::string block_file_name(const Key& key);
// .<key hex>.tmp.<host>.<pid>.<n>: unique across nodes (host), processes (pid) and the puts of
// one process (n), so concurrent writers of one key never share a temporary file.
std::string temp_file_name(const Key& key, std::string_view host, std::int64_t pid,
                           std::uint64_t n);

// This node's hostname reduced to [A-Za-z0-9-] (others become '_'), at most 64 characters, so it
// is safe inside a file name; "host" when it cannot be read.
std::string safe_hostname();

// True when `s` is exactly `digits` hex digits (lower-case, as kvtier writes them).
bool is_hex(std::string_view s, std::size_t digits);

enum class EntryKind : std::uint8_t { kBlock, kTemp, kOther };
// What a name found in a leaf directory <aa>/<bb> is. A block name must also belong in that
// directory (its key starts with aa bb); anything kvtier did not write is kOther and left alone.
EntryKind classify_leaf_entry(std::string_view name, std::string_view aa, std::string_view bb);

}  // namespace kvtier::shared::fs
