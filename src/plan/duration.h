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

// The shortest readable form of `seconds`, in the units parse_duration_seconds reads: "0s",
// "26.8ms", "45s", "1m 30s", "15m", "2h", "1h 30m", "3d 4h". Below a minute three significant
// digits ("1.25s"); above, whole seconds and only the two largest units. (fleet_format.h's
// format_duration is a different style, "12.3 min".)
std::string format_duration_compact(double seconds);

}  // namespace kvtier::plan
