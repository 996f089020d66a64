// SharedTierConfig::validate and the [shared] TOML keys (see shared_config.h).
#include "shared/shared_config.h"

#include <cmath>
#include <limits>

#include "config/config_error.h"

namespace kvtier {
namespace {

// Every duration of these sections is an integer below 2^31 of its unit.
constexpr std::uint64_t kMaxDuration = std::numeric_limits<std::int32_t>::max();

constexpr TomlChoice<SharedBackendKind> kBackends[] = {{"none", SharedBackendKind::kNone},
                                                       {"fs", SharedBackendKind::kFs},
                                                       {"redis", SharedBackendKind::kRedis},
                                                       {"s3", SharedBackendKind::kS3},
                                                       {"azure", SharedBackendKind::kAzure}};

Status read_nodes(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                  std::string_view key, RedisBackendConfig& c) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return Status::Ok();
  const std::string field = TomlFieldReader::join(prefix, key);
  const toml::array* a = node->as_array();
  if (a == nullptr) return r.type_error(*node, field, "an array of \"host:port\"");
  c.nodes.clear();
  for (const toml::node& e : *a) {
    auto s = e.value<std::string>();
    if (!s) return r.type_error(e, field + "[]", "a string \"host:port\"");
    c.nodes.push_back(*s);
  }
  r.remember(field, node->source());
  return Status::Ok();
}

constexpr TomlKey<SharedFsConfig> kFsKeys[] = {
    {"path", string_key<&SharedFsConfig::path>},
    {"capacity_bytes", size_key<&SharedFsConfig::capacity_bytes>},
    {"max_age_s", duration_key<&SharedFsConfig::max_age, kMaxDuration>},
    {"sweep_interval_s", duration_key<&SharedFsConfig::sweep_interval, kMaxDuration>},
    {"fsync", bool_key<&SharedFsConfig::fsync>},
    {"create_root", bool_key<&SharedFsConfig::create_root>},
    {"file_mode", u32_key<&SharedFsConfig::file_mode>},
    {"dir_mode", u32_key<&SharedFsConfig::dir_mode>},
    {"group", string_key<&SharedFsConfig::group>},
};

constexpr TomlKey<RedisBackendConfig> kRedisKeys[] = {
    {"nodes", read_nodes},
    {"cluster", bool_key<&RedisBackendConfig::cluster>},
    {"password", string_key<&RedisBackendConfig::password>},
    {"ttl_ms", duration_key<&RedisBackendConfig::ttl, kMaxDuration>},
    {"connect_timeout_ms", duration_key<&RedisBackendConfig::connect_timeout, kMaxDuration>},
    {"connections_per_node", u32_key<&RedisBackendConfig::connections_per_node>},
    {"key_prefix", string_key<&RedisBackendConfig::key_prefix>},
};

constexpr TomlKey<PackingConfig> kPackingKeys[] = {
    {"segment_bytes", size_key<&PackingConfig::segment_bytes>},
    {"part_bytes", size_key<&PackingConfig::part_bytes>},
    {"refresh_interval_ms", duration_key<&PackingConfig::refresh_interval, kMaxDuration>},
    {"max_garbage", double_key<&PackingConfig::max_garbage>},
    {"max_age_s", duration_key<&PackingConfig::max_age, kMaxDuration>},
    {"capacity_bytes", size_key<&PackingConfig::capacity_bytes>},
    {"maintain_interval_s", duration_key<&PackingConfig::maintain_interval, kMaxDuration>},
};

constexpr TomlKey<S3BackendConfig> kS3Keys[] = {
    {"endpoint", string_key<&S3BackendConfig::endpoint>},
    {"bucket", string_key<&S3BackendConfig::bucket>},
    {"region", string_key<&S3BackendConfig::region>},
    {"virtual_host", bool_key<&S3BackendConfig::virtual_host>},
    {"prefix", string_key<&S3BackendConfig::prefix>},
    {"access_key_id", string_key<&S3BackendConfig::access_key_id>},
    {"secret_access_key", string_key<&S3BackendConfig::secret_access_key>},
    {"session_token", string_key<&S3BackendConfig::session_token>},
    {"credentials_file", string_key<&S3BackendConfig::credentials_file>},
    {"profile", string_key<&S3BackendConfig::profile>},
    {"ca_file", string_key<&S3BackendConfig::ca_file>},
    {"packing", table_key<&S3BackendConfig::packing, kPackingKeys>},
};

constexpr TomlKey<AzureBackendConfig> kAzureKeys[] = {
    {"endpoint", string_key<&AzureBackendConfig::endpoint>},
    {"account", string_key<&AzureBackendConfig::account>},
    {"container", string_key<&AzureBackendConfig::container>},
    {"prefix", string_key<&AzureBackendConfig::prefix>},
    {"account_key", string_key<&AzureBackendConfig::account_key>},
    {"sas_token", string_key<&AzureBackendConfig::sas_token>},
    {"ca_file", string_key<&AzureBackendConfig::ca_file>},
    {"packing", table_key<&AzureBackendConfig::packing, kPackingKeys>},
};

constexpr TomlKey<SharedTierConfig> kSharedKeys[] = {
    {"backend", choice_key<&SharedTierConfig::backend, kBackends>},
    {"read_deadline_ms", duration_key<&SharedTierConfig::read_deadline, kMaxDuration>},
    {"read_threads", u32_key<&SharedTierConfig::read_threads>},
    {"upload_threads", u32_key<&SharedTierConfig::upload_threads>},
    {"outbox_capacity_blocks", count_key<&SharedTierConfig::outbox_capacity_blocks, 1ull << 32>},
    {"drain_rate_mb_s", double_key<&SharedTierConfig::drain_rate_mb_s>},
    {"breaker_failures", u32_key<&SharedTierConfig::breaker_failures>},
    {"probe_interval_ms", duration_key<&SharedTierConfig::probe_interval, kMaxDuration>},
    {"call_timeout_ms", duration_key<&SharedTierConfig::call_timeout, kMaxDuration>},
    {"fs", table_key<&SharedTierConfig::fs, kFsKeys>},
    {"redis", table_key<&SharedTierConfig::redis, kRedisKeys>},
    {"s3", table_key<&SharedTierConfig::s3, kS3Keys>},
    {"azure", table_key<&SharedTierConfig::azure, kAzureKeys>},
};

Status out_of_range(std::string_view field, std::uint64_t v, std::string_view rule) {
  return invalid_config_value(field, std::to_string(v), rule);
}

}  // namespace

Status read_shared_config(TomlFieldReader& r, const toml::table& t, SharedTierConfig& c) {
  return read_table(r, t, "shared", kSharedKeys, c);
}

void visit_shared_config_keys(const ConfigKeyVisitor& visit) {
  visit_keys("shared", kSharedKeys, visit);
  visit_keys("shared.fs", kFsKeys, visit);
  visit_keys("shared.redis", kRedisKeys, visit);
  visit_keys("shared.s3", kS3Keys, visit);
  visit_keys("shared.s3.packing", kPackingKeys, visit);
  visit_keys("shared.azure", kAzureKeys, visit);
  visit_keys("shared.azure.packing", kPackingKeys, visit);
}

Status PackingConfig::validate(std::string_view section) const {
  const std::string p(section);
  if (segment_bytes < (1u << 20) || segment_bytes > (std::uint64_t{5} << 30)) {
    return out_of_range(p + ".segment_bytes", segment_bytes, "must be in [1 MiB, 5 GiB]");
  }
  if (part_bytes < (1u << 20) || part_bytes > segment_bytes) {
    return out_of_range(p + ".part_bytes", part_bytes, "must be in [1 MiB, segment_bytes]");
  }
  if (refresh_interval.count() < 10) {
    return out_of_range(p + ".refresh_interval_ms", refresh_interval.count(), "must be >= 10");
  }
  if (!(max_garbage > 0 && max_garbage < 1)) {
    return Status::InvalidArgument(p + ".max_garbage = " + std::to_string(max_garbage) +
                                   " is invalid: must be in (0, 1)");
  }
  if (maintain_interval.count() < 1) {
    return out_of_range(p + ".maintain_interval_s", 0, "must be >= 1");
  }
  return Status::Ok();
}

Status S3BackendConfig::validate() const {
  if (endpoint.empty()) {
    return Status::InvalidArgument("shared.s3.endpoint is required (\"http://host:port\")");
  }
  if (bucket.empty()) return Status::InvalidArgument("shared.s3.bucket is required");
  if (region.empty()) return Status::InvalidArgument("shared.s3.region must not be empty");
  if (access_key_id.empty() != secret_access_key.empty()) {
    return Status::InvalidArgument(
        "shared.s3.access_key_id and shared.s3.secret_access_key go together (or leave both "
        "empty to use the environment or the credentials file)");
  }
  return packing.validate("shared.s3.packing");
}

Status AzureBackendConfig::validate() const {
  if (endpoint.empty()) {
    return Status::InvalidArgument(
        "shared.azure.endpoint is required (\"https://<account>.blob.core.windows.net\")");
  }
  if (container.empty()) return Status::InvalidArgument("shared.azure.container is required");
  if (!account_key.empty() && !sas_token.empty()) {
    return Status::InvalidArgument(
        "shared.azure: give account_key or sas_token, not both (or neither, to use the environment)");
  }
  return packing.validate("shared.azure.packing");
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
  for (const auto& [ns, key] : namespace_keys) {
    if (key.size() < 32) {
      return Status::InvalidArgument("the shared-tier key of namespace " + std::to_string(ns) + " is " +
                                     std::to_string(key.size()) + " bytes: it must be at least 32 "
                                     "(e.g. 64 hex digits from `openssl rand -hex 32`)");
    }
  }
  switch (backend) {
    case SharedBackendKind::kFs:
      return fs.validate();
    case SharedBackendKind::kRedis:
      return redis.validate();
    case SharedBackendKind::kS3:
      return s3.validate();
    case SharedBackendKind::kAzure:
      return azure.validate();
    case SharedBackendKind::kNone:
      break;
  }
  return Status::Ok();
}

}  // namespace kvtier
