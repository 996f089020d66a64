// printf into a std::string: fixed-width report columns and numbers in a chosen precision, for
// the reports of `kvtier stat`, `kvtier plan` and the charts.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <string>

namespace kvtier {

// The text vsnprintf writes for `fmt` and `args`, whatever its length.
inline std::string vprintf_string(const char* fmt, va_list args) {
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, args);
  std::string out(n > 0 ? static_cast<std::size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, fmt, again);
  va_end(again);
  return out;
}

[[gnu::format(printf, 1, 2)]] inline std::string printf_string(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::string out = vprintf_string(fmt, args);
  va_end(args);
  return out;
}

}  // namespace kvtier
