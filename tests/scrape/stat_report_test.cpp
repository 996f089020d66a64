// The `kvtier stat` table: built from text shaped like kvtierd's /metrics, it shows requests per
// op with rates and latency quantiles, hit ratios, bytes and GB/s, rejections, connections and
// tenants; rates come from two scrapes; absent metrics leave their section out.
#include "scrape/stat_report.h"

#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "metrics/latency_histogram.h"
#include "metrics/prometheus_text.h"

namespace kvtier {
namespace {

struct FakeDaemon {
  double gets_ok = 0, gets_missed = 0, gets_probed = 0, puts_ok = 0, puts_busy = 0;
  LatencyHistogram get_latency, put_latency;
  double received = 0, sent = 0;
  double dram_hits = 0, dram_misses = 0, nvme_hits = 0, nvme_misses = 0;

  std::string render(bool with_uptime = false) {
    PrometheusText p;
    p.add("requests", {{"op", "get"}, {"status", "ok"}}, gets_ok, CounterKind::kCount);
    p.add("requests", {{"op", "get"}, {"status", "not_found"}}, gets_missed, CounterKind::kCount);
    p.add("requests", {{"op", "get"}, {"status", "buffer_too_small"}}, gets_probed,
          CounterKind::kCount);
    p.add("requests", {{"op", "put"}, {"status", "ok"}}, puts_ok, CounterKind::kCount);
    p.add("requests", {{"op", "put"}, {"status", "busy"}}, puts_busy, CounterKind::kCount);
    p.add("requests", {{"op", "ping"}, {"status", "ok"}}, 0, CounterKind::kCount);
    p.add_histogram("request", {{"op", "get"}}, get_latency.snapshot());
    p.add_histogram("request", {{"op", "put"}}, put_latency.snapshot());
    p.add_histogram("request", {{"op", "ping"}}, LatencyHistogram::Snapshot{});
    p.add("bytes_received", received, CounterKind::kCount);
    p.add("bytes_sent", sent, CounterKind::kCount);
    p.add("connections_open", 3, CounterKind::kGauge);
    p.add("connections_accepted", 17, CounterKind::kCount);
    p.add("connections_rejected", {{"reason", "max_connections"}}, 2, CounterKind::kCount);
    p.add("frames_rejected", {{"reason", "malformed"}}, 4, CounterKind::kCount);
    p.add("frames_rejected", {{"reason", "auth"}}, 0, CounterKind::kCount);
    p.add("queued_response_bytes", 2 * 1048576, CounterKind::kGauge);
    p.add("tenant_bytes", {{"tenant", "alice"}, {"tier", "dram"}}, 1073741824, CounterKind::kGauge);
    p.add("tenant_bytes", {{"tenant", "alice"}, {"tier", "nvme"}}, 0, CounterKind::kGauge);
    p.add("tenant_quota_bytes", {{"tenant", "alice"}}, 0, CounterKind::kGauge);
    p.add("quota_rejections", {{"tenant", "alice"}}, 5, CounterKind::kCount);
    p.add("dram_hits", dram_hits, CounterKind::kCount);
    p.add("dram_misses", dram_misses, CounterKind::kCount);
    p.add("dram_evictions", 9, CounterKind::kCount);
    p.add("dram_bytes", 512 * 1048576.0, CounterKind::kGauge);
    p.add("dram_capacity_bytes", 1024 * 1048576.0, CounterKind::kGauge);
    p.add("nvme_hits", nvme_hits, CounterKind::kCount);
    p.add("nvme_misses", nvme_misses, CounterKind::kCount);
    if (with_uptime) p.add("uptime_seconds", 100, CounterKind::kGauge);
    return p.text();
  }
};

ParsedMetrics parse(const std::string& text) {
  auto m = parse_prometheus_text(text);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(m).value() : ParsedMetrics{};
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The line of `report` that starts with `prefix` (after indentation), or "".
std::string line_of(const std::string& report, const std::string& prefix) {
  std::size_t pos = 0;
  while (pos < report.size()) {
    std::size_t end = report.find('\n', pos);
    std::string line = report.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    std::size_t first = line.find_first_not_of(' ');
    if (first != std::string::npos && line.compare(first, prefix.size(), prefix) == 0) return line;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return "";
}

TEST(StatReport, OneScrapeShowsTotalsQuantilesRatiosAndEvents) {
  FakeDaemon d;
  d.gets_ok = 900;
  d.gets_missed = 100;
  d.gets_probed = 20;
  d.puts_ok = 50;
  d.puts_busy = 2;
  for (int i = 0; i < 1000; ++i) d.get_latency.record(std::chrono::microseconds(150));
  for (int i = 0; i < 52; ++i) d.put_latency.record(std::chrono::milliseconds(3));
  d.received = 3.5 * 1073741824;
  d.dram_hits = 750;
  d.dram_misses = 250;
  d.nvme_hits = 150;
  d.nvme_misses = 100;
  std::string r = render_stat_report(parse(d.render()), nullptr, 0);
  SCOPED_TRACE(r);
  EXPECT_NE(r.find("use --watch for rates"), std::string::npos);
  std::string get = line_of(r, "get ");
  // op, count, /s, ok, missed, failed: a size probe (buffer_too_small) is not a failure.
  std::vector<std::string> cols = words(get);
  ASSERT_GE(cols.size(), 6u) << get;
  EXPECT_EQ(cols[1], "1020");
  EXPECT_EQ(cols[2], "-");
  EXPECT_EQ(cols[3], "900");
  EXPECT_EQ(cols[4], "100");
  EXPECT_EQ(cols[5], "0");
  std::vector<std::string> put_cols = words(line_of(r, "put "));
  ASSERT_GE(put_cols.size(), 6u);
  EXPECT_EQ(put_cols[5], "2");  // busy
  EXPECT_NE(get.find(" 150 us"), std::string::npos);  // (100 us, 200 us], interpolated at the middle
  std::string put = line_of(r, "put ");
  EXPECT_NE(put.find(" 52 "), std::string::npos);
  EXPECT_NE(put.find(" ms"), std::string::npos);
  EXPECT_EQ(line_of(r, "ping "), "");  // never used: left out
  EXPECT_NE(line_of(r, "all ").find(" 1072 "), std::string::npos);
  EXPECT_NE(line_of(r, "dram ").find("75.0 %"), std::string::npos);
  EXPECT_NE(line_of(r, "dram ").find("512.0 MiB"), std::string::npos);
  EXPECT_NE(line_of(r, "nvme ").find("60.0 %"), std::string::npos);
  EXPECT_NE(line_of(r, "received ").find("3.5 GiB"), std::string::npos);
  std::string rejections = line_of(r, "rejections");
  EXPECT_NE(rejections.find("max_connections 2"), std::string::npos);
  EXPECT_NE(rejections.find("malformed 4"), std::string::npos);
  EXPECT_EQ(rejections.find("auth"), std::string::npos);  // zero: not listed
  EXPECT_NE(rejections.find("alice 5"), std::string::npos);
  EXPECT_NE(line_of(r, "connections").find("open 3"), std::string::npos);
  EXPECT_NE(line_of(r, "queues").find("2.0 MiB"), std::string::npos);
  EXPECT_NE(line_of(r, "alice").find("1.0 GiB"), std::string::npos);
  EXPECT_NE(line_of(r, "alice").find("none"), std::string::npos);
  EXPECT_NE(line_of(r, "evictions").find("dram 9"), std::string::npos);
}

TEST(StatReport, TwoScrapesGiveRatesAndIntervalLatencies) {
  FakeDaemon d;
  d.gets_ok = 1000;
  for (int i = 0; i < 1000; ++i) d.get_latency.record(std::chrono::microseconds(50));
  d.sent = 1e9;
  ParsedMetrics before = parse(d.render());
  d.gets_ok += 4000;
  for (int i = 0; i < 4000; ++i) d.get_latency.record(std::chrono::milliseconds(15));
  d.sent += 8e9;
  ParsedMetrics after = parse(d.render());
  std::string r = render_stat_report(after, &before, 2.0);
  SCOPED_TRACE(r);
  EXPECT_NE(r.find("over the last 2.0 s"), std::string::npos);
  std::string get = line_of(r, "get ");
  EXPECT_NE(get.find(" 4000 "), std::string::npos);
  EXPECT_NE(get.find(" 2000 "), std::string::npos);  // per second
  EXPECT_NE(get.find("15.0 ms"), std::string::npos);  // only this interval's requests: (10, 20] ms
  EXPECT_EQ(get.find(" us"), std::string::npos);
  EXPECT_NE(line_of(r, "sent ").find("4.00 GB/s"), std::string::npos);
}

TEST(StatReport, UptimeGivesAverageRatesFromOneScrape) {
  FakeDaemon d;
  d.gets_ok = 500;
  std::string r = render_stat_report(parse(d.render(/*with_uptime=*/true)), nullptr, 0);
  SCOPED_TRACE(r);
  EXPECT_NE(r.find("since the daemon started (1m 40s ago)"), std::string::npos);
  EXPECT_NE(line_of(r, "get ").find(" 5.0 "), std::string::npos);
}

TEST(StatReport, ARestartedDaemonCountsFromZero) {
  FakeDaemon d;
  d.gets_ok = 1000;
  ParsedMetrics before = parse(d.render());
  d.gets_ok = 10;  // restarted: counters began again
  std::string r = render_stat_report(parse(d.render()), &before, 1.0);
  SCOPED_TRACE(r);
  EXPECT_NE(line_of(r, "get ").find(" 10 "), std::string::npos);
}

// The shared tier's lines: breaker state, outbox depth, uploads, and over an interval the time the
// outbox takes to drain at the upload rate seen.
std::string shared_scrape(double breaker_open, double pending, double pending_bytes, double uploads,
                          double upload_bytes) {
  PrometheusText p;
  p.add("shared_breaker_open", breaker_open, CounterKind::kGauge);
  p.add("shared_breaker_opens", 1, CounterKind::kCount);
  p.add("shared_read_hits", 30, CounterKind::kCount);
  p.add("shared_read_misses", 5, CounterKind::kCount);
  p.add("shared_read_skipped_open", 5, CounterKind::kCount);
  p.add("shared_outbox_pending", pending, CounterKind::kGauge);
  p.add("shared_outbox_pending_bytes", pending_bytes, CounterKind::kGauge);
  p.add("shared_outbox_capacity", 1000, CounterKind::kGauge);
  p.add("shared_outbox_oldest_seconds", 42, CounterKind::kGauge);
  p.add("shared_outbox_rejected_full", 0, CounterKind::kCount);
  p.add("shared_uploads", uploads, CounterKind::kCount);
  p.add("shared_upload_bytes", upload_bytes, CounterKind::kCount);
  p.add("shared_upload_lost_local", 0, CounterKind::kCount);
  return p.text();
}

TEST(StatReport, SharedTierShowsBreakerOutboxAndDrainProgress) {
  ParsedMetrics open = parse(shared_scrape(1, 200, 200 * 1048576.0, 10, 10 * 1048576.0));
  std::string r = render_stat_report(open, nullptr, 0);
  SCOPED_TRACE(r);
  EXPECT_NE(line_of(r, "breaker").find("OPEN"), std::string::npos);
  std::string outbox = line_of(r, "outbox");
  EXPECT_NE(outbox.find("200 blocks [200.0 MiB] of 1000"), std::string::npos) << outbox;
  EXPECT_NE(outbox.find("oldest 42.0 s"), std::string::npos) << outbox;
  EXPECT_NE(line_of(r, "shared   ").find("75.0 %"), std::string::npos);  // 30 hits of 40 reads
  EXPECT_EQ(line_of(r, "uploads").find("drained in"), std::string::npos);  // no interval: no rate

  // 10 s later: 100 MiB more uploaded (10 MiB/s), 100 MiB left: about 10 s to go.
  ParsedMetrics later = parse(shared_scrape(0, 100, 100 * 1048576.0, 110, 110 * 1048576.0));
  std::string r2 = render_stat_report(later, &open, 10);
  SCOPED_TRACE(r2);
  EXPECT_NE(line_of(r2, "breaker").find("closed"), std::string::npos);
  std::string uploads = line_of(r2, "uploads");
  EXPECT_NE(uploads.find("uploads 100"), std::string::npos) << uploads;
  EXPECT_NE(uploads.find("10.5 MB/s"), std::string::npos) << uploads;
  EXPECT_NE(uploads.find("drained in ~10.0 s"), std::string::npos) << uploads;
}

TEST(StatReport, MissingMetricsLeaveSectionsOut) {
  std::string r = render_stat_report(parse("# TYPE other_metric gauge\nother_metric 1\n"), nullptr, 0);
  SCOPED_TRACE(r);
  EXPECT_EQ(line_of(r, "requests"), "");
  EXPECT_EQ(line_of(r, "cache"), "");
  EXPECT_EQ(line_of(r, "rejections"), "");
  EXPECT_EQ(line_of(r, "shared tier"), "");
  std::string empty = render_stat_report(ParsedMetrics{}, nullptr, 0);
  EXPECT_FALSE(empty.empty());
}

}  // namespace
}  // namespace kvtier
