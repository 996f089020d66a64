// A small shapes file with round numbers, one shape per kind, for hand-computed fleet cases
// (tests/plan/fleet_plan_test.cpp and plan_fleet_cli_test.cpp).
#pragma once

#include <string_view>

namespace kvtier::plan::testing {

inline constexpr std::string_view kTestShapes = R"(
[sources.test]
title = "hand-made figures for the tests"

[common]
hours_per_month = { value = 730, source = "test", date = "2026-12-02" }

[shapes.vm_a]
kind = "vm"
title = "Test VM"
vcpus = { value = 8, source = "test", date = "2026-12-02" }
nvme_drives = { value = 10, source = "test", date = "2026-12-02" }
nvme_drive_capacity = { value = "2 TB", source = "test", date = "2026-12-02" }
nvme_read_bandwidth = { value = "20 GB/s", source = "test", date = "2026-12-02" }
network_bandwidth = { value = "80 Gbps", source = "test", date = "2026-12-02" }
price_per_hour = { value = 2, source = "test", date = "2026-12-02", assumption = true }

[shapes.enc_a]
kind = "enclosure"
title = "Test enclosure"
drives_per_enclosure = { value = 20, source = "test", date = "2026-12-02" }
drive_capacity = { value = "10 TB", source = "test", date = "2026-12-02" }
drive_read_bandwidth = { value = "1 GB/s", source = "test", date = "2026-12-02" }
network_bandwidth = { value = "100 Gbps", source = "test", date = "2026-12-02" }
enclosure_rack_units = { value = 2, source = "test", date = "2026-12-02" }
rack_units_per_rack = { value = 42, source = "test", date = "2026-12-02" }
rack_units_reserved = { value = 2, source = "test", date = "2026-12-02" }
rack_power_limit_kw = { value = 10, source = "test", date = "2026-12-02" }
enclosure_power_kw = { value = 1, source = "test", date = "2026-12-02" }
drive_price_per_tb = { value = 50, source = "test", date = "2026-12-02" }
enclosure_price = { value = 10000, source = "test", date = "2026-12-02" }
amortization_months = { value = 50, source = "test", date = "2026-12-02" }
colocation_per_kw_month = { value = 100, source = "test", date = "2026-12-02" }
pue = { value = 1.5, source = "test", date = "2026-12-02" }
electricity_per_kwh = { value = 0.1, source = "test", date = "2026-12-02" }

[shapes.obj_a]
kind = "object"
title = "Test object tier"
price_per_gb_month = { value = 0.02, source = "test", date = "2026-12-02" }
billing_gb = { value = "1 GB", source = "test", date = "2026-12-02" }
account_capacity = { value = "100 TB", source = "test", date = "2026-12-02" }
account_egress = { value = "80 Gbps", source = "test", date = "2026-12-02" }
account_requests_per_second = { value = 1000, source = "test", date = "2026-12-02" }
read_request_size = { value = "4 MB", source = "test", date = "2026-12-02" }
read_price_per_10k = { value = 0.5, source = "test", date = "2026-12-02" }
retrieval_per_gb = { value = 0.01, source = "test", date = "2026-12-02" }
)";

}  // namespace kvtier::plan::testing
