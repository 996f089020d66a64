// SharedTierConfig::validate and the [shared] TOML keys (see shared_config.h).
#include "shared/shared_config.h"

#include <cmath>
#include <limits>

#include "config/config_error.h"

namespace kvtier {
namespace {

constexpr std::string_view kSharedKeys[] = {
    "backend",       "read_deadline_ms",       "read_threads",     "upload_threads",
    "outbox_capacity_blocks", "drain_rate_mb_s", "breaker_failures", "probe_interval_ms",
    "call_timeout_ms", "fs",                   "redis"};
constexpr std::string_view kFsKeys[] = {"path", "capacity_bytes", "max_age_s", "sweep_interval_s",
                                        "fsync", "create_root"};
constexpr std::string_view kRedisKeys[] = {"nodes",           "cluster",
                                           "password",        "ttl_ms",
                                           "connect_timeout_ms", "connections_per_node",
                                           "key_prefix"};

constexpr std::uint64_t kMaxMs = std::numeric_limits<std::int32_t>::max();

template <class Duration>
Status read_duration(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                     std::string_view key, Duration& out) {
  std::uint64_t v = static_cast<std::uint64_t>(out.count());
  KVTIER_RETURN_IF_ERROR(r.read_count(t, prefix, key, kMaxMs, v));
  out = Duration(static_cast<typename Duration::rep>(v));
  return Status::Ok();
}

Status read_backend(TomlFieldReader& r, const toml::table& t, SharedBackendKind& out) {
  const toml::node* node = t.get("backend");
  std::string name;
  KVTIER_RETURN_IF_ERROR(r.read_string(t, "shared", "backend", name));
  if (node == nullptr) return Status::Ok();
  if (name == "none") out = SharedBackendKind::kNone;
  else if (name == "fs") out = SharedBackendKind::kFs;
  else if (name == "redis") out = SharedBackendKind::kRedis;
  else {
    return Status::InvalidArgument(r.at(*node) + "shared.backend = \"" + name +
                                   "\" is invalid: must be \"none\", \"fs\" or \"redis\"");
  }
  return Status::Ok();
}

Status read_fs(TomlFieldReader& r, const toml::table& t, SharedFsConfig& fs) {
  KVTIER_RETURN_IF_ERROR(r.check_keys(t, "shared.fs", kFsKeys));
  KVTIER_RETURN_IF_ERROR(r.read_string(t, "shared.fs", "path", fs.path));
  KVTIER_RETURN_IF_ERROR(r.read_size(t, "shared.fs", "capacity_bytes", fs.capacity_bytes));
  KVTIER_RETURN_IF_ERROR(read_duration(r, t, "shared.fs", "max_age_s", fs.max_age));
  KVTIER_RETURN_IF_ERROR(read_duration(r, t, "shared.fs", "sweep_interval_s", fs.sweep_interval));
  KVTIER_RETURN_IF_ERROR(r.read_bool(t, "shared.fs", "fsync", fs.fsync));
  return r.read_bool(t, "shared.fs", "create_root", fs.create_root);
}

Status read_nodes(TomlFieldReader& r, const toml::table& t, std::vector<std::string>& nodes) {
  const toml::node* node = t.get("nodes");
  if (node == nullptr) return Status::Ok();
  const toml::array* a = node->as_array();
  if (a == nullptr) return r.type_error(*node, "shared.redis.nodes", "an array of \"host:port\"");
  nodes.clear();
  for (const toml::node& e : *a) {
    auto s = e.value<std::string>();
    if (!s) return r.type_error(e, "shared.redis.nodes[]", "a string \"host:port\"");
    nodes.push_back(*s);
  }
  r.remember("shared.redis.nodes", node->source());
  return Status::Ok();
}

Status read_redis(TomlFieldReader& r, const toml::table& t, RedisBackendConfig& c) {
  KVTIER_RETURN_IF_ERROR(r.check_keys(t, "shared.redis", kRedisKeys));
  KVTIER_RETURN_IF_ERROR(read_nodes(r, t, c.nodes));
  KVTIER_RETURN_IF_ERROR(r.read_bool(t, "shared.redis", "cluster", c.cluster));
  KVTIER_RETURN_IF_ERROR(r.read_string(t, "shared.redis", "password", c.password));
  KVTIER_RETURN_IF_ERROR(read_duration(r, t, "shared.redis", "ttl_ms", c.ttl));
  KVTIER_RETURN_IF_ERROR(
      read_duration(r, t, "shared.redis", "connect_timeout_ms", c.connect_timeout));
  KVTIER_RETURN_IF_ERROR(
      r.read_u32(t, "shared.redis", "connections_per_node", c.connections_per_node));
  return r.read_string(t, "shared.redis", "key_prefix", c.key_prefix);
}

Status out_of_range(std::string_view field, std::uint64_t v, std::string_view rule) {
  return invalid_config_value(field, std::to_string(v), rule);
}

}  // namespace

Status read_shared_config(TomlFieldReader& r, const toml::table& t, SharedTierConfig& c) {
  KVTIER_RETURN_IF_ERROR(r.check_keys(t, "shared", kSharedKeys));
  KVTIER_RETURN_IF_ERROR(read_backend(r, t, c.backend));
  KVTIER_RETURN_IF_ERROR(read_duration(r, t, "shared", "read_deadline_ms", c.read_deadline));
  KVTIER_RETURN_IF_ERROR(r.read_u32(t, "shared", "read_threads", c.read_threads));
  KVTIER_RETURN_IF_ERROR(r.read_u32(t, "shared", "upload_threads", c.upload_threads));
  KVTIER_RETURN_IF_ERROR(r.read_count(t, "shared", "outbox_capacity_blocks", 1ull << 32,
                                      c.outbox_capacity_blocks));
  KVTIER_RETURN_IF_ERROR(r.read_double(t, "shared", "drain_rate_mb_s", c.drain_rate_mb_s));
  KVTIER_RETURN_IF_ERROR(r.read_u32(t, "shared", "breaker_failures", c.breaker_failures));
  KVTIER_RETURN_IF_ERROR(read_duration(r, t, "shared", "probe_interval_ms", c.probe_interval));
  KVTIER_RETURN_IF_ERROR(read_duration(r, t, "shared", "call_timeout_ms", c.call_timeout));
  const toml::table* fs = nullptr;
  KVTIER_RETURN_IF_ERROR(r.get_table(t, "shared", "fs", fs));
  if (fs != nullptr) KVTIER_RETURN_IF_ERROR(read_fs(r, *fs, c.fs));
  const toml::table* redis = nullptr;
  KVTIER_RETURN_IF_ERROR(r.get_table(t, "shared", "redis", redis));
  if (redis != nullptr) KVTIER_RETURN_IF_ERROR(read_redis(r, *redis, c.redis));
  return Status::Ok();
}

Status SharedTierConfig::validate() const {
  if (backend == SharedBackendKind::kNone) return Status::Ok();
  if (read_deadline.count() < 1 || read_deadline.count() > 60000) {
    return out_of_range("shared.read_deadline_ms", read_deadline.count(), "must be in [1, 60000]");
  }
  if (read_threads < 1 || read_threads > 256) {
    return out_of_range("shared.read_threads", read_threads, "must be in [1, 256]");
  }
  if (upload_threads < 1 || upload_threads > 256) {
    return out_of_range("shared.upload_threads", upload_threads, "must be in [1, 256]");
  }
  if (outbox_capacity_blocks < 1) {
    return out_of_range("shared.outbox_capacity_blocks", 0, "must be >= 1");
  }
  if (!(drain_rate_mb_s >= 0) || !std::isfinite(drain_rate_mb_s)) {
    return Status::InvalidArgument("shared.drain_rate_mb_s = " + std::to_string(drain_rate_mb_s) +
                                   " is invalid: must be a finite number >= 0 (0 = unlimited)");
  }
  if (breaker_failures < 1) return out_of_range("shared.breaker_failures", 0, "must be >= 1");
  if (probe_interval.count() < 1) {
    return out_of_range("shared.probe_interval_ms", 0, "must be >= 1");
  }
  if (call_timeout.count() < 1) return out_of_range("shared.call_timeout_ms", 0, "must be >= 1");
  return backend == SharedBackendKind::kFs ? fs.validate() : redis.validate();
}

}  // namespace kvtier
