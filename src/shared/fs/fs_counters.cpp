// Export of the shared-filesystem backend's counters (fs_counters.h).
#include "shared/fs/fs_counters.h"

namespace kvtier::shared::fs {

void FsCounters::visit(const CounterVisitor& visitor) const {
  auto count = [&](std::string_view name, const U64& c) {
    visitor(name, static_cast<double>(c.load(std::memory_order_relaxed)), CounterKind::kCount);
  };
  auto gauge = [&](std::string_view name, const U64& c) {
    visitor(name, static_cast<double>(c.load(std::memory_order_relaxed)), CounterKind::kGauge);
  };
  count("shared_fs_puts", puts);
  count("shared_fs_put_bytes", put_bytes);
  count("shared_fs_put_errors", put_errors);
  count("shared_fs_gets", gets);
  count("shared_fs_hits", hits);
  count("shared_fs_misses", misses);
  count("shared_fs_corrupt_blocks", corrupt_blocks);
  count("shared_fs_get_errors", get_errors);
  count("shared_fs_get_buffer_too_small", get_buffer_too_small);
  count("shared_fs_deadline_skips", deadline_skips);
  count("shared_fs_sweep_runs", sweep_runs);
  count("shared_fs_sweep_errors", sweep_errors);
  count("shared_fs_sweep_removed_blocks", sweep_removed_blocks);
  count("shared_fs_sweep_removed_bytes", sweep_removed_bytes);
  count("shared_fs_sweep_removed_temp_files", sweep_removed_temp_files);
  gauge("shared_fs_stored_blocks", stored_blocks);
  gauge("shared_fs_stored_bytes", stored_bytes);
}

}  // namespace kvtier::shared::fs
