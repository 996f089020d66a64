// Configuration of kvtierd: its listeners, limits and tenants (ServerConfig), and the whole daemon
// config file (DaemonConfig = the engine's StoreConfig plus [server] and [[tenants]]).
// docs/CONFIG.md lists every key. Only a config whose validate() returned OK reaches the server.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/config.h"
#include "kvtier/key.h"
#include "kvtier/status.h"

namespace kvtier::server {

// The tenant every Unix-socket connection without a token acts as. Its namespace is 0
// (kDefaultNamespace), the one embedded users of the Store use.
inline constexpr std::string_view kDefaultTenantName = "default";
// The Unix socket's file under data_dir when server.unix_socket is empty.
inline constexpr std::string_view kDefaultUnixSocketName = "kvtierd.sock";
// <data_dir>/kvtierd.ready: the running daemon's pid and bound addresses, written once it serves,
// removed at a clean exit and at the next start (a crash leaves it: check the pid is alive).
inline constexpr std::string_view kReadyFileName = "kvtierd.ready";
// The default tenant's token under data_dir when its config gives none (load_or_create_default_token).
inline constexpr std::string_view kAuthTokenFileName = "auth-token";
// sockaddr_un::sun_path holds 108 bytes including the terminating NUL.
inline constexpr std::size_t kMaxUnixSocketPathBytes = 107;
// Tokens: long enough not to be guessed; short enough for HELLO (protocol::kMaxHelloFieldBytes).
inline constexpr std::size_t kMinTokenBytes = 16;
inline constexpr std::size_t kMaxTokenBytes = 1024;
// The slowest a frame's data may arrive before server.frame_timeout_ms runs out on it: a client
// that cannot send 16 MiB/s (128 Mbit/s) is not one a KV cache next to GPUs serves; a 1 GiB
// PUT_MANY gets 64 s on top of the timeout.
inline constexpr std::uint64_t kMinDataBytesPerSecond = 16ull * 1024 * 1024;

struct TenantConfig {
  // [A-Za-z0-9_.-], 1..64 characters, unique. "default" configures the default tenant.
  std::string name;
  // The secret a client presents in HELLO. At least 16 bytes; unique across tenants. Empty is
  // allowed only for "default" (then kvtierd uses, or creates, <data_dir>/auth-token). May be
  // given instead as token_file (read at start, surrounding whitespace trimmed). Default: empty.
  std::string token;
  // Where `token` was read from (token_file resolved against the config file's directory), for
  // messages; empty when the token was given inline. Default: empty.
  std::string token_file;
  // The secret (at least 32 bytes) that seals the tenant's blocks in the shared tier, read from
  // shared_key_file at start: only nodes configured with it can write blocks of this tenant that
  // the others accept (docs/SHARED_TIER.md, "Block authentication"). Default: none (unsealed).
  std::string shared_key;
  std::string shared_key_file;
  // Bytes the tenant may hold in any one tier (DRAM, NVMe); a PUT that would pass it is
  // answered `rejected`. 0 = no quota. Default: 0.
  std::uint64_t quota_bytes = 0;
  // The common name of the client certificate (verified against server.tls_client_ca_file) that
  // authenticates a TLS connection as this tenant without a token. Default: empty (none).
  std::string tls_client_name;
  // DRAM bytes (as charged) the tenant may keep pinned at once. Default (unset): a quarter of
  // the DRAM-wide pin limit (dram.max_pinned_fraction of the capacity) for a named tenant, the
  // whole of it for the default tenant. 0: no limit of its own.
  std::optional<std::uint64_t> max_pinned_bytes;
  // Connections past HELLO the tenant may have at once (a HELLO past it is refused busy), so one
  // tenant cannot take every slot of server.max_connections. Default (unset): half of
  // server.max_connections for a named tenant, none of its own for the default tenant. 0: none.
  std::optional<std::uint32_t> max_connections;
  // The namespace its blocks live under, on every tier and across restarts: changing it orphans
  // the tenant's blocks. Unset: derived from the name (FNV-1a, never 0); "default" is always
  // namespace 0 and may not set another. An explicit value is unique and not 0. Read the
  // effective id with tenant_namespace(). Default: unset.
  std::optional<NamespaceId> namespace_id;
};

// The namespace a tenant's blocks live under: 0 for "default", else namespace_id when set, else
// FNV-1a (32-bit) of the name with 0 mapped to 1. ServerConfig::validate() has checked that these
// are distinct across tenants.
NamespaceId tenant_namespace(const TenantConfig& tenant);

// A tenant name: 1 to 64 characters of A-Z a-z 0-9 _ . -
bool valid_tenant_name(std::string_view name);

// The most I/O threads server.io_threads may ask for.
inline constexpr std::uint32_t kMaxIoThreads = 64;

struct ServerConfig {
  // Unix stream socket, mode 0660. Empty: "<data_dir>/kvtierd.sock" (inside the 0700 data
  // directory: the daemon's user alone). Elsewhere, its directory must not be writable by its
  // group or others without the sticky bit (private_dir.h). "off" disables it.
  std::string unix_socket;
  // TCP listener "HOST:PORT" ("[::1]:PORT" for IPv6). "off" disables it. Default:
  // "127.0.0.1:7420".
  std::string tcp_listen = "127.0.0.1:7420";
  // HTTP listener for Prometheus /metrics. "off" disables it. Default: "127.0.0.1:7421".
  std::string metrics_listen = "127.0.0.1:7421";
  // A file holding the bearer token /metrics then requires ("Authorization: Bearer <token>"),
  // read at start (mode 0600 or 0400); with it the text has per-tenant lines. Without one,
  // /metrics is open, with per-tenant lines only on a loopback address. Default: none.
  std::string metrics_token_file;
  std::string metrics_token;  // read from metrics_token_file
  // Whether tcp_listen and metrics_listen may name a non-loopback address. Default: false.
  bool allow_non_loopback = false;
  // TLS 1.3 on tcp_listen: the server's certificate chain and key (PEM), read at start and at
  // each reload. Both or neither. Default: none (plaintext).
  std::string tls_cert_file;
  std::string tls_key_file;
  // CAs that client certificates must chain to (PEM): clients are asked for one, and a verified
  // one whose common name is a tenant's tls_client_name authenticates as that tenant. Default:
  // none.
  std::string tls_client_ca_file;
  // Whether tcp_listen may be a non-loopback address without TLS (tokens and KV in clear on the
  // network). Default: false.
  bool allow_plaintext_tcp = false;
  // A group (name or number) whose members may use the Unix socket: it is made the socket's
  // group (mode 0660). The socket must then be outside the data directory (0700), e.g.
  // "/run/kvtier/kvtierd.sock"; its directory is created 0750 in the group. Default: none (only
  // the daemon's user reaches the default socket, inside the data directory).
  std::string unix_socket_group;
  // Whether a Unix client must present a token too. When false (the default), connecting to the
  // socket (mode 0660: the daemon's user and group) is the credential, and a HELLO without a
  // token acts as the default tenant: the operator's, without a quota unless one is configured,
  // whose STATS show every tenant. Set it when other tenants' processes can reach the socket, or
  // any of them could act as the default tenant by leaving its token out. Default: false.
  bool unix_token_required = false;
  // Event-driven I/O threads serving connections. Default: 2.
  std::uint32_t io_threads = 2;
  // Connections past HELLO (authenticated) at once; a HELLO past it is refused. Default: 1024.
  std::uint32_t max_connections = 1024;
  // Connections accepted and not yet through HELLO, a budget of their own so sockets without a
  // token cannot take the authenticated ones' slots. When it is full, the oldest of them on the
  // accepting I/O thread is closed for the new one (else the new one is). Default: 128.
  std::uint32_t max_pending_hello = 128;
  // Most items in one LOOKUP or *_MANY request. Default: 16384 (a 4,096-chunk chain fits).
  std::uint32_t max_batch = 16384;
  // Most data bytes in one frame (a PUT_MANY's values together). Default: 1 GiB.
  std::uint64_t max_frame_data_bytes = 1 * kGiB;
  // Response bytes a connection may have queued before the daemon stops reading its requests
  // (backpressure on pipelining clients). Default: 64 MiB.
  std::uint64_t max_queued_response_bytes = 64 * kMiB;
  // Memory all requests together may hold outside the tiers: values being received and response
  // data not yet sent (memory_budget.h). A request without room waits, then is refused Busy.
  // Its last eighth is kept for small requests; 7/8 of it must hold max_value_bytes.
  // Default: 1 GiB.
  std::uint64_t max_inflight_bytes = 1 * kGiB;
  // Shared memory one connection may register. Default: 64 GiB in at most 64 regions.
  std::uint64_t max_shm_bytes_per_connection = 64 * kGiB;
  std::uint32_t max_shm_regions_per_connection = 64;
  // A connection must complete HELLO within this. Default: 3 s.
  std::chrono::milliseconds hello_timeout{3'000};
  // A frame whose header has arrived must be complete within this, plus one second for each
  // kMinDataBytesPerSecond of its data, counted while the daemon is reading it; else the
  // connection is closed (a body sent as slowly as its sender likes held its memory). Default: 10 s.
  std::chrono::milliseconds frame_timeout{10'000};
  // A connection past HELLO with no byte read or sent for this long is closed; 0 keeps idle
  // connections (the default: engines keep one per worker for their lifetime, with shared
  // memory registered on it, and the clients do not reconnect by themselves).
  std::chrono::milliseconds idle_timeout{0};
  // On SIGTERM, the longest wait for in-flight requests before closing anyway. Default: 30 s.
  std::chrono::milliseconds shutdown_timeout{30'000};
  // "debug", "info", "warn" or "error". Default: "info".
  std::string log_level = "info";
  std::vector<TenantConfig> tenants;

  // Checks every field and the tenants (names, tokens, namespaces); InvalidArgument naming the
  // field ("server.io_threads", "tenants[2].token"), its value and the allowed range. The Unix
  // socket's default path depends on data_dir: DaemonConfig::validate() checks that one.
  Status validate() const;
};

// A daemon config file: the engine's keys at the top level and in [dram] / [nvme] (as
// load_store_config_file reads them), plus [server] and [[tenants]].
struct DaemonConfig {
  StoreConfig store;
  ServerConfig server;

  // The daemon's defaults: StoreConfig's, with data_dir "./var/kvtier".
  static DaemonConfig defaults();
  // store.validate(), server.validate(), then what needs both: the effective Unix socket path
  // fits in sockaddr_un; server.max_frame_data_bytes >= store.max_value_bytes.
  Status validate() const;
};

// The Unix socket the daemon listens on: server.unix_socket, or "<data_dir>/kvtierd.sock" when
// that is empty; empty when it is "off".
std::string effective_unix_socket(const DaemonConfig& config);

// Reads a daemon config from TOML text, starting from DaemonConfig::defaults(), and validates it.
// `source` names the text in messages ("<source>:<line>:<col>: ...") and its directory is the
// one a relative tenants.token_file is read from ("<config>": the working directory). Token files
// are read here: IOError naming the file when one cannot be read. Every other error is
// InvalidArgument (docs/CONFIG.md).
Result<DaemonConfig> parse_daemon_config_toml(std::string_view toml_text,
                                              std::string source = "<config>");
// parse_daemon_config_toml of the file's text, with `path` as the source. IOError when the file
// cannot be read.
Result<DaemonConfig> load_daemon_config_file(const std::string& path);

// Every key the daemon's file takes, section by section ("" = top level, "nvme.devices",
// "tenants"): the schemas the readers use, for checking docs/CONFIG.md against them.
void visit_daemon_config_keys(
    const std::function<void(std::string_view section, std::string_view key)>& visit);

// The default tenant's token when the config gives none: the trimmed contents of
// <data_dir>/auth-token, or, when that file does not exist, 32 random bytes (getrandom) written
// there as 64 hex digits with mode 0600 (data_dir is created if missing). The file is published
// atomically (written under a temporary name, then linked into place without replacing), so a
// concurrent reader never sees half a token and two creators agree on one. Refuses
// (InvalidArgument, saying what to do) a symlink, a non-regular file, a file accessible by group
// or others, and a token shorter than 16 or longer than 1024 bytes; IOError on a system error.
Result<std::string> load_or_create_default_token(const std::string& data_dir);

}  // namespace kvtier::server
