// parse_byte_size: "64MiB" -> 67108864. See size_parse.h for the accepted forms.
#include "config/size_parse.h"

#include <array>
#include <limits>
#include <string>

namespace kvtier {
namespace {

struct Unit {
  std::string_view name;  // lower case
  std::uint64_t multiplier;
};

constexpr std::uint64_t kKi = 1024;
constexpr std::uint64_t kK = 1000;
constexpr std::array<Unit, 12> kUnits = {{
    {"b", 1},
    {"kib", kKi},
    {"mib", kKi* kKi},
    {"gib", kKi* kKi* kKi},
    {"tib", kKi* kKi* kKi* kKi},
    {"pib", kKi* kKi* kKi* kKi* kKi},
    {"kb", kK},
    {"mb", kK* kK},
    {"gb", kK* kK* kK},
    {"tb", kK* kK* kK* kK},
    {"pb", kK* kK* kK* kK* kK},
    {"", 1},
}};

bool is_space(char c) { return c == ' ' || c == '\t'; }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

Status bad(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("bad byte size \"" + std::string(text) +
                                 "\": " + std::string(why));
}

}  // namespace

Result<std::uint64_t> parse_byte_size(std::string_view text) {
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  const std::string_view s = text.substr(begin, end - begin);
  if (s.empty()) return bad(text, "expected a number of bytes such as 4096 or \"64MiB\"");
  if (s[0] == '-') return bad(text, "must not be negative");
  if (!is_ascii_digit(s[0])) return bad(text, "must start with a digit (e.g. 4096, \"64MiB\", \"1GB\")");

  std::uint64_t number = 0;
  std::size_t i = 0;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  for (; i < s.size() && is_ascii_digit(s[i]); ++i) {
    const auto digit = static_cast<std::uint64_t>(s[i] - '0');
    if (number > (kMax - digit) / 10) return bad(text, "too large (more than 2^64 - 1 bytes)");
    number = number * 10 + digit;
  }
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    return bad(text, "whole numbers only: write e.g. \"1536MiB\" instead of \"1.5GiB\"");
  }
  while (i < s.size() && is_space(s[i])) ++i;

  std::string unit;
  for (; i < s.size(); ++i) unit += lower(s[i]);
  for (const Unit& u : kUnits) {
    if (unit != u.name) continue;
    if (u.multiplier != 1 && number > kMax / u.multiplier) {
      return bad(text, "too large (more than 2^64 - 1 bytes)");
    }
    return number * u.multiplier;
  }
  if (unit == "k" || unit == "m" || unit == "g" || unit == "t" || unit == "p") {
    const std::string prefix(1, static_cast<char>(unit[0] - 'a' + 'A'));
    return bad(text, "ambiguous unit: write \"" + prefix + "iB\" (powers of 1024) or \"" + prefix +
                         "B\" (powers of 1000)");
  }
  return bad(text, "unknown unit \"" + std::string(s.substr(s.size() - unit.size())) +
                       "\" (use B, KiB, MiB, GiB, TiB, PiB, KB, MB, GB, TB or PB)");
}

}  // namespace kvtier
