// Byte sizes and bandwidths as planners write them ("1 EB", "1.92 TB", "36000 MB/s", "41 Gbps"),
// for `kvtier plan`: parsing with SI and IEC prefixes kept apart, and formatting for reports.
//
// Unlike config/size_parse.h (whole byte counts for buffers), these are planning quantities:
// fractions are allowed ("1.92 TB"), the result is a double, and the unit is case-sensitive where
// case changes the meaning: "B" is a byte and "b" a bit; "M" is mega and "m" is rejected (milli);
// "kB" and "KB" are both 1000 bytes, "KiB" is 1024.
//
// Thread-safety: plain functions of their arguments.
#pragma once

#include <string>
#include <string_view>

#include "kvtier/status.h"

namespace kvtier::plan {

// The largest quantity these functions accept: 10^27 bytes (or bytes/s). Far above any plan, and
// still exact enough in a double for every digit a person writes.
inline constexpr double kMaxQuantity = 1e27;

// Parses a number of bytes: a non-negative decimal number ("1", "1.92", "1e18"), optional spaces,
// then an optional unit:
//   B (or none)                          bytes
//   kB KB MB GB TB PB EB ZB              powers of 1000 ("1 EB" = 1e18)
//   KiB MiB GiB TiB PiB EiB ZiB          powers of 1024 ("1 EiB" = 2^60)
// InvalidArgument naming the text on an empty string, a sign, an unknown unit (with the list of
// known ones), a bit unit ("Gb": a size is in bytes) or a value above kMaxQuantity.
Result<double> parse_bytes(std::string_view text);

// Parses a bandwidth in bytes per second: a number, optional spaces and a unit that is required:
//   B/s kB/s MB/s GB/s TB/s PB/s, KiB/s .. PiB/s, and the same with "Bps" ("GBps")   bytes/s
//   b/s kb/s Mb/s Gb/s Tb/s, Kib/s .. Tib/s, and "bps" ("Gbps", "Mbps")           bits/s (/ 8)
// InvalidArgument as parse_bytes, and when the unit is missing (a bare number could be either).
Result<double> parse_bandwidth(std::string_view text);

// Which prefixes a formatted quantity uses.
enum class UnitSystem { kSI, kIEC };

// `bytes` with three significant digits and the largest prefix that keeps the number >= 1:
// format_bytes(1e18) = "1.00 EB", format_bytes(1.5 * 1024, kIEC) = "1.50 KiB".
std::string format_bytes(double bytes, UnitSystem system = UnitSystem::kSI);
// Bytes per second, the same way: "36.0 GB/s".
std::string format_bandwidth(double bytes_per_second, UnitSystem system = UnitSystem::kSI);

}  // namespace kvtier::plan
