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
//
//   [[nvme.devices]]                    # zero or more
//   path = "/dev/nvme1n1"               # string, non-empty, distinct
//   size_bytes = 0                      # size; 0 = whole block device, else >= 4 KiB + 2 regions
//
// A "size" is a non-negative integer of bytes or a string such as "64MiB" or "1GB"
// (config/size_parse.h). Numbers may be integers or floats; counts must be integers. Unknown keys,
// wrong types and negative counts are errors that name the key and its line:column. The parsed
// config must pass StoreConfig::validate() before it is returned.
#include "kvtier/config.h"

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <span>
#include <string>
#include <unordered_map>

#include <toml++/toml.h>

#include "config/size_parse.h"

namespace kvtier {
namespace {

// Every region device holds a 4 KiB superblock and at least two regions (one being written while
// another is reclaimed).
constexpr std::uint64_t kSuperblockBytes = 4096;
constexpr std::uint64_t kIoAlign = 4096;
constexpr std::uint64_t kMaxValueBytes = 4 * kGiB - 1;
// A config file larger than this is not a config file.
constexpr std::size_t kMaxConfigFileBytes = 1 << 20;

std::string num(std::uint64_t v) { return std::to_string(v); }
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

bool power_of_two_in(std::uint64_t v, std::uint64_t lo, std::uint64_t hi) {
  return std::has_single_bit(v) && v >= lo && v <= hi;
}

Status invalid(std::string_view field, const std::string& value, std::string_view rule) {
  return Status::InvalidArgument(std::string(field) + " = " + value +
                                 " is invalid: " + std::string(rule));
}

std::uint64_t min_device_bytes(std::uint64_t region_size) {
  return kSuperblockBytes + 2 * region_size;
}

}  // namespace

// ---- validation --------------------------------------------------------------------------------

Status DramConfig::validate() const {
  if (!power_of_two_in(shards, 1, 1024)) {
    return invalid("dram.shards", num(std::uint64_t{shards}),
                   "must be a power of two in [1, 1024]");
  }
  if (!(small_queue_fraction > 0 && small_queue_fraction <= 0.5)) {
    return invalid("dram.small_queue_fraction", num(small_queue_fraction), "must be in (0, 0.5]");
  }
  if (!(max_pinned_fraction >= 0 && max_pinned_fraction <= 1)) {
    return invalid("dram.max_pinned_fraction", num(max_pinned_fraction), "must be in [0, 1]");
  }
  if (max_lease.count() <= 0) {
    return invalid("dram.max_lease_ms", std::to_string(max_lease.count()), "must be > 0");
  }
  return Status::Ok();
}

Status NvmeConfig::validate() const {
  if (region_size % kIoAlign != 0 || region_size < 1 * kMiB || region_size > 1 * kGiB) {
    return invalid("nvme.region_size", num(region_size),
                   "must be a multiple of 4096 in [1048576 (1 MiB), 1073741824 (1 GiB)]");
  }
  if (write_buffers < 2 || write_buffers > 64) {
    return invalid("nvme.write_buffers", num(std::uint64_t{write_buffers}), "must be in [2, 64]");
  }
  if (write_io_bytes % kIoAlign != 0 || write_io_bytes < kIoAlign || write_io_bytes > region_size) {
    return invalid(
        "nvme.write_io_bytes", num(write_io_bytes),
        "must be a multiple of 4096 in [4096, nvme.region_size = " + num(region_size) + "]");
  }
  if (io_depth < 1 || io_depth > 256) {
    return invalid("nvme.io_depth", num(std::uint64_t{io_depth}), "must be in [1, 256]");
  }
  if (reclaim != ReclaimPolicy::kFifo && reclaim != ReclaimPolicy::kLru) {
    return invalid("nvme.reclaim", num(std::uint64_t{static_cast<std::uint8_t>(reclaim)}),
                   "must be fifo or lru");
  }
  if (!power_of_two_in(index_shards, 1, 4096)) {
    return invalid("nvme.index_shards", num(std::uint64_t{index_shards}),
                   "must be a power of two in [1, 4096]");
  }
  if (!(write_budget_mb_s >= 0) || !std::isfinite(write_budget_mb_s)) {
    return invalid("nvme.write_budget_mb_s", num(write_budget_mb_s),
                   "must be a finite number >= 0 (0 = unlimited)");
  }
  if (!(write_budget_burst_s > 0) || !std::isfinite(write_budget_burst_s)) {
    return invalid("nvme.write_budget_burst_s", num(write_budget_burst_s),
                   "must be a finite number > 0");
  }
  const std::uint64_t min_bytes = min_device_bytes(region_size);
  const std::string min_rule = "at least 4096 + 2 * nvme.region_size = " + num(min_bytes);
  if (default_file_bytes != 0 && default_file_bytes < min_bytes) {
    return invalid("nvme.default_file_bytes", num(default_file_bytes),
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
      return invalid(field + ".size_bytes", num(d.size_bytes),
                     "must be 0 (the block device's size) or " + min_rule);
    }
  }
  return Status::Ok();
}

Status StoreConfig::validate() const {
  if (data_dir.empty()) return Status::InvalidArgument("data_dir is empty: it is required");
  if (max_value_bytes < 1 || max_value_bytes > kMaxValueBytes) {
    return invalid("max_value_bytes", num(max_value_bytes), "must be in [1, 4294967295]");
  }
  KVTIER_RETURN_IF_ERROR(dram.validate());
  return nvme.validate();
}

// ---- TOML --------------------------------------------------------------------------------------

namespace {

constexpr std::string_view kRootKeys[] = {"data_dir", "max_value_bytes", "promote_on_nvme_hit",
                                          "dram", "nvme"};
constexpr std::string_view kDramKeys[] = {"capacity_bytes", "shards", "small_queue_fraction",
                                          "max_pinned_fraction", "max_lease_ms"};
constexpr std::string_view kNvmeKeys[] = {"devices",           "default_file_bytes",
                                          "region_size",       "write_buffers",
                                          "write_io_bytes",    "io_depth",
                                          "reclaim",           "reinsert_min_hits",
                                          "write_budget_mb_s", "write_budget_burst_s",
                                          "index_shards",      "format_foreign_devices"};
constexpr std::string_view kDeviceKeys[] = {"path", "size_bytes"};

std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::none: return "nothing";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
  }
  return "an unknown type";
}

// Reads one parsed document into a StoreConfig, remembering where each key was so that a
// validation error can point at its line.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  Status read(const toml::table& root, StoreConfig& cfg) {
    KVTIER_RETURN_IF_ERROR(check_keys(root, "", kRootKeys));
    KVTIER_RETURN_IF_ERROR(read_string(root, "", "data_dir", cfg.data_dir));
    KVTIER_RETURN_IF_ERROR(read_size(root, "", "max_value_bytes", cfg.max_value_bytes));
    KVTIER_RETURN_IF_ERROR(read_bool(root, "", "promote_on_nvme_hit", cfg.promote_on_nvme_hit));
    const toml::table* dram = nullptr;
    KVTIER_RETURN_IF_ERROR(get_table(root, "", "dram", dram));
    if (dram != nullptr) KVTIER_RETURN_IF_ERROR(read_dram(*dram, cfg.dram));
    const toml::table* nvme = nullptr;
    KVTIER_RETURN_IF_ERROR(get_table(root, "", "nvme", nvme));
    if (nvme != nullptr) KVTIER_RETURN_IF_ERROR(read_nvme(*nvme, cfg.nvme));
    return Status::Ok();
  }

  // "<source>:<line>:<col>: " for the key that a validation message starts with, when the file
  // set it; "<source>: " otherwise.
  std::string locate(const std::string& message) const {
    const std::string field = message.substr(0, message.find_first_of(" ="));
    auto it = where_.find(field);
    return it != where_.end() ? at(it->second) : source_ + ": ";
  }

 private:
  Status read_dram(const toml::table& t, DramConfig& d) {
    KVTIER_RETURN_IF_ERROR(check_keys(t, "dram", kDramKeys));
    KVTIER_RETURN_IF_ERROR(read_size(t, "dram", "capacity_bytes", d.capacity_bytes));
    KVTIER_RETURN_IF_ERROR(read_u32(t, "dram", "shards", d.shards));
    KVTIER_RETURN_IF_ERROR(read_double(t, "dram", "small_queue_fraction", d.small_queue_fraction));
    KVTIER_RETURN_IF_ERROR(read_double(t, "dram", "max_pinned_fraction", d.max_pinned_fraction));
    std::uint64_t lease_ms = static_cast<std::uint64_t>(d.max_lease.count());
    KVTIER_RETURN_IF_ERROR(
        read_count(t, "dram", "max_lease_ms", std::numeric_limits<std::int64_t>::max(), lease_ms));
    d.max_lease = std::chrono::milliseconds(static_cast<std::int64_t>(lease_ms));
    return Status::Ok();
  }

  Status read_nvme(const toml::table& t, NvmeConfig& n) {
    KVTIER_RETURN_IF_ERROR(check_keys(t, "nvme", kNvmeKeys));
    KVTIER_RETURN_IF_ERROR(read_size(t, "nvme", "default_file_bytes", n.default_file_bytes));
    KVTIER_RETURN_IF_ERROR(read_size(t, "nvme", "region_size", n.region_size));
    KVTIER_RETURN_IF_ERROR(read_u32(t, "nvme", "write_buffers", n.write_buffers));
    KVTIER_RETURN_IF_ERROR(read_size(t, "nvme", "write_io_bytes", n.write_io_bytes));
    KVTIER_RETURN_IF_ERROR(read_u32(t, "nvme", "io_depth", n.io_depth));
    KVTIER_RETURN_IF_ERROR(read_reclaim(t, n.reclaim));
    KVTIER_RETURN_IF_ERROR(read_u32(t, "nvme", "reinsert_min_hits", n.reinsert_min_hits));
    KVTIER_RETURN_IF_ERROR(read_double(t, "nvme", "write_budget_mb_s", n.write_budget_mb_s));
    KVTIER_RETURN_IF_ERROR(read_double(t, "nvme", "write_budget_burst_s", n.write_budget_burst_s));
    KVTIER_RETURN_IF_ERROR(read_u32(t, "nvme", "index_shards", n.index_shards));
    KVTIER_RETURN_IF_ERROR(
        read_bool(t, "nvme", "format_foreign_devices", n.format_foreign_devices));
    return read_devices(t, n.devices);
  }

  Status read_devices(const toml::table& t, std::vector<NvmeDeviceConfig>& devices) {
    const toml::node* node = t.get("devices");
    if (node == nullptr) return Status::Ok();
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      return type_error(*node, "nvme.devices", "an array of tables ([[nvme.devices]])");
    }
    devices.clear();
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      const std::string path = "nvme.devices[" + std::to_string(i) + "]";
      const toml::table* table = element.as_table();
      if (table == nullptr) {
        return type_error(element, path, "a table with path and size_bytes");
      }
      NvmeDeviceConfig device;
      KVTIER_RETURN_IF_ERROR(check_keys(*table, path, kDeviceKeys));
      KVTIER_RETURN_IF_ERROR(read_string(*table, path, "path", device.path));
      KVTIER_RETURN_IF_ERROR(read_size(*table, path, "size_bytes", device.size_bytes));
      if (table->get("path") == nullptr) {
        return Status::InvalidArgument(at(table->source()) + path + ".path is missing: every " +
                                       "device needs a path");
      }
      devices.push_back(std::move(device));
    }
    return Status::Ok();
  }

  Status read_reclaim(const toml::table& t, ReclaimPolicy& out) {
    std::string name;
    const bool present = t.get("reclaim") != nullptr;
    KVTIER_RETURN_IF_ERROR(read_string(t, "nvme", "reclaim", name));
    if (!present) return Status::Ok();
    if (name == "fifo") {
      out = ReclaimPolicy::kFifo;
    } else if (name == "lru") {
      out = ReclaimPolicy::kLru;
    } else {
      return Status::InvalidArgument(at(*t.get("reclaim")) + "nvme.reclaim = \"" + name +
                                     "\" is invalid: must be \"fifo\" or \"lru\"");
    }
    return Status::Ok();
  }

  // Rejects every key of `t` that is not in `allowed`, so a typo is an error, not a default.
  Status check_keys(const toml::table& t, std::string_view prefix,
                    std::span<const std::string_view> allowed) {
    for (auto&& [key, value] : t) {
      bool known = false;
      for (std::string_view a : allowed) known = known || key.str() == a;
      if (known) continue;
      std::string list;
      for (std::string_view a : allowed) {
        if (!list.empty()) list += ", ";
        list += a;
      }
      const std::string section =
          prefix.empty() ? "at the top level" : "in [" + std::string(prefix) + "]";
      return Status::InvalidArgument(at(key.source()) + "unknown key \"" + join(prefix, key.str()) +
                                     "\" (allowed " + section + ": " + list + ")");
    }
    return Status::Ok();
  }

  Status get_table(const toml::table& t, std::string_view prefix, std::string_view key,
                   const toml::table*& out) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return Status::Ok();
    out = node->as_table();
    if (out == nullptr) return type_error(*node, join(prefix, key), "a table");
    return Status::Ok();
  }

  Status read_string(const toml::table& t, std::string_view prefix, std::string_view key,
                     std::string& out) {
    const toml::node* node = find(t, prefix, key);
    if (node == nullptr) return Status::Ok();
    const auto* v = node->as_string();
    if (v == nullptr) return type_error(*node, join(prefix, key), "a string");
    out = v->get();
    return Status::Ok();
  }

  Status read_bool(const toml::table& t, std::string_view prefix, std::string_view key, bool& out) {
    const toml::node* node = find(t, prefix, key);
    if (node == nullptr) return Status::Ok();
    const auto* v = node->as_boolean();
    if (v == nullptr) return type_error(*node, join(prefix, key), "true or false");
    out = v->get();
    return Status::Ok();
  }

  // A number: integer or float.
  Status read_double(const toml::table& t, std::string_view prefix, std::string_view key,
                     double& out) {
    const toml::node* node = find(t, prefix, key);
    if (node == nullptr) return Status::Ok();
    if (const auto* i = node->as_integer()) {
      out = static_cast<double>(i->get());
    } else if (const auto* f = node->as_floating_point()) {
      out = f->get();
    } else {
      return type_error(*node, join(prefix, key), "a number");
    }
    return Status::Ok();
  }

  // A non-negative integer no larger than `max`.
  Status read_count(const toml::table& t, std::string_view prefix, std::string_view key,
                    std::uint64_t max, std::uint64_t& out) {
    const toml::node* node = find(t, prefix, key);
    if (node == nullptr) return Status::Ok();
    const auto* v = node->as_integer();
    if (v == nullptr) return type_error(*node, join(prefix, key), "an integer");
    const std::int64_t value = v->get();
    if (value < 0) {
      return Status::InvalidArgument(at(*node) + join(prefix, key) + " = " + std::to_string(value) +
                                     " is invalid: must not be negative");
    }
    if (static_cast<std::uint64_t>(value) > max) {
      return Status::InvalidArgument(at(*node) + join(prefix, key) + " = " + std::to_string(value) +
                                     " is invalid: must be at most " + std::to_string(max));
    }
    out = static_cast<std::uint64_t>(value);
    return Status::Ok();
  }

  Status read_u32(const toml::table& t, std::string_view prefix, std::string_view key,
                  std::uint32_t& out) {
    std::uint64_t v = out;
    KVTIER_RETURN_IF_ERROR(
        read_count(t, prefix, key, std::numeric_limits<std::uint32_t>::max(), v));
    out = static_cast<std::uint32_t>(v);
    return Status::Ok();
  }

  // A byte count: a non-negative integer or a string such as "64MiB".
  Status read_size(const toml::table& t, std::string_view prefix, std::string_view key,
                   std::uint64_t& out) {
    const toml::node* node = t.get(key);
    if (node != nullptr && node->is_string()) {
      find(t, prefix, key);
      Result<std::uint64_t> size = parse_byte_size(node->as_string()->get());
      if (!size.ok()) {
        return Status::InvalidArgument(at(*node) + join(prefix, key) + ": " +
                                       size.status().message());
      }
      out = *size;
      return Status::Ok();
    }
    if (node != nullptr && !node->is_integer()) {
      return type_error(*node, join(prefix, key),
                        "a number of bytes (an integer, or a string such as \"64MiB\")");
    }
    return read_count(t, prefix, key, std::numeric_limits<std::uint64_t>::max(), out);
  }

  // The node under `key`, or null; remembers where it is for validation messages.
  const toml::node* find(const toml::table& t, std::string_view prefix, std::string_view key) {
    const toml::node* node = t.get(key);
    if (node != nullptr) where_[join(prefix, key)] = node->source();
    return node;
  }

  Status type_error(const toml::node& node, std::string_view field, std::string_view expected) {
    return Status::InvalidArgument(at(node) + std::string(field) + ": expected " +
                                   std::string(expected) + ", got " +
                                   std::string(type_name(node.type())));
  }

  static std::string join(std::string_view prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
  }

  std::string at(const toml::node& node) const { return at(node.source()); }
  std::string at(const toml::source_region& r) const {
    return source_ + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column) +
           ": ";
  }

  std::string source_;
  std::unordered_map<std::string, toml::source_region> where_;
};

Result<StoreConfig> parse_config(std::string_view text, std::string source) {
  try {
    toml::table root = toml::parse(text, source);
    Reader reader(source);
    StoreConfig cfg;
    KVTIER_RETURN_IF_ERROR(reader.read(root, cfg));
    Status valid = cfg.validate();
    if (!valid.ok()) {
      return Status::InvalidArgument(reader.locate(valid.message()) + valid.message());
    }
    return cfg;
  } catch (const toml::parse_error& e) {
    const toml::source_position& p = e.source().begin;
    return Status::InvalidArgument(source + ":" + std::to_string(p.line) + ":" +
                                   std::to_string(p.column) +
                                   ": TOML syntax error: " + std::string(e.description()));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(source + ": cannot read the config: " + e.what());
  }
}

}  // namespace

Result<StoreConfig> parse_store_config_toml(std::string_view toml_text) {
  return parse_config(toml_text, "<config>");
}

Result<StoreConfig> load_store_config_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::FromErrno("cannot open config file " + path, errno);
  std::string text;
  char buf[8192];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    text.append(buf, n);
    if (text.size() > kMaxConfigFileBytes) {
      std::fclose(f);
      return Status::InvalidArgument("config file " + path + " is larger than 1 MiB");
    }
  }
  const int err = errno;
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return Status::FromErrno("cannot read config file " + path, err);
  return parse_config(text, path);
}

}  // namespace kvtier
