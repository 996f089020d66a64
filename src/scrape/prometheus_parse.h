// Parsing the Prometheus text exposition format (version 0.0.4) back into samples, for
// `kvtier stat` and tests: the inverse of PrometheusText, and tolerant of what other exporters
// write (HELP/TYPE and other comments, blank lines, CRLF, a trailing comma in the label set,
// timestamps, tabs between tokens).
//
// The input is untrusted (it comes from a socket): parse_prometheus_text never crashes or reads
// out of bounds on any bytes, works in one pass with no recursion, and answers InvalidArgument
// naming the line number and what was wrong at the first line that is not valid exposition.
//
// Thread-safety: plain values and free functions; distinct objects may be used from any thread,
// and const methods concurrently.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kvtier/status.h"
#include "metrics/prometheus_text.h"

namespace kvtier {

struct PrometheusSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in text order, values unescaped
  double value = 0;

  // The value of label `label_name`, or nullopt when the sample has no such label.
  std::optional<std::string_view> label(std::string_view label_name) const;
  // Whether every (name, value) in `match` is among the sample's labels (other labels may exist).
  bool has_labels(std::initializer_list<MetricLabel> match) const;
};

// A histogram's series added up across the label sets that matched: ascending bounds (le) and
// cumulative counts, as quantile_from_cumulative takes them.
struct ParsedHistogram {
  std::vector<double> upper_bounds;
  std::vector<double> cumulative;
  double sum = 0;
  double count = 0;
  // The q-quantile in the histogram's unit; NaN when it holds nothing (quantile_from_cumulative).
  double quantile(double q) const;
  // This histogram minus an earlier one with the same bounds (what was observed in between);
  // the histogram itself when the bounds differ or counts went down (the exporter restarted).
  ParsedHistogram since(const ParsedHistogram& earlier) const;
};

struct ParsedMetrics {
  std::vector<PrometheusSample> samples;
  // Family name -> type ("counter", "gauge", "histogram", "summary", "untyped") from TYPE lines.
  std::unordered_map<std::string, std::string> types;

  // The sum of the samples named `name` whose labels include `match`; nullopt when none is.
  std::optional<double> sum(std::string_view name, std::initializer_list<MetricLabel> match = {}) const;
  // The distinct values label `label_name` takes on samples named `name`, in order of appearance.
  std::vector<std::string> label_values(std::string_view name, std::string_view label_name) const;
  // The histogram family `name` (e.g. "kvtier_request_seconds"): its _bucket, _sum and _count
  // samples whose labels include `match`, added up per bound; nullopt when no bucket matched.
  std::optional<ParsedHistogram> histogram(std::string_view name,
                                           std::initializer_list<MetricLabel> match = {}) const;
};

Result<ParsedMetrics> parse_prometheus_text(std::string_view text);

}  // namespace kvtier
