// `kvtier plan fleet`: what holding a capacity (1 EB by default) costs on each deployment shape of
// data/shapes.toml: cloud VMs with local NVMe, on-prem flash enclosures, object-storage tiers.
//
//   kvtier plan fleet [--capacity "1 EB"] [--reduction 1] [--protection 8+2|3x|1.4]
//                     [--bandwidth "2 TB/s"] [--shapes NAME,...] [--shapes-file FILE]
//                     [--set SHAPE.FIELD=VALUE ...] [--json] [--html FILE]
//
// The arithmetic is src/plan/fleet_plan.*, the reports src/plan/fleet_report_*; docs/PLAN.md has
// the formulas. Exit codes: 0 ok, 2 bad input (a flag, a shapes file, an override), 3 the HTML
// file could not be written.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/text_file.h"
#include "plan/fleet_plan.h"
#include "plan/fleet_report_html.h"
#include "plan/fleet_report_json.h"
#include "plan/fleet_report_text.h"
#include "plan/shapes.h"
#include "plan/units.h"

namespace kvtier::cli {
namespace {

struct FleetOptions {
  std::string capacity = "1 EB";
  std::string reduction = "1";
  std::string protection = "8+2";
  std::string bandwidth;
  std::vector<std::string> shapes;
  std::string shapes_file;
  std::vector<std::string> sets;
  bool json = false;
  std::string html;
};

Result<plan::FleetInputs> inputs_from(const FleetOptions& o) {
  plan::FleetInputs in;
  KVTIER_RETURN_IF_ERROR(
      parse_flag<parse_byte_quantity>("--capacity", o.capacity, in.capacity_bytes));
  in.capacity_text = o.capacity;
  Result<double> reduction = parse_byte_quantity(o.reduction);  // a plain number: no unit given
  if (!reduction.ok() || o.reduction.find_first_not_of("0123456789.eE+ ") != std::string::npos) {
    return Status::InvalidArgument("--reduction \"" + o.reduction +
                                   "\": expected a ratio of 1 or more, e.g. 2 for 2:1");
  }
  in.reduction = *reduction;
  KVTIER_RETURN_IF_ERROR(
      parse_flag<plan::parse_protection>("--protection", o.protection, in.protection));
  in.protection_text = o.protection;
  if (!o.bandwidth.empty()) {
    KVTIER_RETURN_IF_ERROR(
        parse_flag<plan::parse_bandwidth>("--bandwidth", o.bandwidth, in.bandwidth));
    in.bandwidth_text = o.bandwidth;
  }
  KVTIER_RETURN_IF_ERROR(plan::validate(in));
  return in;
}

Result<plan::ShapeCatalog> catalog_from(const FleetOptions& o) {
  Result<plan::ShapeCatalog> catalog =
      o.shapes_file.empty() ? plan::load_default_shapes() : plan::load_shapes_file(o.shapes_file);
  if (!catalog.ok()) return catalog.status();
  for (const std::string& s : o.sets) KVTIER_RETURN_IF_ERROR(plan::apply_override(*catalog, s));
  KVTIER_RETURN_IF_ERROR(plan::select_shapes(*catalog, o.shapes));
  return catalog;
}

int run_plan_fleet(const FleetOptions& o) {
  Result<plan::FleetInputs> inputs = inputs_from(o);
  if (!inputs.ok()) return command_error("plan fleet", inputs.status().message(), kExitUsage);
  Result<plan::ShapeCatalog> catalog = catalog_from(o);
  if (!catalog.ok()) return command_error("plan fleet", catalog.status().message(), kExitUsage);
  Result<plan::FleetPlan> fleet = plan::plan_fleet(*inputs, *catalog);
  if (!fleet.ok()) return command_error("plan fleet", fleet.status().message(), kExitUsage);
  if (!o.html.empty()) {
    Status s = write_text_file(o.html, plan::render_fleet_html(*fleet, *catalog));
    if (!s.ok()) return command_error("plan fleet", s.message(), kExitFailure);
  }
  const std::string out = o.json ? plan::render_fleet_json(*fleet, *catalog)
                                 : plan::render_fleet_text(*fleet, *catalog);
  std::fputs(out.c_str(), stdout);
  if (!o.html.empty() && !o.json) std::printf("HTML report: %s\n", o.html.c_str());
  return kExitOk;
}

}  // namespace

void add_plan_fleet_command(CLI::App& plan, CommandRunner* run) {
  auto o = std::make_shared<FleetOptions>();
  CLI::App* cmd = plan.add_subcommand(
      "fleet", "what a capacity (default 1 EB) costs on cloud VMs, on-prem flash and object "
               "storage: units, power, $/month, read bandwidth (docs/PLAN.md)");
  cmd->add_option("--capacity", o->capacity,
                  "data to hold before reduction: \"1 EB\" (10^18 bytes) or \"1 EiB\" (2^60)")
      ->capture_default_str();
  cmd->add_option("--reduction", o->reduction, "data-reduction ratio (2 = 2:1)")
      ->capture_default_str();
  cmd->add_option("--protection", o->protection,
                  "erasure coding \"8+2\", replication \"3x\" or an overhead factor \"1.4\"; not "
                  "applied to object storage (its redundancy is in the price)")
      ->capture_default_str();
  cmd->add_option("--bandwidth", o->bandwidth,
                  "required aggregate read bandwidth, e.g. \"2 TB/s\" or \"800 Gbps\"");
  cmd->add_option("--shapes", o->shapes, "shapes to compare, comma-separated (default: all)")
      ->delimiter(',');
  cmd->add_option("--shapes-file", o->shapes_file,
                  "read shapes from FILE instead of the data/shapes.toml built into kvtier");
  cmd->add_option("--set", o->sets,
                  "override a figure: SHAPE.FIELD=VALUE (e.g. L96s_v4.price_per_hour=9.5, "
                  "common.hours_per_month=720); repeatable");
  cmd->add_flag("--json", o->json, "print the plan as JSON instead of the table");
  cmd->add_option("--html", o->html, "also write a self-contained HTML report to FILE");
  cmd->callback([o, run] { *run = [o] { return run_plan_fleet(*o); }; });
}

}  // namespace kvtier::cli
