// The Redis backend's counters ("shared_redis_..."), shared by its connections, pools, topology
// and calls. Every counter only grows (CounterKind::kCount).
//
// Thread-safety: atomics, updated with relaxed ordering (they order nothing).
#pragma once

#include <atomic>
#include <cstdint>

#include "kvtier/types.h"
#include "metrics/counter_report.h"

namespace kvtier::shared::redis {

struct RedisCounters {
  std::atomic<std::uint64_t> puts{0};        // blocks stored (SET answered OK)
  std::atomic<std::uint64_t> put_bytes{0};   // payload bytes of those blocks
  std::atomic<std::uint64_t> put_errors{0};  // blocks not stored (any non-OK answer)
  std::atomic<std::uint64_t> gets{0};        // blocks asked for
  std::atomic<std::uint64_t> hits{0};        // found and verified (OK or BufferTooSmall)
  std::atomic<std::uint64_t> misses{0};      // absent
  std::atomic<std::uint64_t> corrupt_blocks{0};  // present but failed verification (a NotFound)
  std::atomic<std::uint64_t> get_errors{0};  // no answer (IOError)
  std::atomic<std::uint64_t> moved_redirects{0};
  std::atomic<std::uint64_t> ask_redirects{0};
  std::atomic<std::uint64_t> topology_refreshes{0};  // CLUSTER SLOTS answers installed
  std::atomic<std::uint64_t> connect_errors{0};      // connects or AUTHs that failed
  std::atomic<std::uint64_t> timeouts{0};            // connections given up at a deadline

  static void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
  }

  void visit(const CounterVisitor& visitor) const {
    report_count(visitor, "shared_redis_puts", puts);
    report_count(visitor, "shared_redis_put_bytes", put_bytes);
    report_count(visitor, "shared_redis_put_errors", put_errors);
    report_count(visitor, "shared_redis_gets", gets);
    report_count(visitor, "shared_redis_hits", hits);
    report_count(visitor, "shared_redis_misses", misses);
    report_count(visitor, "shared_redis_corrupt_blocks", corrupt_blocks);
    report_count(visitor, "shared_redis_get_errors", get_errors);
    report_count(visitor, "shared_redis_moved_redirects", moved_redirects);
    report_count(visitor, "shared_redis_ask_redirects", ask_redirects);
    report_count(visitor, "shared_redis_topology_refreshes", topology_refreshes);
    report_count(visitor, "shared_redis_connect_errors", connect_errors);
    report_count(visitor, "shared_redis_timeouts", timeouts);
  }
};

}  // namespace kvtier::shared::redis
