// plan_fleet: units, capacity, power, cost and read time per shape (docs/PLAN.md).
#include "plan/fleet_plan.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace kvtier::plan {
namespace {

constexpr double kTB = 1e12;

// The whole number of units that provide `need` at `per_unit` each. A quotient within a
// billionth of a whole number is that number: 2 TB/s over 25 GB/s is 80 VMs, not 81 because
// the division came out as 80.00000000000001.
double units_for(double need, double per_unit) {
  if (need <= 0) return 0;
  const double q = need / per_unit;
  const double nearest = std::round(q);
  if (std::fabs(q - nearest) <= 1e-9 * std::max(1.0, q)) return nearest;
  return std::ceil(q);
}

// Fills units, binding and the read bandwidths from one unit's capacity and read bandwidth.
void size_units(const FleetPlan& plan, double need_bytes, double unit_bytes, double unit_read,
                ShapePlan& out) {
  out.unit_read_bandwidth = unit_read;
  out.units_for_capacity = units_for(need_bytes, unit_bytes);
  out.units_for_bandwidth = units_for(plan.inputs.bandwidth, unit_read);
  out.binding = out.units_for_bandwidth > out.units_for_capacity ? Binding::kBandwidth
                                                                 : Binding::kCapacity;
  out.units = std::max(out.units_for_capacity, out.units_for_bandwidth);
  out.read_bandwidth = out.units * unit_read;
  out.full_read_seconds = plan.stored_bytes / out.read_bandwidth;
}

// A unit of drives behind a network (a VM, an enclosure): sized on the raw bytes needed, read at
// the slower of its drives and its network.
void size_drive_units(const FleetPlan& plan, double unit_bytes, double drives, double network,
                      ShapePlan& out) {
  size_units(plan, plan.raw_needed_bytes, unit_bytes, std::min(drives, network), out);
  out.bottleneck = network < drives ? "network" : drives < network ? "drives" : "balanced";
  out.network_to_nvme_ratio = network / drives;
  out.raw_bytes = out.units * unit_bytes;
  out.usable_bytes = *out.raw_bytes / plan.inputs.protection;
}

void plan_vm(const FleetPlan& plan, const ShapeCatalog& catalog, const Shape& s, ShapePlan& out) {
  const double unit_bytes = s.value("nvme_drives") * s.value("nvme_drive_capacity");
  const double drives = s.value("nvme_read_bandwidth");
  const double network = s.value("network_bandwidth");
  out.unit_name = "VM";
  size_drive_units(plan, unit_bytes, drives, network, out);
  const double vms = out.units * s.value("price_per_hour") * catalog.common_value("hours_per_month");
  out.cost_parts = {{"VMs", vms}};
}

Status plan_enclosure(const FleetPlan& plan, const ShapeCatalog& catalog, const Shape& s,
                      ShapePlan& out) {
  const double drives_per = s.value("drives_per_enclosure");
  const double unit_bytes = drives_per * s.value("drive_capacity");
  const double drives = drives_per * s.value("drive_read_bandwidth");
  const double network = s.value("network_bandwidth");
  const double kw = s.value("enclosure_power_kw");
  // A rack holds as many enclosures as its free rack units and its power limit both allow.
  const double by_space =
      std::floor((s.value("rack_units_per_rack") - s.value("rack_units_reserved")) /
                 s.value("enclosure_rack_units"));
  const double by_power = std::floor(s.value("rack_power_limit_kw") / kw + 1e-9);
  const double per_rack = std::min(by_space, by_power);
  if (per_rack < 1) {
    return Status::InvalidArgument(s.name + ": not one enclosure fits a rack (" +
                                   std::to_string(static_cast<long long>(by_space)) +
                                   " by rack units, " +
                                   std::to_string(static_cast<long long>(by_power)) + " by power)");
  }
  out.unit_name = "enclosure";
  size_drive_units(plan, unit_bytes, drives, network, out);
  out.enclosures_per_rack = per_rack;
  out.racks = std::ceil(out.units / per_rack);
  out.it_power_kw = out.units * kw;
  out.facility_power_kw = *out.it_power_kw * s.value("pue");
  const double unit_price =
      s.value("enclosure_price") + unit_bytes / kTB * s.value("drive_price_per_tb");
  const double hours = catalog.common_value("hours_per_month");
  out.cost_parts = {
      {"hardware (amortized)", out.units * unit_price / s.value("amortization_months")},
      {"colocation", *out.it_power_kw * s.value("colocation_per_kw_month")},
      {"energy", *out.facility_power_kw * hours * s.value("electricity_per_kwh")},
  };
  return Status::Ok();
}

void plan_object(const FleetPlan& plan, const Shape& s, ShapePlan& out) {
  const double egress = s.value("account_egress");
  const double by_requests = s.value("account_requests_per_second") * s.value("read_request_size");
  out.unit_name = "storage account";
  // The provider's redundancy (LRS: three copies) is inside the price: accounts hold the
  // stored bytes, not stored x protection.
  size_units(plan, plan.stored_bytes, s.value("account_capacity"), std::min(egress, by_requests),
             out);
  out.bottleneck = by_requests < egress ? "request rate" : "account egress";
  out.usable_bytes = plan.stored_bytes;
  const double billed_gb = plan.stored_bytes / s.value("billing_gb");
  out.cost_parts = {{"storage", billed_gb * s.value("price_per_gb_month")}};
  const double requests = std::ceil(plan.stored_bytes / s.value("read_request_size"));
  out.full_read_usd =
      billed_gb * s.value("retrieval_per_gb") + requests / 1e4 * s.value("read_price_per_10k");
}

}  // namespace

Result<double> parse_protection(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("bad protection \"" + std::string(text) + "\": " +
                                   std::string(why) +
                                   " (write erasure coding as \"8+2\", replication as \"3x\", "
                                   "or an overhead factor such as \"1.25\")");
  };
  if (!text.empty() && text[0] == '-') return bad("must not be negative");
  const std::size_t plus = text.find('+');
  if (plus != std::string_view::npos) {
    unsigned k = 0, m = 0;
    const char* end = text.data() + text.size();
    auto [p1, e1] = std::from_chars(text.data(), text.data() + plus, k);
    auto [p2, e2] = std::from_chars(text.data() + plus + 1, end, m);
    if (e1 != std::errc() || p1 != text.data() + plus || e2 != std::errc() || p2 != end) {
      return bad("expected <data>+<parity> fragments, two whole numbers");
    }
    if (k == 0) return bad("needs at least one data fragment");
    return static_cast<double>(k + m) / k;
  }
  std::string_view number = text;
  if (!number.empty() && (number.back() == 'x' || number.back() == 'X')) number.remove_suffix(1);
  double v = 0;
  auto [p, e] = std::from_chars(number.data(), number.data() + number.size(), v);
  if (number.empty() || e != std::errc() || p != number.data() + number.size() ||
      !std::isfinite(v)) {
    return bad("not a scheme or a number");
  }
  if (v < 1) return bad("an overhead below 1 would store less than the data");
  return v;
}

std::string_view binding_name(Binding b) {
  return b == Binding::kBandwidth ? "bandwidth" : "capacity";
}

Status validate(const FleetInputs& in) {
  if (!(in.capacity_bytes > 0)) return Status::InvalidArgument("--capacity must be more than 0");
  if (!(in.reduction >= 1) || !std::isfinite(in.reduction)) {
    return Status::InvalidArgument("--reduction must be 1 or more (stored = capacity / reduction)");
  }
  if (!(in.protection >= 1) || !std::isfinite(in.protection)) {
    return Status::InvalidArgument("--protection must be an overhead of 1 or more");
  }
  if (!(in.bandwidth >= 0)) return Status::InvalidArgument("--bandwidth must not be negative");
  return Status::Ok();
}

Result<FleetPlan> plan_fleet(const FleetInputs& inputs, const ShapeCatalog& catalog) {
  KVTIER_RETURN_IF_ERROR(validate(inputs));
  FleetPlan plan;
  plan.inputs = inputs;
  plan.stored_bytes = inputs.capacity_bytes / inputs.reduction;
  plan.raw_needed_bytes = plan.stored_bytes * inputs.protection;
  for (const Shape& s : catalog.shapes) {
    ShapePlan p;
    p.name = s.name;
    p.title = s.title;
    p.kind = s.kind;
    switch (s.kind) {
      case ShapeKind::kVm: plan_vm(plan, catalog, s, p); break;
      case ShapeKind::kEnclosure: KVTIER_RETURN_IF_ERROR(plan_enclosure(plan, catalog, s, p)); break;
      case ShapeKind::kObject: plan_object(plan, s, p); break;
    }
    for (const auto& [what, usd] : p.cost_parts) p.usd_per_month += usd;
    p.usd_per_tb_month = p.usd_per_month / (inputs.capacity_bytes / kTB);
    plan.shapes.push_back(std::move(p));
  }
  return plan;
}

}  // namespace kvtier::plan
