// The shared-filesystem backend's counters: relaxed atomics, bumped from any thread, read by
// visit_counters. Exported as "shared_fs_<name>" (docs/SHARED_FS_FORMAT.md, "Counters").
#pragma once

#include <atomic>
#include <cstdint>

#include "kvtier/types.h"

namespace kvtier::shared::fs {

struct FsCounters {
  using U64 = std::atomic<std::uint64_t>;
  U64 puts{0};                  // blocks published (renamed into place)
  U64 put_bytes{0};             // value bytes of those blocks
  U64 put_errors{0};            // puts that failed (nothing published)
  U64 gets{0};                  // get items answered (hits + misses + corrupt + errors + too small)
  U64 hits{0};
  U64 misses{0};                // no file
  U64 corrupt_blocks{0};        // a file that failed verification (answered NotFound)
  U64 get_errors{0};            // the filesystem reported an error (answered IOError)
  U64 get_buffer_too_small{0};  // a valid block larger than the caller's buffer
  U64 deadline_skips{0};        // batch items not attempted because the deadline had passed
  U64 sweep_runs{0};
  U64 sweep_errors{0};          // sweeps that could not read part of the tree
  U64 sweep_removed_blocks{0};
  U64 sweep_removed_bytes{0};   // file bytes (header included)
  U64 sweep_removed_temp_files{0};
  U64 stored_blocks{0};         // gauge: blocks left under the tree after the last sweep
  U64 stored_bytes{0};          // gauge: their file bytes

  static void bump(U64& c, std::uint64_t by = 1) { c.fetch_add(by, std::memory_order_relaxed); }
  void visit(const CounterVisitor& visitor) const;
};

}  // namespace kvtier::shared::fs
