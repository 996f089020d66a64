// parse_bytes / parse_bandwidth / format_*: see units.h for the accepted forms.
#include "plan/units.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>

#include "config/size_parse.h"

namespace kvtier::plan {
namespace {

struct Prefix {
  std::string_view name;
  double factor;
};

// Both spellings of kilo are in use ("kB" is the SI symbol, "KB" the common one); every other
// SI prefix is upper case, so "mb" (millibit) and "gb" are not guessed at.
constexpr std::array<Prefix, 16> kPrefixes = {{
    {"", 1.0},
    {"k", 1e3},
    {"K", 1e3},
    {"M", 1e6},
    {"G", 1e9},
    {"T", 1e12},
    {"P", 1e15},
    {"E", 1e18},
    {"Z", 1e21},
    {"Ki", 0x1p10},
    {"Mi", 0x1p20},
    {"Gi", 0x1p30},
    {"Ti", 0x1p40},
    {"Pi", 0x1p50},
    {"Ei", 0x1p60},
    {"Zi", 0x1p70},
}};

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

Status bad(std::string_view what, std::string_view text, std::string_view why) {
  return Status::InvalidArgument("bad " + std::string(what) + " \"" + std::string(text) +
                                 "\": " + std::string(why));
}

// A quantity split into its number and its unit text.
struct Split {
  double number = 0;
  std::string_view unit;
};

Result<Split> split_number(std::string_view what, std::string_view text) {
  const std::string_view s = trim(text);
  if (s.empty()) return bad(what, text, "empty");
  if (s[0] == '-') return bad(what, text, "must not be negative");
  if (s[0] == '+') return bad(what, text, "write the number without a sign");
  if (!is_ascii_digit(s[0]) && s[0] != '.') return bad(what, text, "must start with a number");
  Split out;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out.number);
  if (ec == std::errc::result_out_of_range) return bad(what, text, "too large");
  if (ec != std::errc()) return bad(what, text, "must start with a number");
  out.unit = trim(s.substr(static_cast<std::size_t>(end - s.data())));
  return out;
}

Result<double> checked(std::string_view what, std::string_view text, double value) {
  if (!std::isfinite(value) || value > kMaxQuantity) {
    return bad(what, text, "too large (more than 10^27)");
  }
  return value;
}

// The factor of `unit` among prefix + base + suffix for the given bases, or nullopt.
std::optional<double> match(std::string_view unit, std::string_view base,
                            std::initializer_list<std::string_view> suffixes) {
  for (const Prefix& p : kPrefixes) {
    for (std::string_view suffix : suffixes) {
      if (unit.size() == p.name.size() + base.size() + suffix.size() &&
          unit.substr(0, p.name.size()) == p.name &&
          unit.substr(p.name.size(), base.size()) == base &&
          unit.substr(p.name.size() + base.size()) == suffix) {
        return p.factor;
      }
    }
  }
  return std::nullopt;
}

// " (did you mean \"GB\"?)" when `unit` differs from a known unit only in case.
std::string suggestion(std::string_view unit, std::string_view base,
                       std::initializer_list<std::string_view> suffixes) {
  for (const Prefix& p : kPrefixes) {
    for (std::string_view suffix : suffixes) {
      const std::string known = std::string(p.name) + std::string(base) + std::string(suffix);
      if (equal_ignoring_case(unit, known)) return " (did you mean \"" + known + "\"?)";
    }
  }
  return "";
}

constexpr std::string_view kByteUnits = "B, kB, MB, GB, TB, PB, EB, KiB, MiB, GiB, TiB, PiB, EiB";
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
  char buf[64];
  const double a = std::fabs(value);
  const int decimals = a == 0 ? 0 : a < 9.995 ? 2 : a < 99.95 ? 1 : 0;
  std::snprintf(buf, sizeof buf, "%.*f %s%s", decimals, value, std::string(names[i]).c_str(),
                std::string(base).c_str());
  return buf;
}

}  // namespace

Result<double> parse_bytes(std::string_view text) {
  constexpr std::string_view kWhat = "byte size";
  Result<Split> split = split_number(kWhat, text);
  if (!split.ok()) return split.status();
  const std::string_view unit = split->unit;
  if (unit.empty()) return checked(kWhat, text, split->number);
  if (std::optional<double> f = match(unit, "B", {""})) {
    return checked(kWhat, text, split->number * *f);
  }
  if (match(unit, "b", {""})) {
    return bad(kWhat, text, "\"" + std::string(unit) + "\" is bits; a size is in bytes (" +
                                std::string(kByteUnits) + ")");
  }
  return bad(kWhat, text, "unknown unit \"" + std::string(unit) + "\"" +
                              suggestion(unit, "B", {""}) + "; use " + std::string(kByteUnits));
}

Result<double> parse_bandwidth(std::string_view text) {
  constexpr std::string_view kWhat = "bandwidth";
  Result<Split> split = split_number(kWhat, text);
  if (!split.ok()) return split.status();
  const std::string_view unit = split->unit;
  if (unit.empty()) {
    return bad(kWhat, text, "needs a unit (" + std::string(kRateUnits) + ")");
  }
  if (std::optional<double> f = match(unit, "B", {"/s", "ps"})) {
    return checked(kWhat, text, split->number * *f);
  }
  if (std::optional<double> f = match(unit, "b", {"/s", "ps"})) {
    return checked(kWhat, text, split->number * *f / 8.0);
  }
  std::string hint = suggestion(unit, "B", {"/s"});
  if (hint.empty()) hint = suggestion(unit, "b", {"ps"});
  return bad(kWhat, text, "unknown unit \"" + std::string(unit) + "\"" + hint + "; use " +
                              std::string(kRateUnits));
}

std::string format_bytes(double bytes, UnitSystem system) {
  return format_scaled(bytes, system, "B");
}

std::string format_bandwidth(double bytes_per_second, UnitSystem system) {
  return format_scaled(bytes_per_second, system, "B/s");
}

}  // namespace kvtier::plan
