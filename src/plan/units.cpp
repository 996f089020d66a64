// parse_bandwidth / format_*: see units.h for the accepted forms.
#include "plan/units.h"

#include <array>
#include <cmath>
#include <optional>
#include <string>

#include "coding/printf_string.h"
#include "config/size_parse.h"

namespace kvtier::plan {
namespace {

Status bad_rate(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("bad bandwidth \"" + std::string(text) + "\": " +
                                 std::string(why));
}

constexpr std::string_view kRateUnits =
    "MB/s, GB/s, TB/s, GiB/s, ... for bytes; Mbps, Gbps, Gb/s, Tb/s, ... for bits";

std::string format_scaled(double value, UnitSystem system, std::string_view base) {
  static constexpr std::array<std::string_view, 8> kSI = {"", "k", "M", "G", "T", "P", "E", "Z"};
  static constexpr std::array<std::string_view, 8> kIEC = {"", "Ki", "Mi", "Gi",
                                                           "Ti", "Pi", "Ei", "Zi"};
  const double step = system == UnitSystem::kSI ? 1000.0 : 1024.0;
  const auto& names = system == UnitSystem::kSI ? kSI : kIEC;
  std::size_t i = 0;
  // Three significant digits; a value that would print as "1000" moves to the next prefix.
  while (i + 1 < names.size() && std::fabs(value) >= step * 0.9995) {
    value /= step;
    ++i;
  }
  const double a = std::fabs(value);
  const int decimals = a == 0 ? 0 : a < 9.995 ? 2 : a < 99.95 ? 1 : 0;
  return printf_string("%.*f ", decimals, value) + std::string(names[i]) +
         std::string(base);
}

}  // namespace

Result<double> parse_bandwidth(std::string_view text) {
  constexpr std::string_view kWhat = "bandwidth";
  Result<QuantityText> split = split_quantity(kWhat, text);
  if (!split.ok()) return split.status();
  const std::string_view unit = split->unit;
  if (unit.empty()) {
    return bad_rate(text, "needs a unit (" + std::string(kRateUnits) + ")");
  }
  for (std::string_view suffix : {"/s", "ps"}) {
    if (std::optional<double> f = unit_factor(unit, "B", suffix)) {
      return checked_quantity(kWhat, text, split->number * *f);
    }
    if (std::optional<double> f = unit_factor(unit, "b", suffix)) {
      return checked_quantity(kWhat, text, split->number * *f / 8.0);
    }
  }
  std::string hint = unit_case_hint(unit, "B", "/s");
  if (hint.empty()) hint = unit_case_hint(unit, "b", "ps");
  return bad_rate(text, "unknown unit \"" + std::string(unit) + "\"" + hint + "; use " +
                            std::string(kRateUnits));
}

std::string format_bytes(double bytes, UnitSystem system) {
  return format_scaled(bytes, system, "B");
}

std::string format_bandwidth(double bytes_per_second, UnitSystem system) {
  return format_scaled(bytes_per_second, system, "B/s");
}

}  // namespace kvtier::plan
