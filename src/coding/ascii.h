// ASCII digits and case, whatever the locale (<cctype> follows it): how config, CLI, address and
// metrics text is read.
#pragma once

#include <string>
#include <string_view>

namespace kvtier {

// '0'..'9' only: what every number parser of config and plan text accepts as a digit.
inline bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

}  // namespace kvtier
