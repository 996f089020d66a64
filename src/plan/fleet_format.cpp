// Number formats of the fleet reports (fleet_format.h).
#include "plan/fleet_format.h"

#include <cmath>

#include "coding/printf_string.h"

namespace kvtier::plan {
namespace {

// `v` with three significant digits (v >= 0 and below 1000 after scaling).
std::string three_digits(double v) {
  const double a = std::fabs(v);
  if (a == 0) return "0";
  if (a < 0.01) return printf_string("%.3g", v);
  return printf_string("%.*f", a < 9.995 ? 2 : a < 99.95 ? 1 : 0, v);
}

}  // namespace

std::string format_usd(double usd) {
  static constexpr const char* kSuffix[] = {"", "k", "M", "B", "T"};
  if (std::fabs(usd) < 1) return printf_string("$%.3g", usd);
  std::size_t i = 0;
  while (i + 1 < std::size(kSuffix) && std::fabs(usd) >= 999.5) {
    usd /= 1000;
    ++i;
  }
  return "$" + three_digits(usd) + kSuffix[i];
}

std::string format_count(double n) {
  const std::string s = printf_string("%.0f", std::fabs(n));
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return (n < 0 && out != "0" ? "-" : "") + out;  // no "-0"
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds)) return "never";
  if (seconds < 59.95) return three_digits(seconds) + " s";
  if (seconds < 3597) return three_digits(seconds / 60) + " min";
  if (seconds < 86220) return three_digits(seconds / 3600) + " h";
  return three_digits(seconds / 86400) + " days";
}

std::string format_ratio(double r) { return three_digits(r); }

std::string format_power_kw(double kw) {
  if (kw >= 999.5) return three_digits(kw / 1000) + " MW";
  return three_digits(kw) + " kW";
}

}  // namespace kvtier::plan
