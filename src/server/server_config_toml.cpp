// The daemon's TOML config file: the engine's keys (engine/store_config_toml.h) plus [server] and
// [[tenants]], read with the same field rules and messages (config/toml_fields.h). The keys are
// docs/CONFIG.md; validation is DaemonConfig::validate() (server_config.cpp).
#include <filesystem>

#include "engine/store_config_toml.h"
#include "config/toml_fields.h"
#include "server/server_config.h"
#include "server/token_file.h"

namespace kvtier::server {
namespace {

constexpr std::string_view kDaemonSections[] = {"server", "tenants"};

// A secret's file (tenants' token_file, server.metrics_token_file): read now, relative to the
// config file's directory, so that the daemon needs no file but its config once it runs, and a
// missing secret stops it at start, not at first use. `key` is the file's key in `t`; *path
// takes the resolved path, *secret the trimmed contents. "<config>" and a bare file name have no
// directory: relative files are then read from the working directory, as the file itself was.
Status read_secret_file(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                        std::string_view key, std::string* path, std::string* secret) {
  std::string file;
  KVTIER_RETURN_IF_ERROR(r.read_string(t, prefix, key, file));
  const toml::node& node = *t.get(key);
  const std::string field = TomlFieldReader::join(prefix, key);
  const std::filesystem::path config_dir = std::filesystem::path(r.source()).parent_path();
  if (file.empty()) {
    return Status::InvalidArgument(r.at(node) + field + " is empty: it must name a file");
  }
  std::filesystem::path resolved(file);
  if (resolved.is_relative()) resolved = config_dir / resolved;
  *path = resolved.string();
  Result<std::string> read = read_private_token_file(*path);
  if (!read.ok()) {
    return Status(read.status().code(),
                  r.at(node) + field + " = \"" + file + "\": " + read.status().message());
  }
  if (read->empty()) {
    return Status::InvalidArgument(r.at(node) + field + " = \"" + file + "\": " + *path +
                                   " is empty (after trimming whitespace)");
  }
  *secret = std::move(read).value();
  return Status::Ok();
}

Status read_metrics_token_file(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                               std::string_view key, ServerConfig& s) {
  if (t.get(key) == nullptr) return Status::Ok();
  return read_secret_file(r, t, prefix, key, &s.metrics_token_file, &s.metrics_token);
}

constexpr TomlKey<ServerConfig> kServerKeys[] = {
    {"unix_socket", string_key<&ServerConfig::unix_socket>},
    {"unix_socket_group", string_key<&ServerConfig::unix_socket_group>},
    {"tcp_listen", string_key<&ServerConfig::tcp_listen>},
    {"metrics_listen", string_key<&ServerConfig::metrics_listen>},
    {"metrics_token_file", read_metrics_token_file},
    {"allow_non_loopback", bool_key<&ServerConfig::allow_non_loopback>},
    {"tls_cert_file", string_key<&ServerConfig::tls_cert_file>},
    {"tls_key_file", string_key<&ServerConfig::tls_key_file>},
    {"tls_client_ca_file", string_key<&ServerConfig::tls_client_ca_file>},
    {"allow_plaintext_tcp", bool_key<&ServerConfig::allow_plaintext_tcp>},
    {"unix_token_required", bool_key<&ServerConfig::unix_token_required>},
    {"io_threads", u32_key<&ServerConfig::io_threads>},
    {"max_connections", u32_key<&ServerConfig::max_connections>},
    {"max_pending_hello", u32_key<&ServerConfig::max_pending_hello>},
    {"max_batch", u32_key<&ServerConfig::max_batch>},
    {"max_frame_data_bytes", size_key<&ServerConfig::max_frame_data_bytes>},
    {"max_queued_response_bytes", size_key<&ServerConfig::max_queued_response_bytes>},
    {"max_inflight_bytes", size_key<&ServerConfig::max_inflight_bytes>},
    {"max_shm_bytes_per_connection", size_key<&ServerConfig::max_shm_bytes_per_connection>},
    {"max_shm_regions_per_connection", u32_key<&ServerConfig::max_shm_regions_per_connection>},
    {"hello_timeout_ms", duration_key<&ServerConfig::hello_timeout>},
    {"frame_timeout_ms", duration_key<&ServerConfig::frame_timeout>},
    {"idle_timeout_ms", duration_key<&ServerConfig::idle_timeout>},
    {"shutdown_timeout_ms", duration_key<&ServerConfig::shutdown_timeout>},
    {"log_level", string_key<&ServerConfig::log_level>},
};

// A tenant's token from token_file (instead of token).
Status read_token_file(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                       std::string_view key, TenantConfig& tenant) {
  const toml::node* node = t.get(key);
  if (node == nullptr) return Status::Ok();
  if (t.get("token") != nullptr) {
    return Status::InvalidArgument(r.at(*node) + std::string(prefix) + ".token_file: set " +
                                   "either token or token_file, not both");
  }
  KVTIER_RETURN_IF_ERROR(
      read_secret_file(r, t, prefix, key, &tenant.token_file, &tenant.token));
  // A validation error about this token (too short, shared) points at the token_file line.
  r.remember(TomlFieldReader::join(prefix, "token"), node->source());
  return Status::Ok();
}

// A tenant's shared-tier key (shared_key_file).
Status read_shared_key_file(TomlFieldReader& r, const toml::table& t, std::string_view prefix,
                            std::string_view key, TenantConfig& tenant) {
  if (t.get(key) == nullptr) return Status::Ok();
  return read_secret_file(r, t, prefix, key, &tenant.shared_key_file, &tenant.shared_key);
}

constexpr auto kReadSize = &TomlFieldReader::read_size;
constexpr auto kReadU32 = &TomlFieldReader::read_u32;
constexpr TomlKey<TenantConfig> kTenantKeys[] = {
    {"name", string_key<&TenantConfig::name>},
    {"token", string_key<&TenantConfig::token>},
    {"token_file", read_token_file},
    {"shared_key_file", read_shared_key_file},
    {"quota_bytes", size_key<&TenantConfig::quota_bytes>},
    {"tls_client_name", string_key<&TenantConfig::tls_client_name>},
    {"max_pinned_bytes", optional_key<&TenantConfig::max_pinned_bytes, kReadSize>},
    {"max_connections", optional_key<&TenantConfig::max_connections, kReadU32>},
    {"namespace_id", optional_key<&TenantConfig::namespace_id, kReadU32>},
};

Status read_tenant(TomlFieldReader& r, const toml::table& t, std::size_t index,
                   TenantConfig& tenant) {
  const std::string prefix = "tenants[" + std::to_string(index) + "]";
  r.remember(prefix, t.source());
  KVTIER_RETURN_IF_ERROR(read_table(r, t, prefix, kTenantKeys, tenant));
  if (t.get("name") == nullptr) {
    return Status::InvalidArgument(r.at(t.source()) + prefix +
                                   ".name is missing: every tenant needs a name");
  }
  return Status::Ok();
}

Status read_daemon_config(TomlFieldReader& r, const toml::table& root, DaemonConfig& cfg) {
  KVTIER_RETURN_IF_ERROR(read_store_config_fields(r, root, kDaemonSections, cfg.store));
  const toml::table* server = nullptr;
  KVTIER_RETURN_IF_ERROR(r.get_table(root, "", "server", server));
  if (server != nullptr) {
    // Validation errors about keys the file leaves out point at the [server] line.
    r.remember("server", server->source());
    KVTIER_RETURN_IF_ERROR(read_table(r, *server, "server", kServerKeys, cfg.server));
  }
  std::vector<const toml::table*> tenants;
  KVTIER_RETURN_IF_ERROR(
      r.get_table_array(root, "", "tenants", "a table with name and token", tenants));
  cfg.server.tenants.clear();
  for (std::size_t i = 0; i < tenants.size(); ++i) {
    TenantConfig tenant;
    KVTIER_RETURN_IF_ERROR(read_tenant(r, *tenants[i], i, tenant));
    cfg.server.tenants.push_back(std::move(tenant));
  }
  return Status::Ok();
}

}  // namespace

void visit_daemon_config_keys(const ConfigKeyVisitor& visit) {
  visit_store_config_keys(visit);
  visit_keys("server", kServerKeys, visit);
  visit_keys("tenants", kTenantKeys, visit);
}

Result<DaemonConfig> parse_daemon_config_toml(std::string_view toml_text, std::string source) {
  TomlFieldReader reader(source);
  DaemonConfig cfg = DaemonConfig::defaults();
  KVTIER_RETURN_IF_ERROR(read_toml_document(toml_text, source, [&](const toml::table& root) {
    return read_daemon_config(reader, root, cfg);
  }));
  KVTIER_RETURN_IF_ERROR(reader.located(cfg.validate()));
  return cfg;
}

Result<DaemonConfig> load_daemon_config_file(const std::string& path) {
  Result<std::string> text = read_config_file_text(path);
  if (!text.ok()) return text.status();
  return parse_daemon_config_toml(*text, path);
}

}  // namespace kvtier::server
