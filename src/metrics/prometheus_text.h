// PrometheusText: renders counters (CounterVisitor) in the Prometheus text exposition format,
// version 0.0.4, for the daemon's /metrics endpoint and the STATS operation.
//
// Names get the "kvtier_" prefix; COUNT values become counters named "<name>_total", GAUGE values
// gauges. Each metric gets one "# TYPE" line. Characters a metric name may not hold become '_'.
//
// Thread-safety: a value type; one per rendering.
#pragma once

#include <string>
#include <string_view>

#include "kvtier/store.h"

namespace kvtier {

class PrometheusText {
 public:
  explicit PrometheusText(std::string prefix = "kvtier_") : prefix_(std::move(prefix)) {}

  void add(std::string_view name, double value, CounterKind kind);
  // A visitor that add()s every counter it is given; valid while this object lives.
  CounterVisitor visitor() {
    return [this](std::string_view name, double value, CounterKind kind) { add(name, value, kind); };
  }
  const std::string& text() const { return text_; }

 private:
  std::string prefix_;
  std::string text_;
};

}  // namespace kvtier
