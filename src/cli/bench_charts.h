// The charts of `kvtier bench --charts DIR` (docs/BENCH.md): SVG files drawn from what the run
// recorded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kvtier/key.h"
#include "kvtier/status.h"
#include "metrics/latency_histogram.h"

namespace kvtier::cli {

struct BenchChartInputs {
  std::vector<std::uint64_t> bytes_in_per_second;   // GET bytes completed in second i of the run
  std::vector<std::uint64_t> bytes_out_per_second;  // PUT bytes
  LatencyHistogram::Snapshot lookup, get, put;
  std::vector<std::vector<Key>> chains;  // every request's chain, in hand-out order
  double measured_hit_ratio = 0;         // the target's, over the run
  std::uint64_t measured_capacity_blocks = 0;  // where to draw it on the capacity axis (0: not drawn)
};

// Writes DIR/throughput.svg, DIR/latency.svg and DIR/hit_ratio_vs_cache_size.svg (DIR is
// created). Returns the paths written, or IOError.
Result<std::vector<std::string>> write_bench_charts(const std::string& dir, const BenchChartInputs& in);

}  // namespace kvtier::cli
