// Durations as people write them on the `kvtier plan` command line ("30s", "15m", "2h", "1h30m").
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "kvtier/status.h"

namespace kvtier::plan {

// Parses a non-negative duration into seconds: one or more <number><unit> terms with no sign,
// e.g. "500ms", "30s", "15m", "2h", "1d", "1h30m", "1.5h". Units: ms, s, m (or min), h, d
// (case-insensitive). A bare "0" is zero; any other number needs a unit, since "15" could mean
// seconds or minutes. InvalidArgument naming the text on anything else.
Result<double> parse_duration_seconds(std::string_view text);

// The shortest readable form of `seconds` (for echoing durations; fleet_format.h's
// format_duration writes "12.3 min" for computed ones): "0s", "250ms", "45s", "1m 30s", "15m", "2h", "1h 30m",
// "3d 4h". Below a minute fractions keep three significant digits ("1.25s"); above a minute the
// value is rounded to whole seconds, and only the two largest units are shown.
std::string format_duration_compact(double seconds);

}  // namespace kvtier::plan
