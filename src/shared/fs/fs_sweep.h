// The garbage-collecting sweep of a shared-filesystem tree. A shared filesystem evicts nothing by
// itself, so every node runs this periodically (SharedBackend::maintain):
//   1. walk <root>/<ns>/<aa>/<bb>/ and stat every entry kvtier wrote;
//   2. remove blocks whose mtime is older than max_age;
//   3. remove temporary files older than stale_temp_age (their writer crashed or hung: a live
//      writer's temp file is at most one put old);
//   4. when the blocks left exceed capacity_bytes, remove the oldest (by mtime) until they do not;
//   5. remove directories that were empty when listed.
// Several nodes may sweep the same tree at once: a file or directory that vanished under us was
// removed by someone else and is simply no longer counted. Names kvtier did not write are left
// alone. Memory: one 40-byte record per block, and only when capacity_bytes != 0
// (docs/SHARED_FS_FORMAT.md, "Sweep").
//
// Thread-safety: sweep_tree has no shared state; any number may run at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "kvtier/status.h"

namespace kvtier::shared::fs {

struct SweepPolicy {
  std::uint64_t capacity_bytes = 0;                 // 0 = no limit
  std::chrono::seconds max_age{0};                  // 0 = no limit
  std::chrono::seconds stale_temp_age{60 * 60};
  std::int64_t now_unix_ns = 0;                     // "now" on the mtime clock (CLOCK_REALTIME)
};

struct SweepReport {
  std::uint64_t kept_blocks = 0;  // blocks under the tree after the sweep
  std::uint64_t kept_bytes = 0;   // their file bytes (header included)
  std::uint64_t removed_blocks = 0;
  std::uint64_t removed_bytes = 0;
  std::uint64_t removed_temp_files = 0;
  // The first error met (a directory that could not be read, an unlink that failed); the sweep
  // goes on past errors, so the rest of the tree is still swept.
  Status status;
};

// Sweeps the tree at `root` (<path>/kvtier-v1). A missing root is an empty tree.
SweepReport sweep_tree(const std::string& root, const SweepPolicy& policy);

}  // namespace kvtier::shared::fs
