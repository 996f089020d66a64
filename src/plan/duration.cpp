// parse_duration_seconds / format_duration_compact: see duration.h.
#include "plan/duration.h"

#include <cmath>
#include <string>

#include "coding/printf_string.h"
#include "config/size_parse.h"

namespace kvtier::plan {
namespace {

Status bad(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("bad duration \"" + std::string(text) + "\": " + std::string(why));
}

// Seconds per unit, or 0 for an unknown unit.
double unit_seconds(const std::string& unit) {
  if (unit == "ms") return 0.001;
  if (unit == "s") return 1;
  if (unit == "m" || unit == "min") return 60;
  if (unit == "h") return 3600;
  if (unit == "d") return 86400;
  return 0;
}

}  // namespace

Result<double> parse_duration_seconds(std::string_view text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && text[begin] == ' ') ++begin;
  while (end > begin && text[end - 1] == ' ') --end;
  const std::string_view s = text.substr(begin, end - begin);
  constexpr std::string_view kExamples = "write e.g. 30s, 15m, 2h or 1h30m";
  if (s.empty()) return bad(text, std::string("empty: ") + std::string(kExamples));
  if (s[0] == '-') return bad(text, "must not be negative");
  if (s == "0") return 0.0;
  double total = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t number_begin = i;
    while (i < s.size() && (is_ascii_digit(s[i]) || s[i] == '.')) ++i;
    const std::string number(s.substr(number_begin, i - number_begin));
    if (number.empty() || number == "." || number.find('.') != number.rfind('.')) {
      return bad(text, std::string("expected a number at \"") +
                           std::string(s.substr(number_begin)) + "\": " + std::string(kExamples));
    }
    std::string unit;
    while (i < s.size() && !is_ascii_digit(s[i]) && s[i] != '.') {
      if (s[i] != ' ') unit += ascii_lower(s[i]);  // "1h 30m" and "90 s" read like "1h30m", "90s"
      ++i;
    }
    if (unit.empty()) {
      return bad(text, std::string("\"") + number +
                           "\" has no unit (ms, s, m, h or d): " + std::string(kExamples));
    }
    const double per = unit_seconds(unit);
    if (per == 0) {
      return bad(text, "unknown unit \"" + unit + "\" (use ms, s, m, h or d)");
    }
    total += std::stod(number) * per;
  }
  if (!std::isfinite(total)) return bad(text, "too large");
  return total;
}

std::string format_duration_compact(double seconds) {
  if (!std::isfinite(seconds)) return "never";
  if (seconds < 0) return "-" + format_duration_compact(-seconds);
  if (seconds == 0) return "0s";
  if (seconds < 1) {
    const double ms = seconds * 1000;
    return printf_string(ms < 10 ? "%.2fms" : (ms < 100 ? "%.1fms" : "%.0fms"), ms);
  }
  if (seconds < 60) return printf_string("%.3gs", seconds);
  struct Part {
    long long size;
    const char* unit;
  };
  constexpr Part kParts[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  std::string out;
  int shown = 0;
  long long rest = std::llround(seconds);
  for (const Part& part : kParts) {
    const long long n = rest / part.size;
    rest %= part.size;
    if (n == 0 && shown == 0) continue;
    // The second unit is shown only when it is not zero ("2h", not "2h 0m").
    if (shown == 0 || n != 0) out += (shown == 0 ? "" : " ") + std::to_string(n) + part.unit;
    if (++shown == 2) break;
  }
  return out;
}

}  // namespace kvtier::plan
