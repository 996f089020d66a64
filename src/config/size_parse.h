// Byte sizes as people write them ("4096", "64MiB", "1GB"), for the config file and the CLI.
#pragma once

#include <cstdint>
#include <string_view>

#include "kvtier/status.h"

namespace kvtier {

// Parses a whole, non-negative number of bytes: decimal digits, optional spaces, optional unit.
//   (none), B                       bytes
//   KiB, MiB, GiB, TiB, PiB         powers of 1024 ("64MiB" = 67108864)
//   kB/KB, MB, GB, TB, PB           powers of 1000 ("1GB" = 1000000000)
// Units are case-insensitive; leading and trailing spaces are ignored. InvalidArgument, with the
// offending text in the message, on an empty string, a sign, a fraction, an unknown unit, a bare
// "K"/"M"/"G"/"T"/"P" (ambiguous: write "MiB" or "MB") or a value above 2^64 - 1.
Result<std::uint64_t> parse_byte_size(std::string_view text);

// '0'..'9' only, whatever the locale (std::isdigit follows it): what every number parser of
// config and plan text accepts as a digit.
inline bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace kvtier
