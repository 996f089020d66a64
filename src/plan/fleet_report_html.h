// `kvtier plan fleet --html FILE`: a self-contained report to put in front of a customer: the
// inputs, bar charts (inline SVG) of $/month, $/TB-month, units and full-read time, the side-by-side
// table, and every figure with its source, date and whether it is an assumption. No scripts,
// fonts or images are fetched: the file renders offline.
//
// Every number shown for a shape is an element with data-shape="<name>", data-field="<JSON key of
// that shape>" and data-value="<the JSON number>", so a test can compare the page with --json.
#pragma once

#include <string>

#include "plan/fleet_plan.h"
#include "plan/shapes.h"

namespace kvtier::plan {

std::string render_fleet_html(const FleetPlan& plan, const ShapeCatalog& catalog);

}  // namespace kvtier::plan
