// Prometheus text rendering: exact lines for known values, and every counter of a real Store
// rendered as valid exposition lines with one TYPE line per metric.
#include "metrics/prometheus_text.h"

#include <limits>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "memory/aligned_buffer.h"
#include "support/test_support.h"

namespace kvtier {
namespace {

TEST(PrometheusText, RendersCountersAndGauges) {
  PrometheusText p;
  p.add("dram_hits", 42, CounterKind::kCount);
  p.add("dram_bytes", 1048576, CounterKind::kGauge);
  p.add("ratio", 0.25, CounterKind::kGauge);
  p.add("bad-name.x", std::numeric_limits<double>::quiet_NaN(), CounterKind::kGauge);
  EXPECT_EQ(p.text(),
            "# TYPE kvtier_dram_hits_total counter\nkvtier_dram_hits_total 42\n"
            "# TYPE kvtier_dram_bytes gauge\nkvtier_dram_bytes 1048576\n"
            "# TYPE kvtier_ratio gauge\nkvtier_ratio 0.25\n"
            "# TYPE kvtier_bad_name_x gauge\nkvtier_bad_name_x NaN\n");
}

TEST(PrometheusText, EveryStoreCounterIsAValidLine) {
  kvtier::testing::TempDir dir;
  StoreConfig c;
  c.data_dir = dir.path();
  c.dram.capacity_bytes = 4 * kMiB;
  c.nvme.region_size = 1 * kMiB;
  c.nvme.default_file_bytes = kPageSize + 4 * kMiB;
  auto store = Store::open(c);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  std::vector<std::byte> v(10000, std::byte{7});
  ASSERT_TRUE((*store)->put(0, kvtier::testing::test_key(1), v).ok());
  PrometheusText p;
  (*store)->visit_counters(p.visitor());
  const std::regex type_line(R"(# TYPE (kvtier_[a-z0-9_]+) (counter|gauge))");
  const std::regex sample_line(R"((kvtier_[a-z0-9_]+) (-?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?|NaN|[+-]Inf))");
  std::istringstream in(p.text());
  std::string line, last_type;
  std::set<std::string> seen;
  int samples = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, type_line)) {
      EXPECT_TRUE(seen.insert(m[1]).second) << "duplicate metric " << m[1];
      last_type = m[1];
    } else {
      ASSERT_TRUE(std::regex_match(line, m, sample_line)) << "not an exposition line: " << line;
      EXPECT_EQ(m[1], last_type) << "sample without its TYPE line";
      ++samples;
    }
  }
  EXPECT_GT(samples, 30);
  EXPECT_TRUE(seen.count("kvtier_store_puts_total"));
  EXPECT_TRUE(seen.count("kvtier_nvme_entries"));
}

}  // namespace
}  // namespace kvtier
