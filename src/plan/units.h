// Bandwidths as planners write them ("36000 MB/s", "41 Gbps"), on the byte size grammar of
// config/size_parse.h (parse_byte_quantity: "1 EB", "1.92 TB"), and formatting for reports.
// The unit is case-sensitive where case changes the meaning: "B" is a byte and "b" a bit.
//
// Thread-safety: plain functions of their arguments.
#pragma once

#include <string>
#include <string_view>

#include "config/size_parse.h"
#include "kvtier/status.h"

namespace kvtier::plan {

// Parses a bandwidth in bytes per second: a number, optional spaces and a unit that is required:
//   B/s kB/s MB/s GB/s TB/s PB/s, KiB/s .. PiB/s, and the same with "Bps" ("GBps")   bytes/s
//   b/s kb/s Mb/s Gb/s Tb/s, Kib/s .. Tib/s, and "bps" ("Gbps", "Mbps")           bits/s (/ 8)
// InvalidArgument as parse_byte_quantity, and when the unit is missing (a bare number could be
// either).
Result<double> parse_bandwidth(std::string_view text);

// Which prefixes a formatted quantity uses.
enum class UnitSystem { kSI, kIEC };

// `bytes` with three significant digits and the largest prefix that keeps the number >= 1:
// format_bytes(1e18) = "1.00 EB", format_bytes(1.5 * 1024, kIEC) = "1.50 KiB".
std::string format_bytes(double bytes, UnitSystem system = UnitSystem::kSI);
// Bytes per second, the same way: "36.0 GB/s".
std::string format_bandwidth(double bytes_per_second, UnitSystem system = UnitSystem::kSI);

}  // namespace kvtier::plan
