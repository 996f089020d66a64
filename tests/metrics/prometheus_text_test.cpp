// Prometheus text rendering: exact lines for known values, labels and their escaping, one TYPE
// (and HELP) line per family however its samples are interleaved, histograms in the exposition
// layout, and every counter of a real Store rendered as valid exposition lines.
#include "metrics/prometheus_text.h"

#include <limits>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "kvtier/store.h"
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

TEST(PrometheusText, LabeledSamplesShareOneTypeLinePerFamily) {
  PrometheusText p;
  p.add("requests", {{"op", "get"}, {"status", "ok"}}, 10, CounterKind::kCount,
        "Requests answered, by operation and status");
  p.add("connections_open", 3, CounterKind::kGauge);
  p.add("requests", {{"op", "get"}, {"status", "not_found"}}, 2, CounterKind::kCount);
  p.add("requests_total", {{"op", "put"}, {"status", "ok"}}, 5, CounterKind::kCount,
        "ignored: the family already has its help");
  EXPECT_EQ(p.text(),
            "# HELP kvtier_requests_total Requests answered, by operation and status\n"
            "# TYPE kvtier_requests_total counter\n"
            "kvtier_requests_total{op=\"get\",status=\"ok\"} 10\n"
            "kvtier_requests_total{op=\"get\",status=\"not_found\"} 2\n"
            "kvtier_requests_total{op=\"put\",status=\"ok\"} 5\n"
            "# TYPE kvtier_connections_open gauge\n"
            "kvtier_connections_open 3\n");
}

TEST(PrometheusText, EscapesLabelValuesAndHelpAndSanitizesLabelNames) {
  PrometheusText p;
  const std::vector<MetricLabel> labels{{"tenant", "a\\b\"c\nd"}, {"bad-label", "x"}};
  p.add("tenant_bytes", labels, 7, CounterKind::kGauge, "line one\nback\\slash \"quoted\"");
  EXPECT_EQ(p.text(),
            "# HELP kvtier_tenant_bytes line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE kvtier_tenant_bytes gauge\n"
            "kvtier_tenant_bytes{tenant=\"a\\\\b\\\"c\\nd\",bad_label=\"x\"} 7\n");
}

TEST(PrometheusText, BytesThatAreNotUtf8BecomeTheReplacementCharacter) {
  PrometheusText p;
  // A stray continuation byte, a truncated sequence, an overlong '/', a surrogate; then valid
  // two-, three- and four-byte sequences kept as they are.
  p.add("x", {{"v", "\x80|\xe2\x82|\xc0\xaf|\xed\xa0\x80|\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"}}, 1,
        CounterKind::kGauge);
  const std::string r = "\xef\xbf\xbd";
  EXPECT_EQ(p.text(), "# TYPE kvtier_x gauge\nkvtier_x{v=\"" + r + "|" + r + r + "|" + r + r + "|" +
                          r + r + r + "|\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"} 1\n");
}

TEST(PrometheusText, AConflictingTypeForAFamilyIsDropped) {
  PrometheusText p;
  p.add("queue", 1, CounterKind::kGauge);
  p.add_histogram("queue", {}, LatencyHistogram::Snapshot{});  // "kvtier_queue_seconds": another family
  p.add("queue_seconds", 2, CounterKind::kGauge);             // clashes with the histogram
  p.add_histogram("op", {{"le", "x"}}, LatencyHistogram::Snapshot{});  // le is the bucket label
  std::string t = p.text();
  EXPECT_EQ(t.find("kvtier_queue_seconds 2"), std::string::npos);
  EXPECT_EQ(t.find("kvtier_op_seconds"), std::string::npos);
  EXPECT_NE(t.find("# TYPE kvtier_queue gauge\nkvtier_queue 1\n"), std::string::npos);
  EXPECT_NE(t.find("# TYPE kvtier_queue_seconds histogram\n"), std::string::npos);
}

TEST(PrometheusText, RendersHistogramsCumulativeInSeconds) {
  LatencyHistogram get, put;
  get.record(std::chrono::microseconds(1));      // le="1e-06"
  get.record(std::chrono::microseconds(1500));   // le="0.002"
  get.record(std::chrono::milliseconds(1500));   // le="2"
  get.record(std::chrono::seconds(1000));        // only in +Inf
  put.record(std::chrono::microseconds(3));
  PrometheusText p;
  p.add_histogram("request", {{"op", "get"}}, get.snapshot(), "Request latency");
  p.add_histogram("request_seconds", {{"op", "put"}}, put.snapshot());
  std::string t = p.text();
  std::istringstream in(t);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2 + 2 * (LatencyHistogram::kBuckets + 2));
  EXPECT_EQ(lines[0], "# HELP kvtier_request_seconds Request latency");
  EXPECT_EQ(lines[1], "# TYPE kvtier_request_seconds histogram");
  EXPECT_EQ(lines[2], "kvtier_request_seconds_bucket{op=\"get\",le=\"1e-06\"} 1");
  EXPECT_EQ(lines[3], "kvtier_request_seconds_bucket{op=\"get\",le=\"2e-06\"} 1");
  EXPECT_NE(t.find("kvtier_request_seconds_bucket{op=\"get\",le=\"0.001\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("kvtier_request_seconds_bucket{op=\"get\",le=\"0.002\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("kvtier_request_seconds_bucket{op=\"get\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("kvtier_request_seconds_bucket{op=\"get\",le=\"2\"} 3\n"), std::string::npos);
  EXPECT_NE(t.find("kvtier_request_seconds_bucket{op=\"get\",le=\"100\"} 3\n"), std::string::npos);
  EXPECT_NE(t.find("kvtier_request_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(t.find("kvtier_request_seconds_sum{op=\"get\"} 1001.501501\n"), std::string::npos);
  EXPECT_NE(t.find("kvtier_request_seconds_count{op=\"get\"} 4\n"), std::string::npos);
  EXPECT_NE(t.find("kvtier_request_seconds_bucket{op=\"put\",le=\"5e-06\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("kvtier_request_seconds_count{op=\"put\"} 1\n"), std::string::npos);
  // Cumulative: never decreasing along a series.
  double last = -1;
  std::string series = "kvtier_request_seconds_bucket{op=\"get\"";
  for (const std::string& l : lines) {
    if (l.rfind(series, 0) != 0) continue;
    double v = std::stod(l.substr(l.rfind(' ') + 1));
    EXPECT_GE(v, last) << l;
    last = v;
  }
}

TEST(PrometheusText, AHistogramWithoutLabelsHasOnlyTheLeLabel) {
  LatencyHistogram h;
  h.record(std::chrono::microseconds(1));
  PrometheusText p;
  p.add_histogram("flush", {}, h.snapshot());
  std::string t = p.text();
  EXPECT_NE(t.find("kvtier_flush_seconds_bucket{le=\"1e-06\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("kvtier_flush_seconds_sum 1e-06\n"), std::string::npos);
  EXPECT_NE(t.find("kvtier_flush_seconds_count 1\n"), std::string::npos);
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
