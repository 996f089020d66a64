// libFuzzer target for the Prometheus text parser (src/metrics/prometheus_parse.cpp): `kvtier
// stat` and the bench read it from a socket. Promises: an error or samples; the queries on the
// result never crash; the samples rendered again by PrometheusText parse again, as many of them.
#include <cmath>

#include "fuzz_check.h"
#include "scrape/prometheus_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parsed = kvtier::parse_prometheus_text(kvtier::fuzz::as_text(data, size));
  if (!parsed.ok()) return 0;
  const kvtier::ParsedMetrics& m = parsed.value();
  kvtier::PrometheusText out("");
  for (const auto& s : m.samples) {
    (void)m.sum(s.name);
    (void)m.label_values(s.name, s.labels.empty() ? "le" : s.labels.front().first);
    if (auto h = m.histogram(s.name)) {
      (void)h->quantile(0.5);
      (void)h->since(*h);
    }
    std::vector<kvtier::MetricLabel> labels;
    for (const auto& [k, v] : s.labels) labels.push_back({k, v});
    out.add(s.name, labels, s.value, kvtier::CounterKind::kGauge);
  }
  auto again = kvtier::parse_prometheus_text(out.text());
  FUZZ_EXPECT(again.ok(), "PrometheusText's rendering does not parse: " + again.status().message());
  FUZZ_EXPECT(again.value().samples.size() == m.samples.size(),
              "rendered " + std::to_string(m.samples.size()) + " samples, parsed back " +
                  std::to_string(again.value().samples.size()));
  return 0;
}
