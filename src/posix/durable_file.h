// Small files kvtier writes whole and must find whole after a crash (the NVMe index checkpoint,
// the NVMe format id): written to a temporary name, synced, renamed over the old one and the
// directory synced, so a reader sees the old file or the new one, never a part.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "kvtier/status.h"

namespace kvtier {

// Writes every byte of `bytes` to `fd` (retrying short writes and EINTR); `path` names it in errors.
Status write_all(int fd, std::span<const std::byte> bytes, const std::string& path);

// fsync of the directory holding `path`, so a rename or unlink there survives a crash.
Status sync_parent_dir(const std::string& path);

// Replaces `path` with `bytes` as described above (the file gets `mode`).
Status replace_file_durably(const std::string& path, std::span<const std::byte> bytes, mode_t mode);

// The contents of the regular file `path`, at most `max_bytes`: NotFound when it does not exist,
// Corruption when it is not a regular file (a directory where kvtier's file belongs) or is larger
// than `max_bytes`, IOError when it cannot be read.
Result<std::vector<std::byte>> read_regular_file(const std::string& path, std::size_t max_bytes);

}  // namespace kvtier
