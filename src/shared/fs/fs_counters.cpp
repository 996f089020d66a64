// Export of the shared-filesystem backend's counters (fs_counters.h).
#include "shared/fs/fs_counters.h"

#include "metrics/counter_report.h"

namespace kvtier::shared::fs {

void FsCounters::visit(const CounterVisitor& visitor) const {
  report_count(visitor, "shared_fs_puts", puts);
  report_count(visitor, "shared_fs_put_bytes", put_bytes);
  report_count(visitor, "shared_fs_put_errors", put_errors);
  report_count(visitor, "shared_fs_gets", gets);
  report_count(visitor, "shared_fs_hits", hits);
  report_count(visitor, "shared_fs_misses", misses);
  report_count(visitor, "shared_fs_corrupt_blocks", corrupt_blocks);
  report_count(visitor, "shared_fs_get_errors", get_errors);
  report_count(visitor, "shared_fs_get_buffer_too_small", get_buffer_too_small);
  report_count(visitor, "shared_fs_deadline_skips", deadline_skips);
  report_count(visitor, "shared_fs_sweep_runs", sweep_runs);
  report_count(visitor, "shared_fs_sweep_errors", sweep_errors);
  report_count(visitor, "shared_fs_sweep_removed_blocks", sweep_removed_blocks);
  report_count(visitor, "shared_fs_sweep_removed_bytes", sweep_removed_bytes);
  report_count(visitor, "shared_fs_sweep_removed_temp_files", sweep_removed_temp_files);
  report_gauge(visitor, "shared_fs_stored_blocks",
               static_cast<double>(stored_blocks.load(std::memory_order_relaxed)));
  report_gauge(visitor, "shared_fs_stored_bytes",
               static_cast<double>(stored_bytes.load(std::memory_order_relaxed)));
}

}  // namespace kvtier::shared::fs
