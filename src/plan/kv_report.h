// The reports of `kvtier plan kv`: a table for a terminal and JSON with the same numbers, unrounded
// and in base units (bytes, bytes/s, seconds), so a script reads exactly what compute_kv_plan gave.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "plan/fleet_format.h"
#include "plan/kv_plan.h"

namespace kvtier::plan {

// Decimal prefixes (GB, TB: the units drives and links are sold in), three significant digits.
std::string render_kv_plan_text(const KvPlan& plan);

// One JSON object: "model", "inputs", "kv", "rates", "capacity", "load_vs_recompute" and
// "warnings"; field names are KvPlan's (docs/PLAN.md lists them). Indented, newline-terminated.
std::string render_kv_plan_json(const KvPlan& plan);

// A whole number with thousands separators ("327,680"), as the table prints counts and bytes.
inline std::string format_thousands(double n) { return format_count(n); }

}  // namespace kvtier::plan
