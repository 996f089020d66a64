// `kvtier plan fleet`'s arithmetic: how many units of each deployment shape hold a capacity and
// serve a read bandwidth, and what they cost (the formulas are in docs/PLAN.md,
// "kvtier plan fleet").
//
// Thread-safety: plain values and functions of their arguments.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/status.h"
#include "plan/shapes.h"

namespace kvtier::plan {

// Parses a protection scheme into its overhead factor (raw bytes per stored byte):
//   "8+2"   erasure coding, k data + m parity fragments: (k + m) / k = 1.25
//   "3x"    replication, 3 copies: 3
//   "1.4"   an overhead factor as such
// InvalidArgument for anything else, k = 0, or an overhead below 1.
Result<double> parse_protection(std::string_view text);

struct FleetInputs {
  double capacity_bytes = 1e18;  // the data to hold, before reduction. Default: 1 EB
  std::string capacity_text = "1 EB";
  double reduction = 1;          // data-reduction ratio (compression, dedup): stored = capacity / reduction
  double protection = 1.25;      // raw bytes per stored byte (parse_protection). Default: 8+2
  std::string protection_text = "8+2";
  double bandwidth = 0;          // required aggregate read bandwidth, bytes/s; 0: none
  std::string bandwidth_text;
};

// Validates inputs (capacity > 0, reduction >= 1, protection >= 1, bandwidth >= 0).
Status validate(const FleetInputs& inputs);

enum class Binding { kCapacity, kBandwidth };
std::string_view binding_name(Binding b);  // "capacity", "bandwidth"

// One shape's answer. Sizes in bytes, bandwidths in bytes/s, money in US dollars per month.
struct ShapePlan {
  std::string name, title;
  ShapeKind kind = ShapeKind::kVm;
  std::string unit_name;  // "VM", "enclosure", "storage account"
  double units = 0;       // max(units_for_capacity, units_for_bandwidth): a whole number
  double units_for_capacity = 0;
  double units_for_bandwidth = 0;  // 0 without a bandwidth requirement
  Binding binding = Binding::kCapacity;
  std::optional<double> racks;  // enclosures only
  std::optional<double> enclosures_per_rack;
  // What limits one unit's reads: "network" or "drives" (VMs, enclosures; "balanced" when equal),
  // "account egress" or "request rate" (object storage).
  std::string bottleneck;
  double unit_read_bandwidth = 0;   // min(drive side, network side) of one unit
  std::optional<double> raw_bytes;  // drives bought or rented; none for object storage
  double usable_bytes = 0;          // raw / protection (object storage: the bytes billed)
  std::optional<double> it_power_kw;        // enclosures only: what the hardware draws
  std::optional<double> facility_power_kw;  // it_power_kw x PUE
  double usd_per_month = 0;
  double usd_per_tb_month = 0;  // usd_per_month per TB (10^12 bytes) of the capacity asked for
  // The parts of usd_per_month, in report order ("VMs"; "hardware (amortized)", "colocation",
  // "energy"; "storage").
  std::vector<std::pair<std::string, double>> cost_parts;
  double read_bandwidth = 0;  // aggregate: units x unit_read_bandwidth
  std::optional<double> network_to_nvme_ratio;  // network / drive read bandwidth of one unit
  double full_read_seconds = 0;  // stored bytes / read_bandwidth
  double full_read_usd = 0;      // request and retrieval charges of that read (object storage)
};

struct FleetPlan {
  FleetInputs inputs;
  double stored_bytes = 0;  // capacity / reduction
  double raw_needed_bytes = 0;  // stored x protection (self-managed shapes)
  std::vector<ShapePlan> shapes;  // in the catalog's order
};

// Plans every shape of `catalog`. InvalidArgument when the inputs are invalid or a shape cannot
// be planned (an enclosure that fits no rack).
Result<FleetPlan> plan_fleet(const FleetInputs& inputs, const ShapeCatalog& catalog);

}  // namespace kvtier::plan
