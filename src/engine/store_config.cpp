// StoreConfig: validation of every component's config, and the TOML config file (docs/CONFIG.md).
//
// The file format (every key optional; an absent key keeps the default of include/kvtier/config.h):
//
//   data_dir = "./var"                  # string, non-empty
//   max_value_bytes = "256MiB"          # size, [1, 4 GiB - 1]
//   promote_on_nvme_hit = true          # bool
//
//   [dram]
//   capacity_bytes = "1GiB"             # size; 0 disables the tier
//   shards = 16                         # power of two in [1, 1024]
//   small_queue_fraction = 0.10         # (0, 0.5]
//   max_pinned_fraction = 0.5           # [0, 1]
//   max_lease_ms = 600000               # integer > 0
//
//   [nvme]
//   default_file_bytes = "4GiB"         # size; 0 disables the tier, else >= 4 KiB + 2 regions
//   region_size = "64MiB"               # size, multiple of 4 KiB in [1 MiB, 1 GiB]
//   write_buffers = 2                   # [2, 64]
//   write_io_bytes = "1MiB"             # size, multiple of 4 KiB in [4 KiB, region_size]
//   io_depth = 8                        # [1, 256]
//   reclaim = "fifo"                    # "fifo" or "lru"
//   reinsert_min_hits = 1               # integer >= 0; 0 disables reinsertion
//   write_budget_mb_s = 0               # number >= 0 (10^6 bytes/s); 0 = unlimited
//   write_budget_burst_s = 1.0          # number > 0
//   index_shards = 64                   # power of two in [1, 4096]
//   format_foreign_devices = false      # bool
//   reformat_damaged = false            # bool
//   erase_removed = false               # bool
//   flush_interval_ms = 1000            # integer in [0, 3600000]; 0 = only when a region fills
//
//   [[nvme.devices]]                    # zero or more
//   path = "/dev/nvme1n1"               # string, non-empty, distinct
//   size_bytes = 0                      # size; 0 = whole block device, else >= 4 KiB + 2 regions
//
// A "size" is a non-negative integer of bytes or a string such as "64MiB" or "1GB"
// (config/size_parse.h). Numbers may be integers or floats; counts must be integers. Unknown keys,
// wrong types and negative counts are errors that name the key and its line:column (the field
// rules are config/toml_fields.h, shared with the daemon's file). The parsed config must pass
// StoreConfig::validate() before it is returned. A daemon config file ([server], [[tenants]]) is
// rejected here with a message saying so; the daemon reads the same engine keys through
// read_store_config_fields (engine/store_config_toml.h).
#include "kvtier/config.h"

#include <bit>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "config/config_error.h"
#include "config/toml_fields.h"
#include "engine/store_config_toml.h"
#include "shared/shared_config.h"

namespace kvtier {
namespace {

// Every region device holds a 4 KiB superblock and at least two regions (one being written while
// another is reclaimed).
constexpr std::uint64_t kSuperblockBytes = 4096;
constexpr std::uint64_t kIoAlign = 4096;
constexpr std::uint64_t kMaxValueBytes = 4 * kGiB - 1;

std::string num(std::uint64_t v) { return std::to_string(v); }
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

bool power_of_two_in(std::uint64_t v, std::uint64_t lo, std::uint64_t hi) {
  return std::has_single_bit(v) && v >= lo && v <= hi;
}

std::uint64_t min_device_bytes(std::uint64_t region_size) {
  return kSuperblockBytes + 2 * region_size;
}

}  // namespace

// ---- validation --------------------------------------------------------------------------------

Status DramConfig::validate() const {
  if (!power_of_two_in(shards, 1, 1024)) {
    return invalid_config_value("dram.shards", num(std::uint64_t{shards}),
                                "must be a power of two in [1, 1024]");
  }
  if (!(small_queue_fraction > 0 && small_queue_fraction <= 0.5)) {
    return invalid_config_value("dram.small_queue_fraction", num(small_queue_fraction),
                                "must be in (0, 0.5]");
  }
  if (!(max_pinned_fraction >= 0 && max_pinned_fraction <= 1)) {
    return invalid_config_value("dram.max_pinned_fraction", num(max_pinned_fraction),
                                "must be in [0, 1]");
  }
  if (max_lease.count() <= 0) {
    return invalid_config_value("dram.max_lease_ms", std::to_string(max_lease.count()),
                                "must be > 0");
  }
  return Status::Ok();
}

Status NvmeConfig::validate() const {
  if (region_size % kIoAlign != 0 || region_size < 1 * kMiB || region_size > 1 * kGiB) {
    return invalid_config_value(
        "nvme.region_size", num(region_size),
        "must be a multiple of 4096 in [1048576 (1 MiB), 1073741824 (1 GiB)]");
  }
  if (write_buffers < 2 || write_buffers > 64) {
    return invalid_config_value("nvme.write_buffers", num(std::uint64_t{write_buffers}),
                                "must be in [2, 64]");
  }
  if (write_io_bytes % kIoAlign != 0 || write_io_bytes < kIoAlign || write_io_bytes > region_size) {
    return invalid_config_value(
        "nvme.write_io_bytes", num(write_io_bytes),
        "must be a multiple of 4096 in [4096, nvme.region_size = " + num(region_size) + "]");
  }
  if (io_depth < 1 || io_depth > 256) {
    return invalid_config_value("nvme.io_depth", num(std::uint64_t{io_depth}),
                                "must be in [1, 256]");
  }
  if (reclaim != ReclaimPolicy::kFifo && reclaim != ReclaimPolicy::kLru) {
    return invalid_config_value("nvme.reclaim",
                                num(std::uint64_t{static_cast<std::uint8_t>(reclaim)}),
                                "must be fifo or lru");
  }
  if (!power_of_two_in(index_shards, 1, 4096)) {
    return invalid_config_value("nvme.index_shards", num(std::uint64_t{index_shards}),
                                "must be a power of two in [1, 4096]");
  }
  if (!(write_budget_mb_s >= 0) || !std::isfinite(write_budget_mb_s)) {
    return invalid_config_value("nvme.write_budget_mb_s", num(write_budget_mb_s),
                                "must be a finite number >= 0 (0 = unlimited)");
  }
  if (!(write_budget_burst_s > 0) || !std::isfinite(write_budget_burst_s)) {
    return invalid_config_value("nvme.write_budget_burst_s", num(write_budget_burst_s),
                                "must be a finite number > 0");
  }
  const std::uint64_t min_bytes = min_device_bytes(region_size);
  const std::string min_rule = "at least 4096 + 2 * nvme.region_size = " + num(min_bytes);
  if (default_file_bytes != 0 && default_file_bytes < min_bytes) {
    return invalid_config_value("nvme.default_file_bytes", num(default_file_bytes),
                                "must be 0 (tier disabled) or " + min_rule);
  }
  std::set<std::string> paths;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const NvmeDeviceConfig& d = devices[i];
    const std::string field = "nvme.devices[" + std::to_string(i) + "]";
    if (d.path.empty()) {
      return Status::InvalidArgument(field + ".path is empty: every device needs a path");
    }
    if (!paths.insert(d.path).second) {
      return Status::InvalidArgument(field + ".path = \"" + d.path +
                                     "\" is invalid: the path is listed twice");
    }
    if (d.size_bytes != 0 && d.size_bytes < min_bytes) {
      return invalid_config_value(field + ".size_bytes", num(d.size_bytes),
                                  "must be 0 (the block device's size) or " + min_rule);
    }
  }
  return Status::Ok();
}

Status StoreConfig::validate() const {
  if (data_dir.empty()) return Status::InvalidArgument("data_dir is empty: it is required");
  if (max_value_bytes < 1 || max_value_bytes > kMaxValueBytes) {
    return invalid_config_value("max_value_bytes", num(max_value_bytes),
                                "must be in [1, 4294967295]");
  }
  KVTIER_RETURN_IF_ERROR(dram.validate());
  KVTIER_RETURN_IF_ERROR(nvme.validate());
  return shared.validate();
}

// ---- TOML --------------------------------------------------------------------------------------

namespace {

constexpr TomlChoice<ReclaimPolicy> kReclaimPolicies[] = {{"fifo", ReclaimPolicy::kFifo},
                                                          {"lru", ReclaimPolicy::kLru}};

constexpr TomlKey<NvmeDeviceConfig> kDeviceKeys[] = {
    {"path", string_key<&NvmeDeviceConfig::path>},
    {"size_bytes", size_key<&NvmeDeviceConfig::size_bytes>},
};

Status read_devices(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                    std::string_view key, NvmeConfig& n) {
  if (t.get(key) == nullptr) return Status::Ok();
  std::vector<const toml::table*> tables;
  KVTIER_RETURN_IF_ERROR(
      r.get_table_array(t, prefix, key, "a table with path and size_bytes", tables));
  n.devices.clear();
  for (std::size_t i = 0; i < tables.size(); ++i) {
    const std::string path = "nvme.devices[" + std::to_string(i) + "]";
    NvmeDeviceConfig device;
    KVTIER_RETURN_IF_ERROR(read_table(r, *tables[i], path, kDeviceKeys, device));
    if (tables[i]->get("path") == nullptr) {
      return Status::InvalidArgument(r.at(tables[i]->source()) + path + ".path is missing: " +
                                     "every device needs a path");
    }
    n.devices.push_back(std::move(device));
  }
  return Status::Ok();
}

constexpr TomlKey<DramConfig> kDramKeys[] = {
    {"capacity_bytes", size_key<&DramConfig::capacity_bytes>},
    {"shards", u32_key<&DramConfig::shards>},
    {"small_queue_fraction", double_key<&DramConfig::small_queue_fraction>},
    {"max_pinned_fraction", double_key<&DramConfig::max_pinned_fraction>},
    {"max_lease_ms", duration_key<&DramConfig::max_lease>},
};

constexpr TomlKey<NvmeConfig> kNvmeKeys[] = {
    {"default_file_bytes", size_key<&NvmeConfig::default_file_bytes>},
    {"region_size", size_key<&NvmeConfig::region_size>},
    {"write_buffers", u32_key<&NvmeConfig::write_buffers>},
    {"write_io_bytes", size_key<&NvmeConfig::write_io_bytes>},
    {"io_depth", u32_key<&NvmeConfig::io_depth>},
    {"reclaim", choice_key<&NvmeConfig::reclaim, kReclaimPolicies>},
    {"reinsert_min_hits", u32_key<&NvmeConfig::reinsert_min_hits>},
    {"write_budget_mb_s", double_key<&NvmeConfig::write_budget_mb_s>},
    {"write_budget_burst_s", double_key<&NvmeConfig::write_budget_burst_s>},
    {"index_shards", u32_key<&NvmeConfig::index_shards>},
    {"format_foreign_devices", bool_key<&NvmeConfig::format_foreign_devices>},
    {"reformat_damaged", bool_key<&NvmeConfig::reformat_damaged>},
    {"erase_removed", bool_key<&NvmeConfig::erase_removed>},
    {"flush_interval_ms", duration_key<&NvmeConfig::flush_interval, 3'600'000>},
    {"devices", read_devices},
};

Status read_shared(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                   std::string_view key, StoreConfig& c) {
  const toml::table* shared = nullptr;
  KVTIER_RETURN_IF_ERROR(r.get_table(t, prefix, key, shared));
  return shared == nullptr ? Status::Ok() : read_shared_config(r, *shared, c.shared);
}

constexpr TomlKey<StoreConfig> kRootKeys[] = {
    {"data_dir", string_key<&StoreConfig::data_dir>},
    {"max_value_bytes", size_key<&StoreConfig::max_value_bytes>},
    {"promote_on_nvme_hit", bool_key<&StoreConfig::promote_on_nvme_hit>},
    {"dram", table_key<&StoreConfig::dram, kDramKeys>},
    {"nvme", table_key<&StoreConfig::nvme, kNvmeKeys>},
    {"shared", read_shared},
};
// Top-level keys of the daemon's file (src/server/server_config.h) that the engine alone rejects.
constexpr std::string_view kDaemonOnlyKeys[] = {"server", "tenants"};

// The engine's file is not the daemon's: [server] and [[tenants]] there are a mistake (a daemon
// file given to an engine-only program), said plainly instead of as a bare unknown key.
Status reject_daemon_sections(const TomlFieldReader& r, const toml::table& root) {
  for (std::string_view key : kDaemonOnlyKeys) {
    const toml::node* node = root.get(key);
    if (node == nullptr) continue;
    std::string allowed;
    for (const TomlKey<StoreConfig>& a : kRootKeys) {
      if (!allowed.empty()) allowed += ", ";
      allowed += a.key;
    }
    return Status::InvalidArgument(
        r.at(*node) + "unknown key \"" + std::string(key) +
        "\" (allowed at the top level: " + allowed +
        "): [server] and [[tenants]] belong to the daemon's config file, which this reader of "
        "the engine's config does not accept; use it with kvtier serve "
        "(load_daemon_config_file), or remove those sections");
  }
  return Status::Ok();
}

}  // namespace

Status read_store_config_fields(TomlFieldReader& reader, const toml::table& root,
                                std::span<const std::string_view> extra_root_keys,
                                StoreConfig& cfg) {
  return read_table(reader, root, "", kRootKeys, cfg, extra_root_keys);
}

void visit_store_config_keys(const ConfigKeyVisitor& visit) {
  visit_keys("", kRootKeys, visit);
  visit_keys("dram", kDramKeys, visit);
  visit_keys("nvme", kNvmeKeys, visit);
  visit_keys("nvme.devices", kDeviceKeys, visit);
  visit_shared_config_keys(visit);
}

namespace {

Result<StoreConfig> parse_config(std::string_view text, const std::string& source) {
  TomlFieldReader reader(source);
  StoreConfig cfg;
  KVTIER_RETURN_IF_ERROR(read_toml_document(text, source, [&](const toml::table& root) {
    KVTIER_RETURN_IF_ERROR(reject_daemon_sections(reader, root));
    return read_store_config_fields(reader, root, {}, cfg);
  }));
  KVTIER_RETURN_IF_ERROR(reader.located(cfg.validate()));
  return cfg;
}

}  // namespace

Result<StoreConfig> parse_store_config_toml(std::string_view toml_text) {
  return parse_config(toml_text, "<config>");
}

Result<StoreConfig> load_store_config_file(const std::string& path) {
  Result<std::string> text = read_config_file_text(path);
  if (!text.ok()) return text.status();
  return parse_config(*text, path);
}

}  // namespace kvtier
