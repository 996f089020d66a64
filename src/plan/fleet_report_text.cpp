// render_fleet_text: a fixed-width table, one row per shape (fleet_report_text.h).
#include "plan/fleet_report_text.h"

#include <algorithm>
#include <vector>

#include "plan/fleet_format.h"
#include "plan/units.h"

namespace kvtier::plan {
namespace {

using Row = std::vector<std::string>;

std::string plural(double n, const std::string& unit) {
  return format_count(n) + " " + unit + (n == 1 ? "" : "s");
}

std::string table(const std::vector<Row>& rows) {
  std::vector<std::size_t> width;
  for (const Row& r : rows) {
    width.resize(std::max(width.size(), r.size()));
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const Row& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      const std::string pad(width[i] - r[i].size(), ' ');
      line += i == 0 ? r[i] + pad : "  " + pad + r[i];  // names left, numbers right
    }
    out += line + "\n";
  }
  return out;
}

std::string inputs_line(const FleetPlan& plan) {
  const FleetInputs& in = plan.inputs;
  std::string s = "kvtier plan fleet: " + in.capacity_text + " (" + format_bytes(in.capacity_bytes) +
                  "), reduction " + format_ratio(in.reduction) + ":1, protection " +
                  in.protection_text + " (x" + format_ratio(in.protection) + ")\n";
  s += "  stored " + format_bytes(plan.stored_bytes) + "; raw on drives " +
       format_bytes(plan.raw_needed_bytes) + " (object storage: stored, its redundancy is in the price)\n";
  s += "  required read bandwidth: " +
       (in.bandwidth > 0 ? in.bandwidth_text + " (" + format_bandwidth(in.bandwidth) + ")"
                         : std::string("none (units sized by capacity)")) +
       "\n";
  return s;
}

std::string figures_footer(const ShapeCatalog& catalog) {
  int assumptions = 0;
  std::string overrides;
  auto visit = [&](const std::string& owner, const std::map<std::string, Figure>& figures) {
    for (const auto& [name, f] : figures) {
      if (f.assumption && !f.overridden) ++assumptions;
      if (f.overridden) overrides += "  --set " + owner + "." + name + "=" + f.text + "\n";
    }
  };
  visit("common", catalog.common);
  for (const Shape& s : catalog.shapes) visit(s.name, s.figures);
  std::string out = "\n" + std::to_string(assumptions) +
                    " figures of these shapes are assumptions, not published numbers (prices above "
                    "all): see --json or --html for each figure's source, date and note, and "
                    "override any with --set <shape>.<field>=<value>.\n";
  if (!overrides.empty()) out += "Overridden on the command line:\n" + overrides;
  return out;
}

// The units cell: "43,403 VMs", "2,311 enclosures in 61 racks", "200 storage accounts".
std::string format_units(const ShapePlan& p) {
  std::string s = plural(p.units, p.unit_name);
  if (p.racks) s += " in " + plural(*p.racks, "rack");
  return s;
}

}  // namespace

std::string render_fleet_text(const FleetPlan& plan, const ShapeCatalog& catalog) {
  std::vector<Row> rows = {{"shape", "units", "binds", "bottleneck", "raw", "usable", "power",
                            "$/month", "$/TB-month", "read", "net:NVMe", "full read"}};
  for (const ShapePlan& p : plan.shapes) {
    rows.push_back({
        p.name,
        format_units(p),
        std::string(binding_name(p.binding)),
        p.bottleneck,
        p.raw_bytes ? format_bytes(*p.raw_bytes) : "-",
        format_bytes(p.usable_bytes),
        p.facility_power_kw ? format_power_kw(*p.facility_power_kw) : "-",
        format_usd(p.usd_per_month),
        format_usd(p.usd_per_tb_month),
        format_bandwidth(p.read_bandwidth),
        p.network_to_nvme_ratio ? format_ratio(*p.network_to_nvme_ratio) : "-",
        format_duration(p.full_read_seconds),
    });
  }
  return inputs_line(plan) + "\n" + table(rows) + figures_footer(catalog);
}

}  // namespace kvtier::plan
