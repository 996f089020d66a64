// Prometheus text exposition (see prometheus_text.h).
#include "metrics/prometheus_text.h"

#include <cmath>
#include <cstdio>

namespace kvtier {
namespace {

// Metric names match [a-zA-Z_:][a-zA-Z0-9_:]*.
std::string sanitize(std::string_view name) {
  std::string out(name);
  for (std::size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) out[i] = '_';
  }
  return out.empty() ? "_" : out;
}

// Integers print exactly; other values with enough digits to round-trip.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
}

}  // namespace

void PrometheusText::add(std::string_view name, double value, CounterKind kind) {
  std::string metric = sanitize(prefix_ + std::string(name));
  if (kind == CounterKind::kCount) metric += "_total";
  text_ += "# TYPE " + metric + (kind == CounterKind::kCount ? " counter\n" : " gauge\n");
  text_ += metric + " " + format_value(value) + "\n";
}

}  // namespace kvtier
