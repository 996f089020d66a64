// write_bench_charts (see bench_charts.h).
#include "cli/bench_charts.h"

#include <filesystem>
#include <unordered_set>

#include "cli/text_file.h"
#include "report/svg_chart.h"
#include "workload/lru_simulator.h"

namespace kvtier::cli {
namespace {

report::Series per_second(const std::string& name, const std::vector<std::uint64_t>& bytes) {
  report::Series s{name, {}};
  for (std::size_t i = 0; i < bytes.size(); ++i) s.points.push_back({static_cast<double>(i + 1), bytes[i] / 1e9});
  return s;
}

// The cumulative fraction of calls at or below each bucket's upper bound, in milliseconds.
report::Series cdf(const std::string& name, const LatencyHistogram::Snapshot& h) {
  report::Series s{name, {}};
  if (h.count == 0) return s;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i + 1 < h.counts.size() && seen < h.count; ++i) {
    seen += h.counts[i];
    if (seen == 0) continue;
    s.points.push_back({LatencyHistogram::Snapshot::upper_bound_seconds(i) * 1e3, static_cast<double>(seen) / h.count});
  }
  return s;
}

// An ideal LRU replayed over the run's chains at capacities 1, 2, 4, ... up to every distinct block.
report::Series lru_sweep(const std::vector<std::vector<Key>>& chains) {
  std::unordered_set<Key, KeyHash> distinct;
  for (const auto& c : chains) distinct.insert(c.begin(), c.end());
  report::Series s{"ideal LRU (simulated)", {}};
  for (std::uint64_t cap = 1;; cap *= 2) {
    workload::LruSimulator lru(cap);
    for (const auto& c : chains) lru.access(c);
    s.points.push_back({static_cast<double>(cap), lru.hit_ratio()});
    if (cap >= distinct.size()) break;
  }
  return s;
}

}  // namespace

Result<std::vector<std::string>> write_bench_charts(const std::string& dir, const BenchChartInputs& in) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("--charts " + dir + ": " + ec.message());
  report::LineChart tput{"Throughput over time", "second of the run", "GB/s", false,
                         {per_second("GET (in)", in.bytes_in_per_second), per_second("PUT (out)", in.bytes_out_per_second)}};
  report::LineChart lat{"Latency distribution", "latency, ms (bucket upper bound)", "fraction of calls <= x", true,
                        {cdf("LOOKUP", in.lookup), cdf("GET_MANY", in.get), cdf("PUT_MANY", in.put)}};
  report::LineChart hits{"Hit ratio versus cache size", "cache capacity, blocks", "prefix hit ratio", true, {lru_sweep(in.chains)}};
  if (in.measured_capacity_blocks > 0) {
    hits.series.push_back({"measured (at the LRU capacity)", {{static_cast<double>(in.measured_capacity_blocks), in.measured_hit_ratio}}});
  }
  std::vector<std::string> written;
  for (auto& [name, chart] : {std::pair{"throughput.svg", &tput}, {"latency.svg", &lat}, {"hit_ratio_vs_cache_size.svg", &hits}}) {
    std::string path = (std::filesystem::path(dir) / name).string();
    KVTIER_RETURN_IF_ERROR(write_text_file(path, report::render_svg(*chart)));
    written.push_back(path);
  }
  return written;
}

}  // namespace kvtier::cli
