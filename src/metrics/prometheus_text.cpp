// Prometheus text exposition (see prometheus_text.h).
#include "metrics/prometheus_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace kvtier {
namespace {

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Metric names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*.
std::string sanitize(std::string_view name, bool allow_colon) {
  std::string out(name);
  for (std::size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    bool ok = is_letter(c) || (allow_colon && c == ':') || (i > 0 && is_digit(c));
    if (!ok) out[i] = '_';
  }
  return out.empty() ? "_" : out;
}

// Integers print exactly; other values as the shortest text that reads back as the same double
// (so histogram bounds read "0.002", not "0.0020000000000000000416").
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// The length of the well-formed UTF-8 sequence at the start of `s`, or 0 when it is not one
// (overlong forms, surrogates and code points above U+10FFFF are not well formed).
std::size_t utf8_sequence_length(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  unsigned char c = byte(0);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (c == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c >= 0xe1 && c <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// Label values and HELP text must be UTF-8 (a scraper refuses the whole page otherwise), so a
// byte that does not start a well-formed sequence becomes U+FFFD. Backslash and line feed are
// escaped in both; the double quote only in label values.
void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  while (!text.empty()) {
    std::size_t n = utf8_sequence_length(text);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      text.remove_prefix(1);
      continue;
    }
    char c = text[0];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out.append(text.substr(0, n));
    }
    text.remove_prefix(n);
  }
}

std::string escape_help(std::string_view help) {
  std::string out;
  append_escaped(out, help, /*escape_quote=*/false);
  return out;
}

// "{a="x",b="y"}" (with `le` last when given), or "" when there are no labels at all.
std::string render_labels(std::span<const MetricLabel> labels, const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return {};
  std::string out = "{";
  bool first = true;
  for (const MetricLabel& l : labels) {
    if (!first) out += ',';
    first = false;
    out += sanitize(l.name, /*allow_colon=*/false);
    out += "=\"";
    append_escaped(out, l.value, /*escape_quote=*/true);
    out += '"';
  }
  if (le != nullptr) {
    if (!first) out += ',';
    out += "le=\"" + *le + "\"";
  }
  out += '}';
  return out;
}

}  // namespace

PrometheusText::Family* PrometheusText::family(const std::string& metric, Type type,
                                               std::string_view help) {
  auto [it, inserted] = by_name_.try_emplace(metric, families_.size());
  if (inserted) families_.push_back(Family{metric, type, {}, {}});
  Family& f = families_[it->second];
  if (f.type != type) return nullptr;
  if (f.help.empty() && !help.empty()) f.help = escape_help(help);
  return &f;
}

void PrometheusText::add(std::string_view name, std::span<const MetricLabel> labels, double value,
                         CounterKind kind, std::string_view help) {
  std::string metric = sanitize(prefix_ + std::string(name), /*allow_colon=*/true);
  const bool counter = kind == CounterKind::kCount;
  if (counter && !metric.ends_with("_total")) metric += "_total";
  Family* f = family(metric, counter ? Type::kCounter : Type::kGauge, help);
  if (f == nullptr) return;
  f->samples += metric + render_labels(labels) + " " + format_value(value) + "\n";
}

void PrometheusText::add_histogram(std::string_view name, std::span<const MetricLabel> labels,
                                   const LatencyHistogram::Snapshot& snapshot,
                                   std::string_view help) {
  for (const MetricLabel& l : labels) {
    if (sanitize(l.name, false) == "le") return;  // would collide with the bucket label
  }
  std::string metric = sanitize(prefix_ + std::string(name), /*allow_colon=*/true);
  if (!metric.ends_with("_seconds")) metric += "_seconds";
  Family* f = family(metric, Type::kHistogram, help);
  if (f == nullptr) return;
  // Buckets are cumulative; the +Inf bucket equals _count because count is the buckets' sum.
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    cumulative += snapshot.counts[i];
    std::string le = format_value(LatencyHistogram::Snapshot::upper_bound_seconds(i));
    f->samples += metric + "_bucket" + render_labels(labels, &le) + " " +
                  format_value(static_cast<double>(cumulative)) + "\n";
  }
  std::string plain = render_labels(labels);
  f->samples += metric + "_sum" + plain + " " + format_value(snapshot.sum_seconds()) + "\n";
  f->samples += metric + "_count" + plain + " " +
                format_value(static_cast<double>(cumulative)) + "\n";
}

std::string PrometheusText::text() const {
  static constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};
  std::string out;
  for (const Family& f : families_) {
    if (f.samples.empty()) continue;  // every add() of it was dropped
    if (!f.help.empty()) out += "# HELP " + f.name + " " + f.help + "\n";
    out += "# TYPE " + f.name + " " + kTypeNames[static_cast<int>(f.type)] + "\n";
    out += f.samples;
  }
  return out;
}

}  // namespace kvtier
