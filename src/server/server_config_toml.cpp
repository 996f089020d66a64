// The daemon's TOML config file: the engine's keys (engine/store_config_toml.h) plus [server] and
// [[tenants]], read with the same field rules and messages (config/toml_fields.h). The keys are
// docs/CONFIG.md; validation is DaemonConfig::validate() (server_config.cpp).
#include <filesystem>
#include <limits>

#include "engine/store_config_toml.h"
#include "config/toml_fields.h"
#include "server/server_config.h"
#include "server/token_file.h"

namespace kvtier::server {
namespace {

constexpr std::string_view kDaemonSections[] = {"server", "tenants"};
constexpr std::string_view kServerKeys[] = {"unix_socket",
                                            "unix_socket_group",
                                            "tcp_listen",
                                            "metrics_listen",
                                            "metrics_token_file",
                                            "allow_non_loopback",
                                            "tls_cert_file",
                                            "tls_key_file",
                                            "tls_client_ca_file",
                                            "allow_plaintext_tcp",
                                            "unix_token_required",
                                            "io_threads",
                                            "max_connections",
                                            "max_pending_hello",
                                            "max_batch",
                                            "max_frame_data_bytes",
                                            "max_queued_response_bytes",
                                            "max_inflight_bytes",
                                            "max_shm_bytes_per_connection",
                                            "max_shm_regions_per_connection",
                                            "hello_timeout_ms",
                                            "frame_timeout_ms",
                                            "idle_timeout_ms",
                                            "shutdown_timeout_ms",
                                            "log_level"};
constexpr std::string_view kTenantKeys[] = {"name", "token", "token_file", "quota_bytes",
                                            "tls_client_name", "max_pinned_bytes",
                                            "max_connections",
                                            "namespace_id"};

Status read_millis(TomlFieldReader& r, const toml::table& t, std::string_view key,
                   std::chrono::milliseconds& out) {
  std::uint64_t ms = static_cast<std::uint64_t>(out.count());
  KVTIER_RETURN_IF_ERROR(
      r.read_count(t, "server", key, std::numeric_limits<std::int64_t>::max(), ms));
  out = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
  return Status::Ok();
}

Status read_server(TomlFieldReader& r, const toml::table& t, ServerConfig& s) {
  // Validation errors about keys the file leaves out point at the [server] line.
  r.remember("server", t.source());
  KVTIER_RETURN_IF_ERROR(r.check_keys(t, "server", kServerKeys));
  KVTIER_RETURN_IF_ERROR(r.read_string(t, "server", "unix_socket", s.unix_socket));
  KVTIER_RETURN_IF_ERROR(r.read_string(t, "server", "unix_socket_group", s.unix_socket_group));
  KVTIER_RETURN_IF_ERROR(r.read_string(t, "server", "tcp_listen", s.tcp_listen));
  KVTIER_RETURN_IF_ERROR(r.read_string(t, "server", "metrics_listen", s.metrics_listen));
  KVTIER_RETURN_IF_ERROR(r.read_bool(t, "server", "allow_non_loopback", s.allow_non_loopback));
  KVTIER_RETURN_IF_ERROR(r.read_string(t, "server", "tls_cert_file", s.tls_cert_file));
  KVTIER_RETURN_IF_ERROR(r.read_string(t, "server", "tls_key_file", s.tls_key_file));
  KVTIER_RETURN_IF_ERROR(r.read_string(t, "server", "tls_client_ca_file", s.tls_client_ca_file));
  KVTIER_RETURN_IF_ERROR(r.read_bool(t, "server", "allow_plaintext_tcp", s.allow_plaintext_tcp));
  KVTIER_RETURN_IF_ERROR(r.read_bool(t, "server", "unix_token_required", s.unix_token_required));
  KVTIER_RETURN_IF_ERROR(r.read_u32(t, "server", "io_threads", s.io_threads));
  KVTIER_RETURN_IF_ERROR(r.read_u32(t, "server", "max_connections", s.max_connections));
  KVTIER_RETURN_IF_ERROR(r.read_u32(t, "server", "max_pending_hello", s.max_pending_hello));
  KVTIER_RETURN_IF_ERROR(r.read_u32(t, "server", "max_batch", s.max_batch));
  KVTIER_RETURN_IF_ERROR(r.read_size(t, "server", "max_frame_data_bytes", s.max_frame_data_bytes));
  KVTIER_RETURN_IF_ERROR(
      r.read_size(t, "server", "max_queued_response_bytes", s.max_queued_response_bytes));
  KVTIER_RETURN_IF_ERROR(r.read_size(t, "server", "max_inflight_bytes", s.max_inflight_bytes));
  KVTIER_RETURN_IF_ERROR(
      r.read_size(t, "server", "max_shm_bytes_per_connection", s.max_shm_bytes_per_connection));
  KVTIER_RETURN_IF_ERROR(r.read_u32(t, "server", "max_shm_regions_per_connection",
                                    s.max_shm_regions_per_connection));
  KVTIER_RETURN_IF_ERROR(read_millis(r, t, "hello_timeout_ms", s.hello_timeout));
  KVTIER_RETURN_IF_ERROR(read_millis(r, t, "frame_timeout_ms", s.frame_timeout));
  KVTIER_RETURN_IF_ERROR(read_millis(r, t, "idle_timeout_ms", s.idle_timeout));
  KVTIER_RETURN_IF_ERROR(read_millis(r, t, "shutdown_timeout_ms", s.shutdown_timeout));
  return r.read_string(t, "server", "log_level", s.log_level);
}

// A secret's file (tenants' token_file, server.metrics_token_file): read now, relative to the
// config file's directory, so that the daemon needs no file but its config once it runs, and a
// missing secret stops it at start, not at first use. `key` is the file's key in `t`; *path
// takes the resolved path, *secret the trimmed contents.
Status read_secret_file(TomlFieldReader& r, const toml::table& t, const std::string& prefix,
                        std::string_view key, const std::filesystem::path& config_dir,
                        std::string* path, std::string* secret) {
  std::string file;
  KVTIER_RETURN_IF_ERROR(r.read_string(t, prefix, key, file));
  const toml::node& node = *t.get(key);
  const std::string field = prefix + "." + std::string(key);
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

Status read_token_from_file(TomlFieldReader& r, const toml::table& t, const std::string& prefix,
                            const std::filesystem::path& config_dir, TenantConfig& tenant) {
  const toml::node& node = *t.get("token_file");
  if (t.get("token") != nullptr) {
    return Status::InvalidArgument(r.at(node) + prefix + ".token_file: set either token or " +
                                   "token_file, not both");
  }
  KVTIER_RETURN_IF_ERROR(
      read_secret_file(r, t, prefix, "token_file", config_dir, &tenant.token_file, &tenant.token));
  // A validation error about this token (too short, shared) points at the token_file line.
  r.remember(prefix + ".token", node.source());
  return Status::Ok();
}

Status read_tenant(TomlFieldReader& r, const toml::table& t, std::size_t index,
                   const std::filesystem::path& config_dir, TenantConfig& tenant) {
  const std::string prefix = "tenants[" + std::to_string(index) + "]";
  r.remember(prefix, t.source());
  KVTIER_RETURN_IF_ERROR(r.check_keys(t, prefix, kTenantKeys));
  KVTIER_RETURN_IF_ERROR(r.read_string(t, prefix, "name", tenant.name));
  if (t.get("name") == nullptr) {
    return Status::InvalidArgument(r.at(t.source()) + prefix +
                                   ".name is missing: every tenant needs a name");
  }
  KVTIER_RETURN_IF_ERROR(r.read_string(t, prefix, "token", tenant.token));
  if (t.get("token_file") != nullptr) {
    KVTIER_RETURN_IF_ERROR(read_token_from_file(r, t, prefix, config_dir, tenant));
  }
  KVTIER_RETURN_IF_ERROR(r.read_size(t, prefix, "quota_bytes", tenant.quota_bytes));
  KVTIER_RETURN_IF_ERROR(r.read_string(t, prefix, "tls_client_name", tenant.tls_client_name));
  if (t.get("max_pinned_bytes") != nullptr) {
    std::uint64_t pinned = 0;
    KVTIER_RETURN_IF_ERROR(r.read_size(t, prefix, "max_pinned_bytes", pinned));
    tenant.max_pinned_bytes = pinned;
  }
  if (t.get("max_connections") != nullptr) {
    std::uint32_t connections = 0;
    KVTIER_RETURN_IF_ERROR(r.read_u32(t, prefix, "max_connections", connections));
    tenant.max_connections = connections;
  }
  if (t.get("namespace_id") != nullptr) {
    NamespaceId ns = 0;
    KVTIER_RETURN_IF_ERROR(r.read_u32(t, prefix, "namespace_id", ns));
    tenant.namespace_id = ns;
  }
  return Status::Ok();
}

Status read_daemon_config(TomlFieldReader& r, const toml::table& root,
                          const std::filesystem::path& config_dir, DaemonConfig& cfg) {
  KVTIER_RETURN_IF_ERROR(read_store_config_fields(r, root, kDaemonSections, cfg.store));
  const toml::table* server = nullptr;
  KVTIER_RETURN_IF_ERROR(r.get_table(root, "", "server", server));
  if (server != nullptr) {
    KVTIER_RETURN_IF_ERROR(read_server(r, *server, cfg.server));
    if (server->get("metrics_token_file") != nullptr) {
      KVTIER_RETURN_IF_ERROR(read_secret_file(r, *server, "server", "metrics_token_file",
                                              config_dir, &cfg.server.metrics_token_file,
                                              &cfg.server.metrics_token));
    }
  }
  std::vector<const toml::table*> tenants;
  KVTIER_RETURN_IF_ERROR(
      r.get_table_array(root, "", "tenants", "a table with name and token", tenants));
  cfg.server.tenants.clear();
  for (std::size_t i = 0; i < tenants.size(); ++i) {
    TenantConfig tenant;
    KVTIER_RETURN_IF_ERROR(read_tenant(r, *tenants[i], i, config_dir, tenant));
    cfg.server.tenants.push_back(std::move(tenant));
  }
  return Status::Ok();
}

}  // namespace

Result<DaemonConfig> parse_daemon_config_toml(std::string_view toml_text, std::string source) {
  TomlFieldReader reader(source);
  DaemonConfig cfg = DaemonConfig::defaults();
  // "<config>" and a bare file name have no directory: relative token files are then read from
  // the working directory, as the file itself was.
  const std::filesystem::path config_dir = std::filesystem::path(source).parent_path();
  KVTIER_RETURN_IF_ERROR(read_toml_document(toml_text, source, [&](const toml::table& root) {
    return read_daemon_config(reader, root, config_dir, cfg);
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
