// The byte size grammar of size_parse.h: one prefix table, one unit rule, two number forms.
#include "config/size_parse.h"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>

namespace kvtier {
namespace {

struct Prefix {
  std::string_view name;
  double factor;
};

// Both spellings of kilo are in use ("kB" is the SI symbol, "KB" the common one); every other
// prefix is upper case, so "mb" (millibit) and "gb" are not guessed at.
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

constexpr std::string_view kByteUnits =
    "B, kB, MB, GB, TB, PB, EB, ZB, KiB, MiB, GiB, TiB, PiB, EiB, ZiB";
constexpr std::string_view kByteSize = "byte size";

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

Status bad(std::string_view what, std::string_view text, std::string_view why) {
  return Status::InvalidArgument("bad " + std::string(what) + " \"" + std::string(text) +
                                 "\": " + std::string(why));
}

// What every number must start with: a digit, so signs, "nan", "inf" and a bare unit are refused.
Status check_start(std::string_view what, std::string_view text, std::string_view s) {
  if (s.empty()) return bad(what, text, "expected a number of bytes such as 4096 or \"64MiB\"");
  if (s[0] == '-') return bad(what, text, "must not be negative");
  if (!is_ascii_digit(s[0])) {
    return bad(what, text, "must start with a digit (e.g. 4096, \"64MiB\", \"1GB\")");
  }
  return Status::Ok();
}

// The factor of a byte unit, or why `unit` is not one.
Result<double> byte_unit_factor(std::string_view text, std::string_view unit) {
  if (unit.empty()) return 1.0;
  if (std::optional<double> f = unit_factor(unit, "B", "")) return *f;
  if (unit_factor(unit, "b", "")) {
    return bad(kByteSize, text, "\"" + std::string(unit) + "\" is bits; a size is in bytes (" +
                                    std::string(kByteUnits) + ")");
  }
  const char prefix = ascii_lower(unit[0]);
  if (unit.size() == 1 && std::string_view("kmgtpez").find(prefix) != std::string::npos) {
    const std::string upper(1, static_cast<char>(prefix - 'a' + 'A'));
    return bad(kByteSize, text,
               "ambiguous unit: write \"" + upper + "iB\" (powers of 1024) or \"" + upper +
                   "B\" (powers of 1000)");
  }
  return bad(kByteSize, text,
             "unknown unit \"" + std::string(unit) + "\"" + unit_case_hint(unit, "B", "") +
                 "; use " + std::string(kByteUnits));
}

}  // namespace

Result<std::uint64_t> parse_byte_size(std::string_view text) {
  const std::string_view s = trim(text);
  KVTIER_RETURN_IF_ERROR(check_start(kByteSize, text, s));
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t number = 0;
  std::size_t i = 0;
  for (; i < s.size() && is_ascii_digit(s[i]); ++i) {
    const auto digit = static_cast<std::uint64_t>(s[i] - '0');
    if (number > (kMax - digit) / 10) return bad(kByteSize, text, "too large (more than 2^64 - 1)");
    number = number * 10 + digit;
  }
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    return bad(kByteSize, text,
               "whole numbers only: write e.g. \"1536MiB\" instead of \"1.5GiB\"");
  }
  Result<double> factor = byte_unit_factor(text, trim(s.substr(i)));
  if (!factor.ok()) return factor.status();
  // Every factor is a power of 10 or 2 that a double holds exactly; Z and Zi exceed 2^64.
  if (number == 0) return std::uint64_t{0};
  if (*factor >= 0x1p64 || number > kMax / static_cast<std::uint64_t>(*factor)) {
    return bad(kByteSize, text, "too large (more than 2^64 - 1)");
  }
  return number * static_cast<std::uint64_t>(*factor);
}

Result<QuantityText> split_quantity(std::string_view what, std::string_view text) {
  const std::string_view s = trim(text);
  // A quantity may start with its decimal point (".5 TB"); a whole size may not.
  const bool point_first = s.size() > 1 && s[0] == '.' && is_ascii_digit(s[1]);
  if (!point_first) KVTIER_RETURN_IF_ERROR(check_start(what, text, s));
  QuantityText out;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out.number);
  if (ec == std::errc::result_out_of_range) {
    // Out of range either way: an exponent below the smallest double ("1e-400") is not large.
    const std::string_view number(s.data(), static_cast<std::size_t>(end - s.data()));
    const bool tiny = number.find("e-") != std::string_view::npos ||
                      number.find("E-") != std::string_view::npos;
    return bad(what, text, tiny ? "too small (rounds to 0)" : "too large");
  }
  if (ec != std::errc()) return bad(what, text, "must start with a number");
  out.unit = trim(s.substr(static_cast<std::size_t>(end - s.data())));
  return out;
}

Result<double> checked_quantity(std::string_view what, std::string_view text, double value) {
  if (!std::isfinite(value) || value > kMaxByteQuantity) {
    return bad(what, text, "too large (more than 10^27)");
  }
  return value;
}

Result<double> parse_byte_quantity(std::string_view text) {
  Result<QuantityText> q = split_quantity(kByteSize, text);
  if (!q.ok()) return q.status();
  Result<double> factor = byte_unit_factor(text, q->unit);
  if (!factor.ok()) return factor.status();
  return checked_quantity(kByteSize, text, q->number * *factor);
}

std::optional<double> unit_factor(std::string_view unit, std::string_view base,
                                  std::string_view suffix) {
  const std::size_t tail = base.size() + suffix.size();
  if (unit.size() < tail || unit.substr(unit.size() - suffix.size()) != suffix ||
      unit.substr(unit.size() - tail, base.size()) != base) {
    return std::nullopt;
  }
  const std::string_view prefix = unit.substr(0, unit.size() - tail);
  for (const Prefix& p : kPrefixes) {
    if (p.name == prefix) return p.factor;
  }
  return std::nullopt;
}

std::string unit_case_hint(std::string_view unit, std::string_view base, std::string_view suffix) {
  for (const Prefix& p : kPrefixes) {
    const std::string known = std::string(p.name) + std::string(base) + std::string(suffix);
    if (ascii_lower(unit) == ascii_lower(known)) return " (did you mean \"" + known + "\"?)";
  }
  return "";
}

}  // namespace kvtier
