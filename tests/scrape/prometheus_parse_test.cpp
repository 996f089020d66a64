// Prometheus text parsing: what other exporters write, PrometheusText output read back exactly
// (labels with escapes, histograms and their quantiles), and garbage and mutated input refused or
// accepted without crashing.
#include "scrape/prometheus_parse.h"

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "metrics/latency_histogram.h"
#include "metrics/prometheus_text.h"
#include "support/test_support.h"

namespace kvtier {
namespace {

TEST(PrometheusParse, ReadsSamplesLabelsCommentsAndTypes) {
  auto m = parse_prometheus_text(
      "# HELP http_requests_total The total number of HTTP requests.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\r\n"
      "\n"
      "# A plain comment\n"
      "  metric_without_timestamp_and_labels 12.47\n"
      "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
      "trailing_comma{a=\"1\",} -Inf\n"
      "spaced { a = \"1\" , b=\"2\" }\t+Inf\n"
      "not_a_number NaN\n"
      "huge 1e999\n");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  ASSERT_EQ(m->samples.size(), 8u);
  EXPECT_EQ(m->types.at("http_requests_total"), "counter");
  const PrometheusSample& s0 = m->samples[0];
  EXPECT_EQ(s0.name, "http_requests_total");
  EXPECT_EQ(s0.value, 1027);
  EXPECT_EQ(s0.label("method"), "post");
  EXPECT_EQ(s0.label("code"), "200");
  EXPECT_FALSE(s0.label("path").has_value());
  EXPECT_EQ(m->samples[1].value, 3);
  EXPECT_EQ(m->samples[2].name, "metric_without_timestamp_and_labels");
  EXPECT_TRUE(m->samples[2].labels.empty());
  EXPECT_EQ(m->samples[3].label("path"), "C:\\DIR\\FILE.TXT");
  EXPECT_EQ(m->samples[3].label("error"), "Cannot find file:\n\"FILE.TXT\"");
  EXPECT_EQ(m->samples[3].value, 1.458255915e9);
  EXPECT_EQ(m->samples[4].value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(m->samples[5].label("b"), "2");
  EXPECT_EQ(m->samples[5].value, std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(m->samples[6].value));
  EXPECT_EQ(m->samples[7].value, std::numeric_limits<double>::infinity());

  EXPECT_EQ(m->sum("http_requests_total"), 1030);
  EXPECT_EQ(m->sum("http_requests_total", {{"code", "400"}}), 3);
  EXPECT_FALSE(m->sum("http_requests_total", {{"code", "500"}}).has_value());
  EXPECT_FALSE(m->sum("nothing").has_value());
  EXPECT_EQ(m->label_values("http_requests_total", "code"), (std::vector<std::string>{"200", "400"}));
}

TEST(PrometheusParse, RefusesMalformedLinesNamingTheLine) {
  const char* bad[] = {
      "metric",                      // no value
      "metric abc",                  // not a number
      "metric 1 2 3",                // trailing text
      "metric 1 12.5",               // timestamp must be an integer
      "metric{a=\"1\" 1",            // unclosed label set
      "metric{a=1} 1",               // unquoted value
      "metric{a=\"1} 1",             // unclosed quote
      "metric{a=\"\\x\"} 1",         // bad escape
      "metric{a=\"1\",a=\"2\"} 1",   // duplicate label
      "metric{1a=\"1\"} 1",          // bad label name
      "metric{=\"1\"} 1",            // no label name
      "{a=\"1\"} 1",                 // no metric name
      "1metric 1",                   // bad metric name
      "# TYPE metric bogus",         // unknown type
      "# TYPE metric counter extra", // trailing text
      "# TYPE",                      // no name
      "metric 0x10",                 // no hex floats
      "metric ++1",
  };
  for (const char* line : bad) {
    std::string text = std::string("ok_metric 1\n") + line + "\n";
    auto m = parse_prometheus_text(text);
    EXPECT_FALSE(m.ok()) << line;
    if (!m.ok()) {
      EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(m.status().message().find("line 2"), std::string::npos) << m.status().message();
    }
  }
}

TEST(PrometheusParse, EmptyTextHasNoSamples) {
  auto m = parse_prometheus_text("");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->samples.empty());
  auto blank = parse_prometheus_text("\n\n  \r\n# only comments\n");
  ASSERT_TRUE(blank.ok());
  EXPECT_TRUE(blank->samples.empty());
}

// Everything PrometheusText writes reads back as the same names, labels and values.
TEST(PrometheusParse, RoundTripsPrometheusTextOutput) {
  const std::string tricky = std::string("a\\b\"c\nd,}{=") + '\0' + "\xc3\xa9 \xf0\x9f\x98\x80 end";
  const double values[] = {0, 1, 42, 0.25, 1e-9, 123456789.125, 1e300, -7.5,
                           std::numeric_limits<double>::infinity(), 9007199254740993.0};
  PrometheusText p;
  for (std::size_t i = 0; i < std::size(values); ++i) {
    std::string n = std::to_string(i);
    p.add("gauge_" + n, {{"tenant", tricky}, {"i", n}}, values[i], CounterKind::kGauge, tricky);
  }
  p.add("requests", {{"op", "get"}, {"status", "ok"}}, 10, CounterKind::kCount);
  p.add("requests", {{"op", "put"}, {"status", "busy"}}, 3, CounterKind::kCount);
  LatencyHistogram h;
  std::uint64_t seed = 3;
  for (int i = 0; i < 1000; ++i) {
    h.record(std::chrono::nanoseconds(1000 + kvtier::testing::splitmix64(seed) % 50'000'000));
  }
  p.add_histogram("request", {{"op", "get"}}, h.snapshot());
  p.add_histogram("request", {{"op", "put"}}, LatencyHistogram::Snapshot{});

  auto m = parse_prometheus_text(p.text());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  for (std::size_t i = 0; i < std::size(values); ++i) {
    std::string n = std::to_string(i);
    std::optional<double> v = m->sum("kvtier_gauge_" + n, {{"tenant", tricky}, {"i", n}});
    ASSERT_TRUE(v.has_value()) << i;
    EXPECT_EQ(*v, values[i]) << i;
    EXPECT_EQ(m->types.at("kvtier_gauge_" + n), "gauge");
  }
  EXPECT_EQ(m->sum("kvtier_requests_total"), 13);
  EXPECT_EQ(m->sum("kvtier_requests_total", {{"status", "busy"}}), 3);
  EXPECT_EQ(m->types.at("kvtier_requests_total"), "counter");
  EXPECT_EQ(m->types.at("kvtier_request_seconds"), "histogram");

  auto ph = m->histogram("kvtier_request_seconds", {{"op", "get"}});
  ASSERT_TRUE(ph.has_value());
  LatencyHistogram::Snapshot s = h.snapshot();
  ASSERT_EQ(ph->upper_bounds.size(), LatencyHistogram::kBuckets);
  EXPECT_TRUE(std::isinf(ph->upper_bounds.back()));
  EXPECT_EQ(ph->count, 1000);
  EXPECT_DOUBLE_EQ(ph->sum, s.sum_seconds());
  for (double q : {0.0, 0.5, 0.9, 0.99, 1.0}) EXPECT_DOUBLE_EQ(ph->quantile(q), s.quantile(q)) << q;
  // Both ops together: the empty one adds nothing.
  auto all = m->histogram("kvtier_request_seconds");
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->count, 1000);
  EXPECT_DOUBLE_EQ(all->quantile(0.5), s.quantile(0.5));
  EXPECT_FALSE(m->histogram("kvtier_request_seconds", {{"op", "lookup"}}).has_value());
}

TEST(PrometheusParse, HistogramSinceAnEarlierScrape) {
  LatencyHistogram h;
  for (int i = 0; i < 100; ++i) h.record(std::chrono::microseconds(10));
  PrometheusText before;
  before.add_histogram("request", {{"op", "get"}}, h.snapshot());
  for (int i = 0; i < 10; ++i) h.record(std::chrono::milliseconds(30));
  PrometheusText after;
  after.add_histogram("request", {{"op", "get"}}, h.snapshot());
  auto b = parse_prometheus_text(before.text());
  auto a = parse_prometheus_text(after.text());
  ASSERT_TRUE(b.ok() && a.ok());
  ParsedHistogram d = a->histogram("kvtier_request_seconds")->since(*b->histogram("kvtier_request_seconds"));
  EXPECT_EQ(d.count, 10);
  EXPECT_GT(d.quantile(0.5), 0.02);  // only the 30 ms requests: in (20 ms, 50 ms]
  EXPECT_LE(d.quantile(0.5), 0.05);
  // An exporter restart (counts went down): the later histogram whole.
  ParsedHistogram r = b->histogram("kvtier_request_seconds")->since(*a->histogram("kvtier_request_seconds"));
  EXPECT_EQ(r.count, 100);
}

// Random bytes and random lines of exposition-like tokens: parsed or refused, never a crash.
TEST(PrometheusParse, GarbageNeverCrashes) {
  std::uint64_t seed = 11;
  const std::string_view pieces[] = {"metric", "{", "}", "=", "\"", "\\", ",", " ", "\t", "\n",
                                     "\r", "1", "-", "+", "e", ".", "Inf", "NaN", "#", "TYPE",
                                     "HELP", "le", "_bucket", "\xff", std::string_view("\0", 1)};
  int parsed = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    std::size_t len = kvtier::testing::splitmix64(seed) % 200;
    bool bytes = round % 2 == 0;
    for (std::size_t i = 0; i < len; ++i) {
      std::uint64_t r = kvtier::testing::splitmix64(seed);
      if (bytes) {
        text += static_cast<char>(r & 0xff);
      } else {
        text += pieces[r % std::size(pieces)];
      }
    }
    auto m = parse_prometheus_text(text);
    if (m.ok()) {
      ++parsed;
      (void)m->histogram("metric");
      (void)m->sum("metric");
    } else {
      EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    }
  }
  EXPECT_GT(parsed, 0);
}

// Mutations of valid output (a byte flipped, removed, duplicated, or the text cut short) are
// parsed or refused, never a crash, and a parse that succeeds yields usable histograms.
TEST(PrometheusParse, MutatedOutputNeverCrashes) {
  LatencyHistogram h;
  for (int i = 1; i <= 100; ++i) h.record(std::chrono::microseconds(i * 37));
  PrometheusText p;
  p.add("requests", {{"op", "get"}, {"status", "ok"}}, 10, CounterKind::kCount, "help \\ text");
  p.add("tenant_bytes", {{"tenant", "a\"b"}, {"tier", "dram"}}, 1e9, CounterKind::kGauge);
  p.add_histogram("request", {{"op", "get"}}, h.snapshot());
  const std::string base = p.text();
  ASSERT_TRUE(parse_prometheus_text(base).ok());
  std::uint64_t seed = 5;
  int refused = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string text = base;
    std::size_t edits = 1 + kvtier::testing::splitmix64(seed) % 4;
    for (std::size_t e = 0; e < edits && !text.empty(); ++e) {
      std::uint64_t r = kvtier::testing::splitmix64(seed);
      std::size_t at = (r >> 8) % text.size();
      switch (r % 4) {
        case 0: text[at] = static_cast<char>(kvtier::testing::splitmix64(seed)); break;
        case 1: text.erase(at, 1); break;
        case 2: text.insert(at, 1, text[at]); break;
        case 3: text.resize(at); break;
      }
    }
    auto m = parse_prometheus_text(text);
    if (!m.ok()) {
      ++refused;
      continue;
    }
    auto hist = m->histogram("kvtier_request_seconds", {{"op", "get"}});
    if (hist) {
      (void)hist->quantile(0.99);
      (void)hist->since(*hist);
    }
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace kvtier
