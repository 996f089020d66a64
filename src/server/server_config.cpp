// ServerConfig / DaemonConfig validation, the daemon's defaults and tenant namespaces (see
// server_config.h; the keys and rules are docs/CONFIG.md, "[server]" and "[[tenants]]").
//
// Every message starts with the field as the config file names it ("server.max_batch",
// "tenants[2].token") so that the file reader can prefix the line:column where it was set.
// Tokens are secrets: messages give their length, never their bytes.
#include "server/server_config.h"

#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include "config/config_error.h"
#include "memory/aligned_buffer.h"
#include "net/host_port.h"
#include "protocol/frame.h"
#include "protocol/meta.h"

namespace kvtier::server {
namespace {

static_assert(kMaxTokenBytes <= protocol::kMaxHelloFieldBytes,
              "a configured token must fit in HELLO's token field");

constexpr std::string_view kOff = "off";
constexpr std::string_view kLogLevels[] = {"debug", "info", "warn", "error"};
constexpr std::size_t kMaxTenantNameBytes = 64;
constexpr std::uint32_t kMaxConnections = 1'000'000;
constexpr std::uint32_t kMaxPendingHello = 100'000;
constexpr std::uint32_t kMaxShmRegions = 1024;
constexpr std::uint64_t kMinFrameDataBytes = 1 * kMiB;
constexpr std::uint64_t kMinQueuedResponseBytes = 1 * kMiB;
// The smallest region worth registering is one page.
constexpr std::uint64_t kMinShmBytes = 4096;
// Longer timeouts are never meant, and a bound keeps deadline arithmetic (now + timeout, in
// nanoseconds) far from overflow.
constexpr std::int64_t kMaxTimeoutMs = 24LL * 3600 * 1000;

// The largest list request is GET_MANY_SHM / PUT_MANY_SHM: u32 region id, u32 count, then items
// of (key, u64, u64). max_batch of them must fit in one frame's meta.
constexpr std::uint64_t kShmManyFixedBytes = 4 + 4;
constexpr std::uint64_t shm_many_meta_bytes(std::uint64_t items) {
  return kShmManyFixedBytes + items * protocol::kWireBytes<protocol::ShmPutItem>;
}
constexpr std::uint32_t kMaxBatchByProtocol = 65536;
constexpr std::uint32_t kMaxBatch = static_cast<std::uint32_t>(
    std::min<std::uint64_t>(kMaxBatchByProtocol, (protocol::kMaxMetaBytes - kShmManyFixedBytes) /
                                                     protocol::kWireBytes<protocol::ShmPutItem>));
static_assert(shm_many_meta_bytes(kMaxBatch) <= protocol::kMaxMetaBytes);
static_assert(kMaxBatch >= 16384, "the default max_batch must be valid");

std::string num(std::uint64_t v) { return std::to_string(v); }
std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

Status check_range(std::string_view field, std::uint64_t value, std::uint64_t lo,
                   std::uint64_t hi) {
  if (value >= lo && value <= hi) return Status::Ok();
  return invalid_config_value(field, num(value), "must be in [" + num(lo) + ", " + num(hi) + "]");
}

Status check_timeout(std::string_view field, std::chrono::milliseconds t) {
  if (t.count() >= 1 && t.count() <= kMaxTimeoutMs) return Status::Ok();
  return invalid_config_value(
      field, std::to_string(t.count()),
      "must be in [1, " + std::to_string(kMaxTimeoutMs) + "] milliseconds (1 day)");
}

// "off", or an address parse_host_port accepts; a non-loopback host needs allow_non_loopback.
Status check_listen(std::string_view field, const std::string& value, bool allow_non_loopback) {
  if (value == kOff) return Status::Ok();
  Result<net::HostPort> hp = net::parse_host_port(value);
  if (!hp.ok()) {
    return invalid_config_value(field, in_quotes(value),
                                hp.status().message() + " (or \"off\" to disable it)");
  }
  if (!allow_non_loopback && !net::is_loopback_host(hp->host)) {
    return invalid_config_value(
        field, in_quotes(value),
        in_quotes(hp->host) +
            " is not a loopback address (127.0.0.0/8, ::1, localhost), so other "
            "machines could connect; set server.allow_non_loopback = true to listen "
            "there");
  }
  return Status::Ok();
}

Status check_unix_socket_path(std::string_view field, const std::string& shown,
                              const std::string& path, std::string_view what) {
  if (path.find('\0') != std::string::npos) {
    return invalid_config_value(field, shown, std::string(what) + " contains a NUL byte");
  }
  if (path.size() > kMaxUnixSocketPathBytes) {
    return invalid_config_value(
        field, shown,
        std::string(what) + " is " + num(path.size()) + " bytes, longer than the " +
            num(kMaxUnixSocketPathBytes) +
            " a Unix socket path may have (sockaddr_un); choose a shorter path");
  }
  return Status::Ok();
}


std::string tenant_field(std::size_t i, std::string_view key) {
  return "tenants[" + std::to_string(i) + "]." + std::string(key);
}

std::string tenant_ref(const std::vector<TenantConfig>& tenants, std::size_t i) {
  return "tenants[" + std::to_string(i) + "] (" + in_quotes(tenants[i].name) + ")";
}

Status check_tenant(const TenantConfig& t, std::size_t i) {
  const bool is_default = t.name == kDefaultTenantName;
  if (!valid_tenant_name(t.name)) {
    return invalid_config_value(tenant_field(i, "name"), in_quotes(t.name),
                                "must be 1 to 64 characters of A-Z a-z 0-9 _ . -");
  }
  if (t.token.empty()) {
    if (!is_default) {
      return Status::InvalidArgument(tenant_field(i, "token") + " is missing: tenant " +
                                     in_quotes(t.name) +
                                     " needs a token or token_file (only \"default\" may have "
                                     "none; it then uses <data_dir>/auth-token)");
    }
  } else if (t.token.size() < kMinTokenBytes || t.token.size() > kMaxTokenBytes) {
    return Status::InvalidArgument(tenant_field(i, "token") + " of tenant " + in_quotes(t.name) +
                                   " is invalid: it is " + num(t.token.size()) +
                                   " bytes, must be " + num(kMinTokenBytes) + " to " +
                                   num(kMaxTokenBytes));
  }
  if (!t.shared_key.empty() && t.shared_key.size() < 32) {
    return Status::InvalidArgument(tenant_field(i, "shared_key_file") + " of tenant " + in_quotes(t.name) +
                                   " is invalid: the key in it is " + num(t.shared_key.size()) +
                                   " bytes, must be at least 32 (e.g. `openssl rand -hex 32`)");
  }
  if (t.namespace_id.has_value()) {
    if (is_default && *t.namespace_id != kDefaultNamespace) {
      return invalid_config_value(tenant_field(i, "namespace_id"), num(*t.namespace_id),
                                  "the \"default\" tenant is always namespace 0");
    }
    if (!is_default && *t.namespace_id == kDefaultNamespace) {
      return invalid_config_value(
          tenant_field(i, "namespace_id"), "0",
          "0 is the default tenant's namespace; use 1 to 4294967295, or leave it "
          "unset to derive it from the name");
    }
  }
  return Status::Ok();
}

// Names, tokens and effective namespaces are distinct across tenants.
Status check_tenants_distinct(const std::vector<TenantConfig>& tenants) {
  std::unordered_map<std::string_view, std::size_t> names, tokens;
  std::unordered_map<NamespaceId, std::size_t> namespaces;
  for (std::size_t i = 0; i < tenants.size(); ++i) {
    const TenantConfig& t = tenants[i];
    if (auto [it, fresh] = names.emplace(t.name, i); !fresh) {
      return invalid_config_value(
          tenant_field(i, "name"), in_quotes(t.name),
          "tenants[" + num(it->second) + "] has the same name; names are unique");
    }
    if (!t.token.empty()) {
      if (auto [it, fresh] = tokens.emplace(t.token, i); !fresh) {
        return Status::InvalidArgument(
            tenant_field(i, "token") + " of tenant " + in_quotes(t.name) +
            " is invalid: it is the same as the token of " + tenant_ref(tenants, it->second) +
            "; every tenant needs its own");
      }
    }
    const NamespaceId ns = tenant_namespace(t);
    auto [it, fresh] = namespaces.emplace(ns, i);
    if (fresh) continue;
    const std::size_t j = it->second;
    const bool other_explicit = tenants[j].namespace_id.has_value();
    if (t.namespace_id.has_value()) {
      return invalid_config_value(
          tenant_field(i, "namespace_id"), num(ns),
          tenant_ref(tenants, j) +
              (other_explicit ? " has the same namespace_id"
                              : " derives the same namespace from its name") +
              "; namespaces are unique, choose another value");
    }
    return Status::InvalidArgument(
        tenant_field(i, "namespace_id") + " of tenant " + in_quotes(t.name) +
        " is invalid: the namespace derived from its name (FNV-1a: " + num(ns) +
        ") is the namespace of " + tenant_ref(tenants, j) + "; set " +
        tenant_field(i, "namespace_id") + " explicitly to an unused value (1 to 4294967295)");
  }
  return Status::Ok();
}

}  // namespace

bool valid_tenant_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxTenantNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

NamespaceId tenant_namespace(const TenantConfig& tenant) {
  if (tenant.name == kDefaultTenantName) return kDefaultNamespace;
  if (tenant.namespace_id.has_value()) return *tenant.namespace_id;
  // FNV-1a, 32-bit (offset basis 2166136261, prime 16777619): stable across versions and
  // machines, so a tenant's blocks on NVMe stay its own after a restart.
  std::uint32_t h = 2166136261u;
  for (char c : tenant.name) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h == kDefaultNamespace ? 1 : h;
}

Status ServerConfig::validate() const {
  if (unix_socket != kOff && !unix_socket.empty()) {
    KVTIER_RETURN_IF_ERROR(check_unix_socket_path("server.unix_socket", in_quotes(unix_socket),
                                                  unix_socket, "the path"));
  }
  KVTIER_RETURN_IF_ERROR(check_listen("server.tcp_listen", tcp_listen, allow_non_loopback));
  KVTIER_RETURN_IF_ERROR(check_listen("server.metrics_listen", metrics_listen, allow_non_loopback));
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    return invalid_config_value(
        tls_cert_file.empty() ? "server.tls_key_file" : "server.tls_cert_file",
        in_quotes(tls_cert_file.empty() ? tls_key_file : tls_cert_file),
        "TLS needs both server.tls_cert_file and server.tls_key_file");
  }
  if (!tls_client_ca_file.empty() && tls_cert_file.empty()) {
    return invalid_config_value(
        "server.tls_client_ca_file", in_quotes(tls_client_ca_file),
        "client certificates need TLS: set server.tls_cert_file and tls_key_file");
  }
  if (tcp_listen != kOff && tls_cert_file.empty() && !allow_plaintext_tcp) {
    Result<net::HostPort> hp = net::parse_host_port(tcp_listen);
    if (hp.ok() && !net::is_loopback_host(hp->host)) {
      return invalid_config_value(
          "server.tcp_listen", in_quotes(tcp_listen),
          "a non-loopback address without TLS would carry tokens and KV in clear: set "
          "server.tls_cert_file and tls_key_file, or server.allow_plaintext_tcp = true");
    }
  }
  if (unix_socket == kOff && tcp_listen == kOff) {
    return invalid_config_value(
        "server.unix_socket", in_quotes(unix_socket),
        "server.tcp_listen is \"off\" too, so no client could connect; enable one");
  }
  if (tcp_listen != kOff && metrics_listen != kOff) {
    Result<net::HostPort> tcp = net::parse_host_port(tcp_listen);
    Result<net::HostPort> metrics = net::parse_host_port(metrics_listen);
    if (tcp->port != 0 && tcp->port == metrics->port && tcp->host == metrics->host) {
      return invalid_config_value(
          "server.metrics_listen", in_quotes(metrics_listen),
          "it is server.tcp_listen's address; the two listeners need different ports");
    }
  }
  KVTIER_RETURN_IF_ERROR(check_range("server.io_threads", io_threads, 1, kMaxIoThreads));
  KVTIER_RETURN_IF_ERROR(
      check_range("server.max_connections", max_connections, 1, kMaxConnections));
  KVTIER_RETURN_IF_ERROR(
      check_range("server.max_pending_hello", max_pending_hello, 1, kMaxPendingHello));
  if (max_batch < 1 || max_batch > kMaxBatch) {
    std::string rule = "must be in [1, " + num(kMaxBatch) + "]";
    if (max_batch > kMaxBatch) {
      rule += ": a GET_MANY_SHM or PUT_MANY_SHM request of " + num(max_batch) + " items needs " +
              num(shm_many_meta_bytes(max_batch)) + " bytes of meta, above the protocol's " +
              num(protocol::kMaxMetaBytes);
    }
    return invalid_config_value("server.max_batch", num(max_batch), rule);
  }
  KVTIER_RETURN_IF_ERROR(check_range("server.max_frame_data_bytes", max_frame_data_bytes,
                                     kMinFrameDataBytes, protocol::kDefaultMaxDataBytes));
  if (max_queued_response_bytes < kMinQueuedResponseBytes) {
    return invalid_config_value("server.max_queued_response_bytes", num(max_queued_response_bytes),
                                "must be at least " + num(kMinQueuedResponseBytes) + " (1 MiB)");
  }
  if (max_shm_bytes_per_connection < kMinShmBytes) {
    return invalid_config_value("server.max_shm_bytes_per_connection",
                                num(max_shm_bytes_per_connection),
                                "must be at least " + num(kMinShmBytes) + " (one page)");
  }
  KVTIER_RETURN_IF_ERROR(check_range("server.max_shm_regions_per_connection",
                                     max_shm_regions_per_connection, 1, kMaxShmRegions));
  KVTIER_RETURN_IF_ERROR(check_timeout("server.hello_timeout_ms", hello_timeout));
  KVTIER_RETURN_IF_ERROR(check_timeout("server.frame_timeout_ms", frame_timeout));
  if (idle_timeout.count() != 0) {
    KVTIER_RETURN_IF_ERROR(check_timeout("server.idle_timeout_ms", idle_timeout));
  }
  KVTIER_RETURN_IF_ERROR(check_timeout("server.shutdown_timeout_ms", shutdown_timeout));
  if (std::find(std::begin(kLogLevels), std::end(kLogLevels), log_level) == std::end(kLogLevels)) {
    return invalid_config_value("server.log_level", in_quotes(log_level),
                                "must be \"debug\", \"info\", \"warn\" or \"error\"");
  }
  for (std::size_t i = 0; i < tenants.size(); ++i) {
    KVTIER_RETURN_IF_ERROR(check_tenant(tenants[i], i));
  }
  return check_tenants_distinct(tenants);
}

DaemonConfig DaemonConfig::defaults() {
  DaemonConfig config;
  config.store.data_dir = "./var/kvtier";
  return config;
}

Status DaemonConfig::validate() const {
  KVTIER_RETURN_IF_ERROR(store.validate());
  KVTIER_RETURN_IF_ERROR(server.validate());
  if (server.unix_socket.empty()) {
    const std::string path = effective_unix_socket(*this);
    KVTIER_RETURN_IF_ERROR(check_unix_socket_path(
        "server.unix_socket", "\"\"", path,
        "its default path <data_dir>/" + std::string(kDefaultUnixSocketName) + " = " +
            in_quotes(path)));
  }
  if (store.max_value_bytes > protocol::kDefaultMaxDataBytes) {
    // No max_frame_data_bytes could fix this one: the value limit itself is out of reach.
    return invalid_config_value("max_value_bytes", num(store.max_value_bytes),
                                "the daemon sends a value in one frame, so it must be at most " +
                                    num(protocol::kDefaultMaxDataBytes) +
                                    " (1 GiB, the protocol's data limit)");
  }
  if (server.max_frame_data_bytes < store.max_value_bytes) {
    return invalid_config_value("server.max_frame_data_bytes", num(server.max_frame_data_bytes),
                                "must be at least max_value_bytes = " + num(store.max_value_bytes) +
                                    ", or a PUT of the largest value would not fit in one frame");
  }
  // A large request may hold 7/8 of the budget (memory_budget.h keeps the rest for small ones).
  if (server.max_inflight_bytes - server.max_inflight_bytes / 8 <
      aligned_buffer_footprint(store.max_value_bytes)) {
    return invalid_config_value(
        "server.max_inflight_bytes", num(server.max_inflight_bytes),
        "7/8 of it must hold a buffer of max_value_bytes = " + num(store.max_value_bytes) + " (" +
            num(aligned_buffer_footprint(store.max_value_bytes)) +
            " with its rounding), or a PUT or GET of the largest value could never run");
  }
  return Status::Ok();
}

std::string effective_unix_socket(const DaemonConfig& config) {
  const std::string& configured = config.server.unix_socket;
  if (configured == kOff) return "";
  if (!configured.empty()) return configured;
  return (std::filesystem::path(config.store.data_dir) / kDefaultUnixSocketName).string();
}

}  // namespace kvtier::server
