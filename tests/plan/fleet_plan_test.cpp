// plan/fleet_plan.h and plan/shapes.h: one hand-computed case per shape kind, sized by capacity
// and by bandwidth, the protection schemes, the built-in catalog, overrides and the errors for a
// bad shapes file.
#include "plan/fleet_plan.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "plan/fleet_test_shapes.h"
#include "plan/shapes.h"

namespace kvtier::plan {
namespace {

ShapeCatalog test_catalog() {
  Result<ShapeCatalog> c = parse_shapes(testing::kTestShapes, "test.toml");
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c).value() : ShapeCatalog{};
}

// 1 PB at 2:1 reduction and 8+2: 0.5 PB stored, 0.625 PB raw.
FleetInputs petabyte(double bandwidth = 0) {
  FleetInputs in;
  in.capacity_bytes = 1e15;
  in.capacity_text = "1 PB";
  in.reduction = 2;
  in.protection = 1.25;
  in.protection_text = "8+2";
  in.bandwidth = bandwidth;
  return in;
}

const ShapePlan& shape(const FleetPlan& plan, const std::string& name) {
  for (const ShapePlan& p : plan.shapes) {
    if (p.name == name) return p;
  }
  static ShapePlan none;
  ADD_FAILURE() << "no shape " << name;
  return none;
}

FleetPlan plan_of(const FleetInputs& in) {
  Result<FleetPlan> p = plan_fleet(in, test_catalog());
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return p.ok() ? std::move(p).value() : FleetPlan{};
}

TEST(PlanFleet, VmSizedByCapacity) {
  const FleetPlan plan = plan_of(petabyte());
  EXPECT_DOUBLE_EQ(plan.stored_bytes, 5e14);
  EXPECT_DOUBLE_EQ(plan.raw_needed_bytes, 6.25e14);
  const ShapePlan& vm = shape(plan, "vm_a");
  // 10 x 2 TB = 20 TB a VM: 6.25e14 / 2e13 = 31.25 -> 32 VMs.
  EXPECT_EQ(vm.units, 32);
  EXPECT_EQ(vm.units_for_capacity, 32);
  EXPECT_EQ(vm.units_for_bandwidth, 0);
  EXPECT_EQ(vm.binding, Binding::kCapacity);
  EXPECT_EQ(vm.unit_name, "VM");
  // 80 Gbps = 10 GB/s of network under 20 GB/s of NVMe.
  EXPECT_EQ(vm.bottleneck, "network");
  EXPECT_DOUBLE_EQ(*vm.network_to_nvme_ratio, 0.5);
  EXPECT_DOUBLE_EQ(vm.unit_read_bandwidth, 1e10);
  EXPECT_DOUBLE_EQ(vm.read_bandwidth, 3.2e11);
  EXPECT_DOUBLE_EQ(*vm.raw_bytes, 6.4e14);
  EXPECT_DOUBLE_EQ(vm.usable_bytes, 5.12e14);
  EXPECT_FALSE(vm.facility_power_kw.has_value());
  EXPECT_DOUBLE_EQ(vm.usd_per_month, 32 * 2 * 730.0);  // 46,720
  EXPECT_DOUBLE_EQ(vm.usd_per_tb_month, 46.72);        // per TB of the 1 PB asked for
  EXPECT_DOUBLE_EQ(vm.full_read_seconds, 1562.5);      // 5e14 / 3.2e11
}

TEST(PlanFleet, VmSizedByBandwidth) {
  const FleetPlan plan = plan_of(petabyte(1e12));  // held: shape() returns a reference into it
  const ShapePlan& vm = shape(plan, "vm_a");
  // 1 TB/s over 10 GB/s a VM: 100 VMs, more than the 32 the capacity needs.
  EXPECT_EQ(vm.units_for_capacity, 32);
  EXPECT_EQ(vm.units_for_bandwidth, 100);
  EXPECT_EQ(vm.units, 100);
  EXPECT_EQ(vm.binding, Binding::kBandwidth);
  EXPECT_DOUBLE_EQ(vm.read_bandwidth, 1e12);
  EXPECT_DOUBLE_EQ(vm.usd_per_month, 146000);
  EXPECT_DOUBLE_EQ(vm.full_read_seconds, 500);
}

TEST(PlanFleet, EnclosureSizedByCapacity) {
  const FleetPlan plan = plan_of(petabyte());  // held: shape() returns a reference into it
  const ShapePlan& e = shape(plan, "enc_a");
  // 20 x 10 TB = 200 TB an enclosure: 6.25e14 / 2e14 = 3.125 -> 4.
  EXPECT_EQ(e.units, 4);
  EXPECT_EQ(e.binding, Binding::kCapacity);
  // 40 free rack units / 2 = 20 by space, 10 kW / 1 kW = 10 by power: 10 a rack, 1 rack.
  EXPECT_EQ(*e.enclosures_per_rack, 10);
  EXPECT_EQ(*e.racks, 1);
  EXPECT_EQ(e.bottleneck, "network");  // 12.5 GB/s of network, 20 GB/s of drives
  EXPECT_DOUBLE_EQ(*e.network_to_nvme_ratio, 0.625);
  EXPECT_DOUBLE_EQ(*e.raw_bytes, 8e14);
  EXPECT_DOUBLE_EQ(e.usable_bytes, 6.4e14);
  EXPECT_DOUBLE_EQ(*e.it_power_kw, 4);
  EXPECT_DOUBLE_EQ(*e.facility_power_kw, 6);
  // Hardware 4 x (10,000 + 200 TB x $50) / 50 months = 1,600; colocation 4 kW x 100 = 400;
  // energy 6 kW x 730 h x $0.1 = 438.
  ASSERT_EQ(e.cost_parts.size(), 3u);
  EXPECT_DOUBLE_EQ(e.cost_parts[0].second, 1600);
  EXPECT_DOUBLE_EQ(e.cost_parts[1].second, 400);
  EXPECT_DOUBLE_EQ(e.cost_parts[2].second, 438);
  EXPECT_DOUBLE_EQ(e.usd_per_month, 2438);
  EXPECT_DOUBLE_EQ(e.usd_per_tb_month, 2.438);
  EXPECT_DOUBLE_EQ(e.read_bandwidth, 5e10);
  EXPECT_DOUBLE_EQ(e.full_read_seconds, 10000);
}

TEST(PlanFleet, EnclosureSizedByBandwidth) {
  const FleetPlan plan = plan_of(petabyte(250e9));  // held: shape() returns a reference into it
  const ShapePlan& e = shape(plan, "enc_a");
  EXPECT_EQ(e.units, 20);  // 250 GB/s / 12.5 GB/s
  EXPECT_EQ(e.binding, Binding::kBandwidth);
  EXPECT_EQ(*e.racks, 2);
  EXPECT_DOUBLE_EQ(e.usd_per_month, 5 * 2438.0);
}

TEST(PlanFleet, ObjectStorageSizedByCapacity) {
  const FleetPlan plan = plan_of(petabyte());  // held: shape() returns a reference into it
  const ShapePlan& o = shape(plan, "obj_a");
  // Stored 5e14 (no protection: the provider's is in the price) / 100 TB = 5 accounts.
  EXPECT_EQ(o.units, 5);
  EXPECT_EQ(o.unit_name, "storage account");
  EXPECT_EQ(o.binding, Binding::kCapacity);
  // 1,000 requests/s x 4 MB = 4 GB/s, under the 10 GB/s egress limit.
  EXPECT_EQ(o.bottleneck, "request rate");
  EXPECT_DOUBLE_EQ(o.unit_read_bandwidth, 4e9);
  EXPECT_FALSE(o.raw_bytes.has_value());
  EXPECT_FALSE(o.network_to_nvme_ratio.has_value());
  EXPECT_DOUBLE_EQ(o.usable_bytes, 5e14);
  EXPECT_DOUBLE_EQ(o.usd_per_month, 10000);  // 500,000 GB x $0.02
  EXPECT_DOUBLE_EQ(o.usd_per_tb_month, 10);
  EXPECT_DOUBLE_EQ(o.full_read_seconds, 25000);  // 5e14 / (5 x 4e9)
  // 500,000 GB x $0.01 retrieval + 1.25e8 GETs / 10,000 x $0.5.
  EXPECT_DOUBLE_EQ(o.full_read_usd, 11250);
}

TEST(PlanFleet, ObjectStorageSizedByBandwidth) {
  const FleetPlan plan = plan_of(petabyte(100e9));  // held: shape() returns a reference into it
  const ShapePlan& o = shape(plan, "obj_a");
  EXPECT_EQ(o.units, 25);  // 100 GB/s / 4 GB/s an account
  EXPECT_EQ(o.binding, Binding::kBandwidth);
  EXPECT_DOUBLE_EQ(o.usd_per_month, 10000);  // storage is billed by bytes, not accounts
}

TEST(PlanFleet, ProtectionSchemes) {
  EXPECT_DOUBLE_EQ(*parse_protection("8+2"), 1.25);
  EXPECT_DOUBLE_EQ(*parse_protection("4+2"), 1.5);
  EXPECT_DOUBLE_EQ(*parse_protection("3x"), 3);
  EXPECT_DOUBLE_EQ(*parse_protection("1.4"), 1.4);
  EXPECT_DOUBLE_EQ(*parse_protection("1"), 1);
  for (const char* bad : {"", "-3x", "0+2", "8+", "+2", "0.5", "x", "8+2+1", "three"}) {
    Result<double> r = parse_protection(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("bad protection"), std::string::npos) << bad;
  }
}

TEST(PlanFleet, BadInputsAreRefused) {
  ShapeCatalog c = test_catalog();
  FleetInputs in = petabyte();
  in.capacity_bytes = 0;
  EXPECT_FALSE(plan_fleet(in, c).ok());
  in = petabyte();
  in.reduction = 0.5;
  EXPECT_NE(plan_fleet(in, c).status().message().find("--reduction"), std::string::npos);
  in = petabyte();
  in.protection = 0.9;
  EXPECT_FALSE(plan_fleet(in, c).ok());
}

TEST(PlanFleet, OverridesReplaceAFigureAndSayWhere) {
  ShapeCatalog c = test_catalog();
  ASSERT_TRUE(apply_override(c, "vm_a.price_per_hour=3").ok());
  ASSERT_TRUE(apply_override(c, "vm_a.network_bandwidth=160 Gbps").ok());
  ASSERT_TRUE(apply_override(c, "common.hours_per_month=720").ok());
  const Figure& f = c.find("vm_a")->figures.at("price_per_hour");
  EXPECT_TRUE(f.overridden);
  EXPECT_EQ(f.source, "command line");
  Result<FleetPlan> p = plan_fleet(petabyte(), c);
  ASSERT_TRUE(p.ok());
  const ShapePlan& vm = shape(*p, "vm_a");
  EXPECT_DOUBLE_EQ(vm.usd_per_month, 32 * 3 * 720.0);
  EXPECT_EQ(vm.bottleneck, "balanced");  // 20 GB/s both sides

  auto error = [&](const char* set) {
    Status s = apply_override(c, set);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << set;
    return s.message();
  };
  EXPECT_NE(error("nope.price_per_hour=1").find("unknown shape \"nope\""), std::string::npos);
  EXPECT_NE(error("vm_a.colour=1").find("has no field \"colour\""), std::string::npos);
  EXPECT_NE(error("vm_a.price_per_hour=-1").find("negative"), std::string::npos);
  EXPECT_NE(error("vm_a.price_per_hour=2 GB").find("not a number"), std::string::npos);
  EXPECT_NE(error("vm_a.network_bandwidth=10 furlongs").find("unknown unit"), std::string::npos);
  EXPECT_NE(error("vm_a.nvme_drives=2.5").find("whole number"), std::string::npos);
  EXPECT_NE(error("vm_a.nvme_drives=0").find("more than zero"), std::string::npos);
  EXPECT_NE(error("price=1").find("expected <shape>.<field>=<value>"), std::string::npos);
}

TEST(PlanFleet, SelectKeepsTheNamedShapesInOrder) {
  ShapeCatalog c = test_catalog();
  const std::vector<std::string> names = {"obj_a", "vm_a"};
  ASSERT_TRUE(select_shapes(c, names).ok());
  ASSERT_EQ(c.shapes.size(), 2u);
  EXPECT_EQ(c.shapes[0].name, "obj_a");
  const std::vector<std::string> unknown = {"L1000"};
  Status s = select_shapes(c, unknown);
  EXPECT_NE(s.message().find("unknown shape \"L1000\""), std::string::npos) << s.message();
}

// The text of the test shapes with `from` replaced by `to` (which must occur).
std::string edited(std::string_view from, std::string_view to) {
  std::string s(testing::kTestShapes);
  const std::size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

std::string shapes_error(const std::string& text) {
  Result<ShapeCatalog> c = parse_shapes(text, "bad.toml");
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  return c.status().message();
}

TEST(PlanFleet, BadShapesFilesAreClearErrors) {
  std::string e = shapes_error(edited("pue = { value = 1.5, source = \"test\", date = \"2026-12-02\" }\n", ""));
  EXPECT_NE(e.find("[shapes.enc_a] is missing the figure \"pue\""), std::string::npos) << e;
  EXPECT_EQ(e.rfind("bad.toml:", 0), 0u) << e;
  e = shapes_error(edited("value = 8, source = \"test\", ", "value = 8, "));
  EXPECT_NE(e.find("shapes.vm_a.vcpus: missing \"source\""), std::string::npos) << e;
  e = shapes_error(edited("value = 8, source = \"test\", date = \"2026-12-02\"", "value = 8, source = \"test\""));
  EXPECT_NE(e.find("missing \"date\""), std::string::npos) << e;
  e = shapes_error(edited("source = \"test\", date = \"2026-12-02\" }\nnvme_drives",
                          "source = \"elsewhere\", date = \"2026-12-02\" }\nnvme_drives"));
  EXPECT_NE(e.find("\"elsewhere\" is not a key of [sources]"), std::string::npos) << e;
  e = shapes_error(edited("kind = \"vm\"", "kind = \"mainframe\""));
  EXPECT_NE(e.find("unknown kind \"mainframe\""), std::string::npos) << e;
  e = shapes_error(edited("value = 10, source", "value = -10, source"));
  EXPECT_NE(e.find("must not be negative"), std::string::npos) << e;
  e = shapes_error(edited("\"20 GB/s\"", "\"20 GB\""));
  EXPECT_NE(e.find("unknown unit \"GB\""), std::string::npos) << e;
  e = shapes_error(edited("title = \"Test VM\"", "title = \"Test VM\"\ncolour = \"blue\""));
  EXPECT_NE(e.find("unknown key \"shapes.vm_a.colour\""), std::string::npos) << e;
  e = shapes_error("[shapes.x\n");
  EXPECT_NE(e.find("TOML syntax error"), std::string::npos) << e;
}

TEST(PlanFleet, BuiltInCatalogIsDataShapesToml) {
  std::ifstream in(std::string(KVTIER_SOURCE_DIR) + "/data/shapes.toml", std::ios::binary);
  std::stringstream file;
  file << in.rdbuf();
  ASSERT_FALSE(file.str().empty());
  EXPECT_EQ(default_shapes_toml(), file.str()) << "the build's copy is stale: re-run cmake";

  Result<ShapeCatalog> c = load_default_shapes();
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  ASSERT_EQ(c->shapes.size(), 11u);
  const Shape* l96 = c->find("L96s_v4");
  ASSERT_NE(l96, nullptr);
  EXPECT_DOUBLE_EQ(l96->value("network_bandwidth"), 41e9 / 8);
  EXPECT_DOUBLE_EQ(l96->value("nvme_read_bandwidth"), 36e9);
  EXPECT_DOUBLE_EQ(l96->value("nvme_drives") * l96->value("nvme_drive_capacity"), 23.04e12);
  EXPECT_TRUE(l96->figures.at("price_per_hour").assumption);
  EXPECT_TRUE(c->find("L32aos_v4")->figures.at("nvme_read_bandwidth").assumption);
  EXPECT_DOUBLE_EQ(c->find("L160iaos_v5")->value("nvme_drive_capacity"), 15.36e12);
  EXPECT_DOUBLE_EQ(c->find("qlc_1u_122TB")->value("drive_capacity"), 122.88e12);
  EXPECT_DOUBLE_EQ(c->find("qlc_1u_61TB")->value("colocation_per_kw_month"), 184);
  EXPECT_DOUBLE_EQ(c->find("qlc_1u_61TB")->value("pue"), 1.58);
  EXPECT_DOUBLE_EQ(c->find("blob_premium")->value("price_per_gb_month"), 0.15);
  EXPECT_DOUBLE_EQ(c->find("blob_hot")->value("price_per_gb_month"), 0.0184);
  EXPECT_DOUBLE_EQ(c->find("blob_cool")->value("price_per_gb_month"), 0.01);
  EXPECT_DOUBLE_EQ(c->find("blob_cold")->value("price_per_gb_month"), 0.0036);
  EXPECT_DOUBLE_EQ(c->find("blob_archive")->value("price_per_gb_month"), 0.002);
  EXPECT_DOUBLE_EQ(c->find("blob_hot")->value("account_capacity"), 5.0 * 1125899906842624.0);
  // Every shape of the built-in file plans at 1 EB.
  Result<FleetPlan> p = plan_fleet(FleetInputs{}, *c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  for (const ShapePlan& s : p->shapes) {
    EXPECT_GT(s.units, 0) << s.name;
    EXPECT_GT(s.usd_per_month, 0) << s.name;
  }
}

}  // namespace
}  // namespace kvtier::plan
