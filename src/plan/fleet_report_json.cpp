// render_fleet_json (fleet_report_json.h), with nlohmann::json.
#include "plan/fleet_report_json.h"

#include <optional>

#include <nlohmann/json.hpp>

namespace kvtier::plan {
namespace {

using nlohmann::ordered_json;

ordered_json optional_number(const std::optional<double>& v) {
  return v ? ordered_json(*v) : ordered_json(nullptr);
}

ordered_json figures_json(const std::map<std::string, Figure>& figures) {
  ordered_json out = ordered_json::object();
  for (const auto& [name, f] : figures) {
    out[name] = {{"value", f.value},          {"text", f.text},     {"source", f.source},
                 {"date", f.date},            {"assumption", f.assumption}, {"note", f.note},
                 {"overridden", f.overridden}};
  }
  return out;
}

ordered_json shape_json(const ShapePlan& p, const Shape& shape) {
  ordered_json costs = ordered_json::object();
  for (const auto& [what, usd] : p.cost_parts) costs[what] = usd;
  return {
      {"name", p.name},
      {"title", p.title},
      {"kind", shape_kind_name(p.kind)},
      {"unit_name", p.unit_name},
      {"units", p.units},
      {"units_for_capacity", p.units_for_capacity},
      {"units_for_bandwidth", p.units_for_bandwidth},
      {"binding", binding_name(p.binding)},
      {"racks", optional_number(p.racks)},
      {"enclosures_per_rack", optional_number(p.enclosures_per_rack)},
      {"bottleneck", p.bottleneck},
      {"unit_read_bytes_per_s", p.unit_read_bandwidth},
      {"raw_bytes", optional_number(p.raw_bytes)},
      {"usable_bytes", p.usable_bytes},
      {"it_power_kw", optional_number(p.it_power_kw)},
      {"facility_power_kw", optional_number(p.facility_power_kw)},
      {"usd_per_month", p.usd_per_month},
      {"usd_per_tb_month", p.usd_per_tb_month},
      {"cost_parts_usd_per_month", costs},
      {"read_bytes_per_s", p.read_bandwidth},
      {"network_to_nvme_ratio", optional_number(p.network_to_nvme_ratio)},
      {"full_read_seconds", p.full_read_seconds},
      {"full_read_usd", p.full_read_usd},
      {"figures", figures_json(shape.figures)},
  };
}

}  // namespace

std::string json_number(double v) { return ordered_json(v).dump(); }

std::string render_fleet_json(const FleetPlan& plan, const ShapeCatalog& catalog) {
  const FleetInputs& in = plan.inputs;
  ordered_json shapes = ordered_json::array();
  for (const ShapePlan& p : plan.shapes) shapes.push_back(shape_json(p, *catalog.find(p.name)));
  ordered_json sources = ordered_json::object();
  for (const auto& [key, s] : catalog.sources) sources[key] = {{"title", s.title}, {"url", s.url}};
  ordered_json doc = {
      {"inputs",
       {{"capacity_bytes", in.capacity_bytes},
        {"capacity_text", in.capacity_text},
        {"reduction", in.reduction},
        {"protection", in.protection},
        {"protection_text", in.protection_text},
        {"bandwidth_bytes_per_s", in.bandwidth > 0 ? ordered_json(in.bandwidth) : nullptr},
        {"bandwidth_text", in.bandwidth_text}}},
      {"stored_bytes", plan.stored_bytes},
      {"raw_needed_bytes", plan.raw_needed_bytes},
      {"shapes", shapes},
      {"common", figures_json(catalog.common)},
      {"sources", sources},
  };
  return doc.dump(2) + "\n";
}

}  // namespace kvtier::plan
