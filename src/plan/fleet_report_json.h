// `kvtier plan fleet --json`: the plan, every shape's figures with their sources, as JSON. The
// HTML report's data-value attributes carry the same numbers (its test compares the two).
#pragma once

#include <string>

#include "plan/fleet_plan.h"
#include "plan/shapes.h"

namespace kvtier::plan {

// A JSON document (indented): {"inputs", "stored_bytes", "raw_needed_bytes", "shapes": [...],
// "common", "sources"}. Field names are listed in docs/PLAN.md; a number that does not apply to
// a shape (racks of a VM) is null.
std::string render_fleet_json(const FleetPlan& plan, const ShapeCatalog& catalog);

// How render_fleet_json and the HTML report write one number, so that both carry the same text.
std::string json_number(double v);

}  // namespace kvtier::plan
