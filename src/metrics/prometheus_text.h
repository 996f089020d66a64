// PrometheusText: renders metrics in the Prometheus text exposition format, version 0.0.4, for
// the daemon's /metrics endpoint and the STATS operation (parsed back by prometheus_parse.h).
//
// Names get the prefix ("kvtier_"); characters a metric or label name may not hold become '_'.
// COUNT values become counters named "<name>_total" (the suffix is not doubled when the name has
// it), GAUGE values gauges, histograms are in seconds and named "<name>_seconds" (idem).
//
// Families: every sample belongs to the family of its metric name, and each family is rendered as
// one block: "# HELP" (when some add() of it gave a help string), one "# TYPE", then its samples
// in the order they were added. Callers therefore add a family's label sets one call each, in any
// order and interleaved with other families:
//
//   PrometheusText p;
//   for (op : ops) for (status : statuses)
//     p.add("requests", {{"op", op}, {"status", status}}, n, CounterKind::kCount, "Requests answered");
//   for (op : ops) p.add_histogram("request", {{"op", op}}, histogram[op].snapshot());
//   store->visit_counters(p.visitor());
//   std::string body = p.text();
//
// renders kvtier_requests_total{op="get",status="ok"} ... under a single "# TYPE
// kvtier_requests_total counter". The first add() of a family fixes its type; a later add() of the
// same name with another type is a caller bug and is dropped (so the output stays valid), as is a
// histogram label named "le". Label values and help strings may hold any bytes: backslash, double
// quote (label values) and line feed are escaped as the format requires, and bytes that are not
// UTF-8 become U+FFFD (a scraper refuses the whole page over one invalid label value).
//
// Thread-safety: a value type; one per rendering.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kvtier/types.h"
#include "metrics/latency_histogram.h"

namespace kvtier {

struct MetricLabel {
  std::string_view name;
  std::string_view value;
};

class PrometheusText {
 public:
  explicit PrometheusText(std::string prefix = "kvtier_") : prefix_(std::move(prefix)) {}

  // An unlabeled counter or gauge (the CounterVisitor's shape).
  void add(std::string_view name, double value, CounterKind kind) { add(name, {}, value, kind); }
  // A counter or gauge with labels; `help` (optional) becomes the family's "# HELP" line.
  void add(std::string_view name, std::span<const MetricLabel> labels, double value,
           CounterKind kind, std::string_view help = {});
  void add(std::string_view name, std::initializer_list<MetricLabel> labels, double value,
           CounterKind kind, std::string_view help = {}) {
    add(name, std::span<const MetricLabel>(labels.begin(), labels.size()), value, kind, help);
  }

  // A latency histogram: <name>_seconds_bucket{...,le="..."} cumulative for every bound and
  // le="+Inf", then <name>_seconds_sum and <name>_seconds_count.
  void add_histogram(std::string_view name, std::span<const MetricLabel> labels,
                     const LatencyHistogram::Snapshot& snapshot, std::string_view help = {});
  void add_histogram(std::string_view name, std::initializer_list<MetricLabel> labels,
                     const LatencyHistogram::Snapshot& snapshot, std::string_view help = {}) {
    add_histogram(name, std::span<const MetricLabel>(labels.begin(), labels.size()), snapshot,
                  help);
  }

  // A visitor that add()s every counter it is given, unlabeled; valid while this object lives.
  CounterVisitor visitor() {
    return [this](std::string_view name, double value, CounterKind kind) { add(name, value, kind); };
  }

  // Every family added so far, in the order of each family's first add().
  std::string text() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    std::string name;
    Type type;
    std::string help;     // empty: no HELP line
    std::string samples;  // rendered sample lines, each ending in '\n'
  };
  // The family named `metric`, created with `type`; nullptr when it exists with another type.
  Family* family(const std::string& metric, Type type, std::string_view help);

  std::string prefix_;
  std::vector<Family> families_;
  std::unordered_map<std::string, std::size_t> by_name_;
};

}  // namespace kvtier
