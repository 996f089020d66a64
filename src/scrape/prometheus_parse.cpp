// Prometheus text exposition parser and sample queries (see prometheus_parse.h).
#include "scrape/prometheus_parse.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>

#include "metrics/latency_histogram.h"

namespace kvtier {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_name_start(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
}
bool is_name_char(char c, bool allow_colon) {
  return is_name_start(c, allow_colon) || (c >= '0' && c <= '9');
}

// A cursor over one line. Every read checks the bounds first.
class LineReader {
 public:
  explicit LineReader(std::string_view line) : s_(line) {}
  bool done() const { return pos_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[pos_]; }
  void skip_blanks() {
    while (!done() && is_blank(s_[pos_])) ++pos_;
  }
  bool consume(char c) {
    if (peek() != c || done()) return false;
    ++pos_;
    return true;
  }
  // [a-zA-Z_(:)][a-zA-Z0-9_(:)]*; empty when the next character cannot start a name.
  std::string_view name(bool allow_colon) {
    std::size_t start = pos_;
    if (done() || !is_name_start(s_[pos_], allow_colon)) return {};
    while (!done() && is_name_char(s_[pos_], allow_colon)) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // Up to the next blank or the end of the line.
  std::string_view token() {
    std::size_t start = pos_;
    while (!done() && !is_blank(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // A double-quoted label value with \\, \" and \n escapes; false on a bad escape or no close.
  bool quoted(std::string* out) {
    if (!consume('"')) return false;
    while (!done()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (done()) return false;
      char e = s_[pos_++];
      if (e != '\\' && e != '"' && e != 'n') return false;
      *out += e == 'n' ? '\n' : e;
    }
    return false;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

// A sample value: a float as Go's ParseFloat reads it in decimal ("1", "-2.5e-3", "NaN", "+Inf").
std::optional<double> parse_float(std::string_view t) {
  if (t.empty()) return std::nullopt;
  std::string_view body = t;
  if (body.front() == '+') {
    body.remove_prefix(1);
    if (body.empty() || body.front() == '-' || body.front() == '+') return std::nullopt;
  }
  double v = 0;
  auto r = std::from_chars(body.data(), body.data() + body.size(), v);
  if (r.ec != std::errc() || r.ptr != body.data() + body.size()) {
    // from_chars refuses a well-formed number out of double's range (1e999); the format reads
    // it as strtod does (+-Inf, or 0 for an underflow).
    if (r.ec == std::errc::result_out_of_range && r.ptr == body.data() + body.size()) {
      return std::strtod(std::string(body).c_str(), nullptr);
    }
    return std::nullopt;
  }
  return v;
}

bool parse_timestamp(std::string_view t) {
  if (t.empty()) return false;
  long long ms = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), ms);
  return r.ec == std::errc() && r.ptr == t.data() + t.size();
}

Status line_error(std::size_t line_no, std::string_view what) {
  return Status::InvalidArgument("metrics text line " + std::to_string(line_no) + ": " +
                                 std::string(what));
}

// "# HELP name text", "# TYPE name type" or any other comment.
Status parse_comment(LineReader& r, std::size_t line_no, ParsedMetrics* out) {
  r.consume('#');
  r.skip_blanks();
  std::string_view keyword = r.token();
  if (keyword != "HELP" && keyword != "TYPE") return Status::Ok();  // a plain comment
  r.skip_blanks();
  std::string_view name = r.name(/*allow_colon=*/true);
  if (name.empty()) return line_error(line_no, "a " + std::string(keyword) + " line without a metric name");
  if (!r.done() && !is_blank(r.peek())) return line_error(line_no, "bad metric name");
  if (keyword == "HELP") return Status::Ok();  // free text (may hold escapes); not needed
  r.skip_blanks();
  std::string_view type = r.token();
  r.skip_blanks();
  if (!r.done()) return line_error(line_no, "trailing text after TYPE");
  if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
      type != "untyped") {
    return line_error(line_no, "unknown metric type");
  }
  out->types[std::string(name)] = std::string(type);
  return Status::Ok();
}

Status parse_sample(LineReader& r, std::size_t line_no, ParsedMetrics* out) {
  PrometheusSample s;
  std::string_view name = r.name(/*allow_colon=*/true);
  if (name.empty()) return line_error(line_no, "expected a metric name");
  s.name = std::string(name);
  r.skip_blanks();
  if (r.consume('{')) {
    for (;;) {
      r.skip_blanks();
      if (r.consume('}')) break;
      std::string_view label = r.name(/*allow_colon=*/false);
      if (label.empty()) return line_error(line_no, "expected a label name or '}'");
      r.skip_blanks();
      if (!r.consume('=')) return line_error(line_no, "expected '=' after a label name");
      r.skip_blanks();
      std::string value;
      if (!r.quoted(&value)) return line_error(line_no, "bad label value (quote or escape)");
      for (const auto& [n, v] : s.labels) {
        if (n == label) return line_error(line_no, "duplicate label name");
      }
      s.labels.emplace_back(std::string(label), std::move(value));
      r.skip_blanks();
      if (r.consume(',')) continue;
      if (r.consume('}')) break;
      return line_error(line_no, "expected ',' or '}' in the label set");
    }
  }
  r.skip_blanks();
  std::optional<double> value = parse_float(r.token());
  if (!value) return line_error(line_no, "bad sample value");
  s.value = *value;
  r.skip_blanks();
  if (!r.done() && !parse_timestamp(r.token())) return line_error(line_no, "bad timestamp");
  r.skip_blanks();
  if (!r.done()) return line_error(line_no, "trailing text after the sample");
  out->samples.push_back(std::move(s));
  return Status::Ok();
}

}  // namespace

std::optional<std::string_view> PrometheusSample::label(std::string_view label_name) const {
  for (const auto& [n, v] : labels) {
    if (n == label_name) return std::string_view(v);
  }
  return std::nullopt;
}

bool PrometheusSample::has_labels(std::initializer_list<MetricLabel> match) const {
  for (const MetricLabel& m : match) {
    std::optional<std::string_view> v = label(m.name);
    if (!v || *v != m.value) return false;
  }
  return true;
}

double ParsedHistogram::quantile(double q) const {
  return quantile_from_cumulative(upper_bounds, cumulative, q);
}

ParsedHistogram ParsedHistogram::since(const ParsedHistogram& earlier) const {
  if (earlier.upper_bounds != upper_bounds || earlier.count > count) return *this;
  ParsedHistogram d = *this;
  for (std::size_t i = 0; i < cumulative.size(); ++i) {
    if (earlier.cumulative[i] > cumulative[i]) return *this;
    d.cumulative[i] = cumulative[i] - earlier.cumulative[i];
  }
  d.sum = sum - earlier.sum;
  d.count = count - earlier.count;
  return d;
}

std::optional<double> ParsedMetrics::sum(std::string_view name,
                                         std::initializer_list<MetricLabel> match) const {
  std::optional<double> total;
  for (const PrometheusSample& s : samples) {
    if (s.name != name || !s.has_labels(match)) continue;
    total = total.value_or(0) + s.value;
  }
  return total;
}

std::vector<std::string> ParsedMetrics::label_values(std::string_view name,
                                                     std::string_view label_name) const {
  std::vector<std::string> values;
  for (const PrometheusSample& s : samples) {
    if (s.name != name) continue;
    std::optional<std::string_view> v = s.label(label_name);
    if (v && std::find(values.begin(), values.end(), *v) == values.end()) values.emplace_back(*v);
  }
  return values;
}

std::optional<ParsedHistogram> ParsedMetrics::histogram(
    std::string_view name, std::initializer_list<MetricLabel> match) const {
  const std::string bucket = std::string(name) + "_bucket";
  const std::string sum_name = std::string(name) + "_sum";
  const std::string count_name = std::string(name) + "_count";
  std::map<double, double> by_bound;  // ordered: the bounds come out ascending
  ParsedHistogram h;
  bool any = false, have_count = false;
  for (const PrometheusSample& s : samples) {
    if (!s.has_labels(match)) continue;
    if (s.name == bucket) {
      std::optional<std::string_view> le = s.label("le");
      if (!le) continue;
      std::optional<double> bound = parse_float(*le);
      if (!bound || std::isnan(*bound)) continue;
      by_bound[*bound] += s.value;
      any = true;
    } else if (s.name == sum_name) {
      h.sum += s.value;
    } else if (s.name == count_name) {
      h.count += s.value;
      have_count = true;
    }
  }
  if (!any) return std::nullopt;
  for (const auto& [bound, cumulative] : by_bound) {
    h.upper_bounds.push_back(bound);
    h.cumulative.push_back(cumulative);
  }
  if (!have_count) h.count = h.cumulative.back();
  return h;
}

Result<ParsedMetrics> parse_prometheus_text(std::string_view text) {
  ParsedMetrics out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    LineReader r(line);
    r.skip_blanks();
    if (r.done()) continue;
    Status st = r.peek() == '#' ? parse_comment(r, line_no, &out) : parse_sample(r, line_no, &out);
    if (!st.ok()) return st;
  }
  return out;
}

}  // namespace kvtier
