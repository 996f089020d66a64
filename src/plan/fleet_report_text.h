// `kvtier plan fleet`'s terminal report: the inputs, one row per shape side by side, and which
// figures were assumptions or overridden.
#pragma once

#include <string>

#include "plan/fleet_plan.h"
#include "plan/shapes.h"

namespace kvtier::plan {

std::string render_fleet_text(const FleetPlan& plan, const ShapeCatalog& catalog);

}  // namespace kvtier::plan
