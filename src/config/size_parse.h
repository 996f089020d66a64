// Byte sizes as people write them ("4096", "64MiB", "1.92 TB"): the one unit grammar of the
// config file, the CLI and `kvtier plan`.
//
// A size is a non-negative decimal number, optional spaces, then an optional unit:
//   (none), B                            bytes
//   KiB MiB GiB TiB PiB EiB ZiB          powers of 1024 ("64MiB" = 67108864)
//   kB KB MB GB TB PB EB ZB              powers of 1000 ("1GB" = 1000000000)
// Units are case-sensitive, as they are on a network link: "b" is a bit, "m" would be milli. A
// unit that differs from one of these only in case is refused with the one meant ("did you mean
// \"GiB\"?"), a bit unit ("Gb") as bits, a bare prefix ("64M") as ambiguous between MiB and MB.
// Leading and trailing spaces are ignored. Every error is InvalidArgument quoting the text.
//
// Thread-safety: plain functions of their arguments.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "coding/ascii.h"
#include "kvtier/status.h"

namespace kvtier {

// A whole number of bytes, for buffers and capacities: digits only ("1.5GiB" is refused with
// the whole number to write instead), at most 2^64 - 1.
Result<std::uint64_t> parse_byte_size(std::string_view text);

// A planning quantity: the number may have a fraction or an exponent ("1.92 TB", "1e18"); the
// result is a double, at most kMaxByteQuantity.
inline constexpr double kMaxByteQuantity = 1e27;
Result<double> parse_byte_quantity(std::string_view text);

// For units built on the same prefixes, such as plan's bandwidths ("GB/s", "Gbps"):
// A quantity's number and the unit text after it. `what` ("bandwidth") names the quantity in
// errors; the number follows parse_byte_quantity's rules.
struct QuantityText {
  double number = 0;
  std::string_view unit;
};
Result<QuantityText> split_quantity(std::string_view what, std::string_view text);
// `value` when finite and at most kMaxByteQuantity; "too large" otherwise.
Result<double> checked_quantity(std::string_view what, std::string_view text, double value);
// The factor of `unit` spelled prefix + base + suffix ("GB/s" with base "B", suffix "/s"), or
// nullopt. Prefixes: "", k, K, M, G, T, P, E, Z, Ki, Mi, Gi, Ti, Pi, Ei, Zi.
std::optional<double> unit_factor(std::string_view unit, std::string_view base,
                                  std::string_view suffix);
// " (did you mean \"Gbps\"?)" when `unit` spells such a unit in another case, or "".
std::string unit_case_hint(std::string_view unit, std::string_view base, std::string_view suffix);

}  // namespace kvtier
