// The daemon config: [server] and [[tenants]] parsing, every validation rule and its message
// (field, value, line:column), token files, tenant namespaces and the default auth-token file.
#include "server/server_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <map>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "server/token_file.h"
#include "support/test_support.h"

namespace kvtier::server {
namespace {

using kvtier::testing::TempDir;

// Asserts `s` has `code` and its message contains every one of `parts`.
void ExpectError(const Status& s, StatusCode code, std::initializer_list<std::string_view> parts) {
  ASSERT_FALSE(s.ok()) << "expected an error mentioning " << *parts.begin();
  EXPECT_EQ(s.code(), code) << s.to_string();
  for (std::string_view p : parts) {
    EXPECT_NE(s.message().find(p), std::string::npos) << "\"" << p << "\" not in: " << s.message();
  }
}

void ExpectInvalid(const Status& s, std::initializer_list<std::string_view> parts) {
  ExpectError(s, StatusCode::kInvalidArgument, parts);
}

template <typename T>
void ExpectInvalid(const Result<T>& r, std::initializer_list<std::string_view> parts) {
  ExpectInvalid(r.status(), parts);
}

Result<DaemonConfig> Parse(std::string_view text) { return parse_daemon_config_toml(text); }

void WriteFile(const std::string& path, std::string_view text, mode_t mode = 0600) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

mode_t FileMode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

constexpr std::string_view kToken16 = "0123456789abcdef";

// ---- defaults and parsing ----------------------------------------------------------------------

TEST(DaemonConfig, DefaultsAreValidAndUseTheDaemonDataDir) {
  DaemonConfig d = DaemonConfig::defaults();
  EXPECT_EQ(d.store.data_dir, "./var/kvtier");
  StoreConfig engine;
  EXPECT_EQ(d.store.max_value_bytes, engine.max_value_bytes);
  EXPECT_EQ(d.store.dram.capacity_bytes, engine.dram.capacity_bytes);
  EXPECT_EQ(d.store.nvme.default_file_bytes, engine.nvme.default_file_bytes);
  EXPECT_TRUE(d.validate().ok()) << d.validate().to_string();
  EXPECT_EQ(effective_unix_socket(d), "./var/kvtier/kvtierd.sock");

  Result<DaemonConfig> empty = Parse("");
  ASSERT_TRUE(empty.ok()) << empty.status().to_string();
  EXPECT_EQ(empty->store.data_dir, "./var/kvtier");
  EXPECT_EQ(empty->server.tcp_listen, "127.0.0.1:7420");
  EXPECT_EQ(empty->server.metrics_listen, "127.0.0.1:7421");
  EXPECT_EQ(empty->server.io_threads, 2u);
  EXPECT_EQ(empty->server.log_level, "info");
  EXPECT_TRUE(empty->server.tenants.empty());
}

TEST(DaemonConfig, EveryKeyIsParsed) {
  TempDir dir;
  WriteFile(dir.file("bob.token"), "  bob-secret-token-value\n\n");
  WriteFile(dir.file("bob.key"), std::string(64, 'f') + "\n");
  const std::string text = R"(data_dir = "/srv/kvtier"
max_value_bytes = "64MiB"
promote_on_nvme_hit = false

[dram]
capacity_bytes = "2GiB"
shards = 32

[nvme]
default_file_bytes = 0
io_depth = 16

[server]
unix_socket = "/run/kvtier/kvtierd.sock"
tcp_listen = "0.0.0.0:7000"
metrics_listen = "[::1]:7001"
allow_non_loopback = true
unix_socket_group = "kvtier"
tls_cert_file = "/etc/kvtier/tls/kvtierd.pem"
tls_key_file = "/etc/kvtier/tls/kvtierd.key"
tls_client_ca_file = "/etc/kvtier/tls/ca.pem"
allow_plaintext_tcp = false
max_inflight_bytes = "2GiB"
io_threads = 4
max_connections = 5000
max_batch = 8192
max_frame_data_bytes = "512MiB"
max_queued_response_bytes = 33554432
max_shm_bytes_per_connection = "8GiB"
max_shm_regions_per_connection = 16
hello_timeout_ms = 2500
shutdown_timeout_ms = 5000
log_level = "debug"

[[tenants]]
name = "default"
quota_bytes = "1GiB"

[[tenants]]
name = "alice"
token = "alice-secret-token-1"
namespace_id = 77
tls_client_name = "alice.example"

[[tenants]]
name = "bob.team_2-x"
token_file = "bob.token"
shared_key_file = "bob.key"
quota_bytes = 1000
)";
  Result<DaemonConfig> r = parse_daemon_config_toml(text, dir.file("kvtierd.toml"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const DaemonConfig& c = *r;
  EXPECT_EQ(c.store.data_dir, "/srv/kvtier");
  EXPECT_EQ(c.store.max_value_bytes, 64 * kMiB);
  EXPECT_FALSE(c.store.promote_on_nvme_hit);
  EXPECT_EQ(c.store.dram.capacity_bytes, 2 * kGiB);
  EXPECT_EQ(c.store.dram.shards, 32u);
  EXPECT_EQ(c.store.nvme.default_file_bytes, 0u);
  EXPECT_EQ(c.store.nvme.io_depth, 16u);

  const ServerConfig& s = c.server;
  EXPECT_EQ(s.unix_socket, "/run/kvtier/kvtierd.sock");
  EXPECT_EQ(effective_unix_socket(c), "/run/kvtier/kvtierd.sock");
  EXPECT_EQ(s.tcp_listen, "0.0.0.0:7000");
  EXPECT_EQ(s.metrics_listen, "[::1]:7001");
  EXPECT_TRUE(s.allow_non_loopback);
  EXPECT_EQ(s.unix_socket_group, "kvtier");
  EXPECT_EQ(s.tls_cert_file, "/etc/kvtier/tls/kvtierd.pem");
  EXPECT_EQ(s.tls_key_file, "/etc/kvtier/tls/kvtierd.key");
  EXPECT_EQ(s.tls_client_ca_file, "/etc/kvtier/tls/ca.pem");
  EXPECT_FALSE(s.allow_plaintext_tcp);
  EXPECT_EQ(s.max_inflight_bytes, 2 * kGiB);
  EXPECT_EQ(s.io_threads, 4u);
  EXPECT_EQ(s.max_connections, 5000u);
  EXPECT_EQ(s.max_batch, 8192u);
  EXPECT_EQ(s.max_frame_data_bytes, 512 * kMiB);
  EXPECT_EQ(s.max_queued_response_bytes, 32 * kMiB);
  EXPECT_EQ(s.max_shm_bytes_per_connection, 8 * kGiB);
  EXPECT_EQ(s.max_shm_regions_per_connection, 16u);
  EXPECT_EQ(s.hello_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(s.shutdown_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(s.log_level, "debug");

  ASSERT_EQ(s.tenants.size(), 3u);
  EXPECT_EQ(s.tenants[0].name, "default");
  EXPECT_EQ(s.tenants[0].token, "");
  EXPECT_EQ(s.tenants[0].quota_bytes, 1 * kGiB);
  EXPECT_FALSE(s.tenants[0].namespace_id.has_value());
  EXPECT_EQ(tenant_namespace(s.tenants[0]), kDefaultNamespace);
  EXPECT_EQ(s.tenants[1].name, "alice");
  EXPECT_EQ(s.tenants[1].token, "alice-secret-token-1");
  EXPECT_EQ(s.tenants[1].token_file, "");
  EXPECT_EQ(s.tenants[1].tls_client_name, "alice.example");
  EXPECT_EQ(s.tenants[1].namespace_id, std::optional<NamespaceId>(77));
  EXPECT_EQ(tenant_namespace(s.tenants[1]), 77u);
  EXPECT_EQ(s.tenants[2].name, "bob.team_2-x");
  EXPECT_EQ(s.tenants[2].token, "bob-secret-token-value");  // trimmed
  EXPECT_EQ(s.tenants[2].token_file, dir.file("bob.token"));
  EXPECT_EQ(s.tenants[2].shared_key, std::string(64, 'f'));
  EXPECT_EQ(s.tenants[2].shared_key_file, dir.file("bob.key"));
  EXPECT_EQ(s.tenants[2].quota_bytes, 1000u);
}

TEST(DaemonConfig, AShortSharedKeyIsRefusedWithoutShowingIt) {
  TempDir dir;
  WriteFile(dir.file("t.token"), "a-token-of-enough-bytes");
  WriteFile(dir.file("t.key"), "short-secret");
  Result<DaemonConfig> r = parse_daemon_config_toml(
      "[[tenants]]\nname = \"t\"\ntoken_file = \"t.token\"\nshared_key_file = \"t.key\"\n",
      dir.file("kvtierd.toml"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("shared_key_file"), std::string::npos) << r.status().to_string();
  EXPECT_NE(r.status().message().find("at least 32"), std::string::npos) << r.status().to_string();
  EXPECT_EQ(r.status().message().find("short-secret"), std::string::npos) << "the key leaked into the message";
}

TEST(DaemonConfig, ListenersCanBeTurnedOff) {
  Result<DaemonConfig> r = Parse("[server]\nunix_socket = \"off\"\nmetrics_listen = \"off\"\n");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(effective_unix_socket(*r), "");
  EXPECT_TRUE(Parse("[server]\ntcp_listen = \"off\"\n").ok());
  EXPECT_TRUE(Parse("[server]\ntcp_listen = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\n").ok())
      << "two ephemeral ports are not the same address";
  EXPECT_TRUE(Parse("[server]\ntcp_listen = \"localhost:7420\"\n").ok());
  EXPECT_TRUE(Parse("[server]\ntcp_listen = \"[::1]:7420\"\n").ok());
  EXPECT_TRUE(Parse("[server]\ntcp_listen = \"127.8.9.10:7420\"\n").ok());
}

TEST(DaemonConfig, UnknownKeysAreErrorsWithTheirPlace) {
  ExpectInvalid(Parse("[server]\nio_thread = 2\n"),
                {"<config>:2:1:", "unknown key \"server.io_thread\"", "io_threads", "in [server]"});
  ExpectInvalid(Parse("[[tenants]]\nname = \"a\"\ntokn = \"x\"\n"),
                {"<config>:3:1:", "unknown key \"tenants[0].tokn\"", "token_file"});
  ExpectInvalid(Parse("data_dir = \"/x\"\nservr = 1\n"),
                {"<config>:2:1:", "unknown key \"servr\"", "server", "tenants", "nvme"});
  ExpectInvalid(Parse("[dram]\nshard = 1\n"), {"<config>:2:1:", "unknown key \"dram.shard\""});
}

TEST(DaemonConfig, WrongTypesAreErrors) {
  ExpectInvalid(Parse("[server]\nio_threads = \"2\"\n"),
                {"<config>:2:", "server.io_threads", "expected an integer", "got a string"});
  ExpectInvalid(Parse("[server]\nallow_non_loopback = 1\n"),
                {"<config>:2:", "server.allow_non_loopback", "true or false"});
  ExpectInvalid(Parse("[server]\ntcp_listen = 7420\n"),
                {"<config>:2:", "server.tcp_listen", "expected a string"});
  ExpectInvalid(Parse("[server]\nmax_frame_data_bytes = 1.5\n"),
                {"<config>:2:", "server.max_frame_data_bytes", "a number of bytes"});
  ExpectInvalid(Parse("[server]\nmax_frame_data_bytes = \"1.5GiB\"\n"),
                {"<config>:2:", "server.max_frame_data_bytes"});
  ExpectInvalid(Parse("[server]\nhello_timeout_ms = -5\n"),
                {"<config>:2:", "server.hello_timeout_ms = -5", "negative"});
  ExpectInvalid(Parse("server = 5\n"), {"<config>:1:", "server: expected a table"});
  ExpectInvalid(Parse("[tenants]\nname = \"a\"\n"),
                {"<config>:1:", "tenants: expected an array of tables ([[tenants]])"});
  ExpectInvalid(Parse("tenants = [1]\n"),
                {"<config>:1:", "tenants[0]: expected a table with name and token"});
  ExpectInvalid(Parse("[[tenants]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\nnamespace_id = -1\n"),
                {"<config>:4:", "tenants[0].namespace_id = -1", "negative"});
  ExpectInvalid(
      Parse("[[tenants]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\nnamespace_id = 4294967296\n"),
      {"<config>:4:", "tenants[0].namespace_id = 4294967296", "at most 4294967295"});
  ExpectInvalid(Parse("[[tenants]]\nname = 5\n"), {"<config>:2:", "tenants[0].name", "a string"});
  ExpectInvalid(Parse("[[tenants]]\nname = \"a\"\nquota_bytes = \"lots\"\n"),
                {"<config>:3:", "tenants[0].quota_bytes"});
}

// ---- validation: [server] ----------------------------------------------------------------------

struct BadCase {
  std::string toml;
  std::vector<std::string> parts;
};

void ExpectAllRejected(const std::vector<BadCase>& cases) {
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.toml);
    Result<DaemonConfig> r = Parse(c.toml);
    ASSERT_FALSE(r.ok()) << "accepted:\n" << c.toml;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().to_string();
    for (const std::string& p : c.parts) {
      EXPECT_NE(r.status().message().find(p), std::string::npos)
          << "\"" << p << "\" not in: " << r.status().message();
    }
  }
}

TEST(DaemonConfigValidate, ListenAddresses) {
  ExpectAllRejected({
      {"[server]\ntcp_listen = \"0.0.0.0:7420\"\n",
       {"<config>:2:14:", "server.tcp_listen = \"0.0.0.0:7420\"", "not a loopback",
        "allow_non_loopback = true"}},
      {"[server]\n\nmetrics_listen = \"10.1.2.3:9100\"\n",
       {"<config>:3:", "server.metrics_listen", "not a loopback", "allow_non_loopback = true"}},
      {"[server]\ntcp_listen = \"cache.example.com:7420\"\n",
       {"<config>:2:", "server.tcp_listen", "not a loopback"}},
      {"[server]\ntcp_listen = \"[::]:7420\"\n", {"<config>:2:", "not a loopback"}},
      {"[server]\ntcp_listen = \"localhost\"\n", {"<config>:2:", "server.tcp_listen", "no port"}},
      {"[server]\ntcp_listen = \"127.0.0.1:70000\"\n", {"<config>:2:", "out of range 0..65535"}},
      {"[server]\nmetrics_listen = \"::1:80\"\n",
       {"<config>:2:", "server.metrics_listen", "in brackets", "\"off\""}},
      {"[server]\ntcp_listen = \"\"\n", {"<config>:2:", "server.tcp_listen", "empty"}},
      {"[server]\ntcp_listen = \"127.0.0.1:7500\"\nmetrics_listen = \"127.0.0.1:7500\"\n",
       {"<config>:3:", "server.metrics_listen", "different ports"}},
      {"[server]\nunix_socket = \"off\"\ntcp_listen = \"off\"\n",
       {"<config>:2:", "server.unix_socket", "no client could connect"}},
  });
  // A non-loopback TCP listener without TLS carries tokens and KV in clear: refused unless
  // allow_plaintext_tcp says so, or TLS is configured.
  ExpectInvalid(Parse("[server]\nallow_non_loopback = true\ntcp_listen = \"0.0.0.0:7420\"\n"),
                {"server.tcp_listen", "in clear", "allow_plaintext_tcp"});
  ExpectInvalid(Parse("[server]\ntls_cert_file = \"c.pem\"\n"),
                {"server.tls_cert_file", "both"});
  ExpectInvalid(Parse("[server]\ntls_client_ca_file = \"ca.pem\"\n"),
                {"server.tls_client_ca_file", "need TLS"});
  EXPECT_TRUE(Parse("[server]\nallow_non_loopback = true\ntcp_listen = \"0.0.0.0:7420\"\n"
                    "tls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"\n")
                  .ok());
  // With allow_non_loopback every address is accepted.
  Result<DaemonConfig> r = Parse(
      "[server]\nallow_non_loopback = true\nallow_plaintext_tcp = true\n"
      "tcp_listen = \"0.0.0.0:7420\"\n"
      "metrics_listen = \"cache.example.com:9100\"\n");
  EXPECT_TRUE(r.ok()) << r.status().to_string();
}

TEST(DaemonConfigValidate, UnixSocketPathMustFitSockaddrUn) {
  const std::string ok_path = "/" + std::string(kMaxUnixSocketPathBytes - 1, 's');
  ASSERT_EQ(ok_path.size(), 107u);
  EXPECT_TRUE(Parse("[server]\nunix_socket = \"" + ok_path + "\"\n").ok());
  ExpectAllRejected({
      {"[server]\nunix_socket = \"" + ok_path + "x\"\n",
       {"<config>:2:", "server.unix_socket", "108 bytes", "107"}},
      {"[server]\nunix_socket = \"a\\u0000b\"\n", {"<config>:2:", "NUL"}},
  });
  // The default path under data_dir counts too: 95 + "/kvtierd.sock" (13) = 108 bytes.
  const std::string long_dir = "/" + std::string(94, 'd');
  ExpectAllRejected({{"data_dir = \"" + long_dir + "\"\n",
                      {"<config>: ", "server.unix_socket = \"\"", "default path", "108 bytes"}},
                     {"data_dir = \"" + long_dir + "\"\n[server]\nio_threads = 2\n",
                      {"<config>:2:", "default path"}}});
  EXPECT_TRUE(Parse("data_dir = \"" + long_dir + "\"\n[server]\nunix_socket = \"/tmp/k.sock\"\n").ok());
  EXPECT_TRUE(Parse("data_dir = \"" + long_dir + "\"\n[server]\nunix_socket = \"off\"\n").ok());
  EXPECT_TRUE(Parse("data_dir = \"" + long_dir.substr(1) + "\"\n").ok()) << "107 bytes fit";
}

TEST(DaemonConfigValidate, LimitsNameFieldValueAndRange) {
  ExpectAllRejected({
      {"[server]\nio_threads = 0\n", {"<config>:2:", "server.io_threads = 0", "[1, 64]"}},
      {"[server]\nio_threads = 65\n", {"server.io_threads = 65", "[1, 64]"}},
      {"[server]\nmax_connections = 0\n", {"<config>:2:", "server.max_connections = 0", "[1, 1000000]"}},
      {"[server]\nmax_connections = 1000001\n", {"[1, 1000000]"}},
      {"[server]\nmax_batch = 0\n", {"<config>:2:", "server.max_batch = 0", "[1, 32767]"}},
      {"[server]\nmax_batch = 32768\n",
       {"server.max_batch = 32768", "[1, 32767]", "GET_MANY_SHM", "1048584 bytes", "1048576"}},
      {"[server]\nmax_batch = 65536\n", {"server.max_batch = 65536", "[1, 32767]"}},
      {"[server]\nmax_frame_data_bytes = \"1048575\"\n",
       {"<config>:2:", "server.max_frame_data_bytes = 1048575", "[1048576, 1073741824]"}},
      {"[server]\nmax_frame_data_bytes = \"1GiB\"\n\nmax_batch = 0\n", {"<config>:4:"}},
      {"[server]\nmax_frame_data_bytes = 1073741825\n", {"[1048576, 1073741824]"}},
      {"max_value_bytes = \"512MiB\"\n[server]\nmax_frame_data_bytes = \"256MiB\"\n",
       {"<config>:3:", "server.max_frame_data_bytes = 268435456",
        "at least max_value_bytes = 536870912"}},
      {"max_value_bytes = \"1GiB\"\n[server]\nmax_frame_data_bytes = \"1023MiB\"\n",
       {"<config>:3:", "server.max_frame_data_bytes = 1072693248", "max_value_bytes = 1073741824"}},
      {"max_value_bytes = \"512MiB\"\n[server]\nmax_inflight_bytes = \"512MiB\"\n",
       {"<config>:3:", "server.max_inflight_bytes = 536870912",
        "7/8 of it must hold a buffer of max_value_bytes = 536870912"}},
      {"\nmax_value_bytes = \"2GiB\"\n",
       {"<config>:2:", "max_value_bytes = 2147483648", "at most 1073741824"}},
      {"[server]\nmax_queued_response_bytes = \"1023KiB\"\n",
       {"<config>:2:", "server.max_queued_response_bytes = 1047552", "at least 1048576"}},
      {"[server]\nmax_shm_bytes_per_connection = 0\n",
       {"<config>:2:", "server.max_shm_bytes_per_connection = 0", "at least 4096"}},
      {"[server]\nmax_shm_regions_per_connection = 0\n",
       {"<config>:2:", "server.max_shm_regions_per_connection = 0", "[1, 1024]"}},
      {"[server]\nmax_shm_regions_per_connection = 1025\n", {"[1, 1024]"}},
      {"[server]\nhello_timeout_ms = 0\n", {"<config>:2:", "server.hello_timeout_ms = 0", "[1, 86400000]"}},
      {"[server]\nshutdown_timeout_ms = 0\n", {"<config>:2:", "server.shutdown_timeout_ms = 0"}},
      {"[server]\nshutdown_timeout_ms = 86400001\n", {"server.shutdown_timeout_ms = 86400001"}},
      {"[server]\nlog_level = \"verbose\"\n",
       {"<config>:2:", "server.log_level = \"verbose\"", "\"debug\", \"info\", \"warn\" or \"error\""}},
      {"[server]\nlog_level = \"INFO\"\n", {"server.log_level = \"INFO\""}},
      // Engine errors keep their own names and places in the daemon's file.
      {"[dram]\nshards = 12\n", {"<config>:2:10:", "dram.shards = 12", "power of two"}},
  });
}

TEST(DaemonConfigValidate, BoundariesAreAccepted) {
  for (const std::string& body : {
           std::string("io_threads = 1"), std::string("io_threads = 64"),
           std::string("max_connections = 1"), std::string("max_connections = 1000000"),
           std::string("max_batch = 1"), std::string("max_batch = 32767"),
           std::string("max_frame_data_bytes = \"1GiB\""),
           std::string("max_queued_response_bytes = \"1MiB\""),
           std::string("max_shm_bytes_per_connection = 4096"),
           std::string("max_shm_regions_per_connection = 1"),
           std::string("max_shm_regions_per_connection = 1024"),
           std::string("hello_timeout_ms = 1"), std::string("shutdown_timeout_ms = 86400000"),
           std::string("log_level = \"debug\""), std::string("log_level = \"info\""),
           std::string("log_level = \"warn\""), std::string("log_level = \"error\"")}) {
    Result<DaemonConfig> r = Parse("[server]\n" + body + "\n");
    EXPECT_TRUE(r.ok()) << body << ": " << r.status().to_string();
  }
  Result<DaemonConfig> small = Parse("max_value_bytes = \"1MiB\"\n[server]\nmax_frame_data_bytes = \"1MiB\"\n");
  EXPECT_TRUE(small.ok()) << small.status().to_string();
}

TEST(DaemonConfigValidate, StructErrorsNameTheFieldWithoutAFile) {
  ServerConfig s;
  s.io_threads = 0;
  ExpectInvalid(s.validate(), {"server.io_threads = 0", "[1, 64]"});
  s = ServerConfig{};
  s.hello_timeout = std::chrono::milliseconds(0);
  ExpectInvalid(s.validate(), {"server.hello_timeout_ms = 0"});
  DaemonConfig d = DaemonConfig::defaults();
  d.store.data_dir = "";
  ExpectInvalid(d.validate(), {"data_dir is empty"});
}

// ---- validation: [[tenants]] -------------------------------------------------------------------

// A [[tenants]] block of TOML.
std::string tenant_toml(std::string_view name, std::string_view token,
                        std::string_view extra = "") {
  std::string t = "[[tenants]]\nname = \"" + std::string(name) + "\"\n";
  if (!token.empty()) t += "token = \"" + std::string(token) + "\"\n";
  if (!extra.empty()) t += std::string(extra) + "\n";
  return t;
}

TEST(DaemonConfigValidate, TenantNamesAndTokens) {
  const std::string long_name(65, 'n');
  ExpectAllRejected({
      {tenant_toml("bad name", kToken16),
       {"<config>:2:8:", "tenants[0].name = \"bad name\"", "A-Z a-z 0-9 _ . -"}},
      {tenant_toml("", kToken16), {"<config>:2:", "tenants[0].name = \"\"", "1 to 64"}},
      {tenant_toml(long_name, kToken16), {"tenants[0].name", "1 to 64"}},
      {tenant_toml("a/b", kToken16), {"tenants[0].name = \"a/b\""}},
      {"[[tenants]]\ntoken = \"0123456789abcdef\"\n",
       {"<config>:1:", "tenants[0].name is missing"}},
      {tenant_toml("alice", kToken16) + tenant_toml("alice", "fedcba9876543210"),
       {"<config>:5:", "tenants[1].name = \"alice\"", "tenants[0] has the same name"}},
      {tenant_toml("alice", "short"),
       {"<config>:3:", "tenants[0].token of tenant \"alice\" is invalid", "5 bytes", "16 to 1024"}},
      {tenant_toml("alice", std::string(1025, 't')), {"tenants[0].token", "1025 bytes", "16 to 1024"}},
      {tenant_toml("alice", ""), {"<config>:1:", "tenants[0].token is missing", "token_file"}},
      {tenant_toml("alice", kToken16) + tenant_toml("bob", kToken16),
       {"<config>:6:", "tenants[1].token of tenant \"bob\"", "same as the token of tenants[0] (\"alice\")"}},
      {tenant_toml("default", "tiny"), {"tenants[0].token of tenant \"default\"", "4 bytes"}},
  });
  // The secret itself never appears in a message.
  Result<DaemonConfig> dup = Parse(tenant_toml("alice", "the-shared-secret-123") + tenant_toml("bob", "the-shared-secret-123"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message().find("the-shared-secret-123"), std::string::npos)
      << dup.status().message();
  // "default" may go without a token (it then uses <data_dir>/auth-token); exactly 16 bytes is
  // enough; 64 characters of every allowed kind make a name.
  EXPECT_TRUE(Parse(tenant_toml("default", "")).ok());
  const std::string name64 = "Az09_.-" + std::string(57, 'x');
  Result<DaemonConfig> ok = Parse(tenant_toml(name64, kToken16) + tenant_toml("b", std::string(1024, 'k')));
  EXPECT_TRUE(ok.ok()) << ok.status().to_string();
}

TEST(DaemonConfigValidate, TenantNamespaces) {
  // FNV-1a test vectors (offset basis 2166136261, prime 16777619).
  TenantConfig t;
  t.name = "a";
  EXPECT_EQ(tenant_namespace(t), 0xe40c292cu);
  t.name = "foobar";
  EXPECT_EQ(tenant_namespace(t), 0xbf9cf968u);
  // A name whose FNV-1a is 0 gets namespace 1: 0 is the default tenant's.
  t.name = "zzi21xbC";
  EXPECT_EQ(tenant_namespace(t), 1u);
  t.namespace_id = 42;
  EXPECT_EQ(tenant_namespace(t), 42u);
  t.name = "default";
  EXPECT_EQ(tenant_namespace(t), kDefaultNamespace);

  ExpectAllRejected({
      {tenant_toml("alice", kToken16, "namespace_id = 0"),
       {"<config>:4:", "tenants[0].namespace_id = 0", "default tenant's namespace"}},
      {tenant_toml("default", "", "namespace_id = 5"),
       {"<config>:3:", "tenants[0].namespace_id = 5", "always namespace 0"}},
      {tenant_toml("alice", kToken16, "namespace_id = 9") + tenant_toml("bob", "fedcba9876543210", "namespace_id = 9"),
       {"<config>:8:", "tenants[1].namespace_id = 9", "tenants[0] (\"alice\") has the same namespace_id"}},
      // "tovlf" and "t7pdh" have the same FNV-1a (0xe481e4b8).
      {tenant_toml("tovlf", kToken16) + tenant_toml("t7pdh", "fedcba9876543210"),
       {"<config>:4:", "tenants[1].namespace_id of tenant \"t7pdh\"", "3833717944",
        "tenants[0] (\"tovlf\")", "set tenants[1].namespace_id explicitly"}},
      // An explicit id equal to another tenant's derived one.
      {tenant_toml("a", kToken16) + tenant_toml("b", "fedcba9876543210", "namespace_id = 3826002220"),
       {"<config>:7:", "tenants[1].namespace_id = 3826002220",
        "tenants[0] (\"a\") derives the same namespace from its name"}},
  });
  EXPECT_TRUE(Parse(tenant_toml("default", "", "namespace_id = 0")).ok());
  Result<DaemonConfig> fixed = Parse(tenant_toml("tovlf", kToken16) +
                                     tenant_toml("t7pdh", "fedcba9876543210", "namespace_id = 12345"));
  ASSERT_TRUE(fixed.ok()) << fixed.status().to_string();
  EXPECT_EQ(tenant_namespace(fixed->server.tenants[1]), 12345u);
}

// ---- token_file --------------------------------------------------------------------------------

TEST(DaemonConfigTokenFile, RelativePathsAreRelativeToTheConfigFile) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("etc/secrets"));
  WriteFile(dir.file("etc/secrets/alice"), "\talice-token-from-a-file \r\n");
  WriteFile(dir.file("etc/kvtierd.toml"),
            "[[tenants]]\nname = \"alice\"\ntoken_file = \"secrets/alice\"\n");
  // Loaded by its path, from a working directory that is not the file's.
  Result<DaemonConfig> r = load_daemon_config_file(dir.file("etc/kvtierd.toml"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->server.tenants.size(), 1u);
  EXPECT_EQ(r->server.tenants[0].token, "alice-token-from-a-file");
  EXPECT_EQ(r->server.tenants[0].token_file, dir.file("etc/secrets/alice"));

  // An absolute path is used as it is, wherever the config is.
  Result<DaemonConfig> abs = parse_daemon_config_toml(
      "[[tenants]]\nname = \"alice\"\ntoken_file = \"" + dir.file("etc/secrets/alice") + "\"\n",
      "/nonexistent/kvtierd.toml");
  ASSERT_TRUE(abs.ok()) << abs.status().to_string();
  EXPECT_EQ(abs->server.tenants[0].token, "alice-token-from-a-file");
}

// Issue 25, item 6: a token file group or others can read was accepted.
TEST(DaemonConfigTokenFile, AFileOthersCanReadIsRefused) {
  TempDir dir;
  const std::string cfg = dir.file("kvtierd.toml");
  for (mode_t mode : {0640u, 0604u, 0644u, 0660u}) {
    WriteFile(dir.file("a.token"), "a-token-of-enough-bytes\n", mode);
    Result<DaemonConfig> r =
        parse_daemon_config_toml("[[tenants]]\nname = \"a\"\ntoken_file = \"a.token\"\n", cfg);
    ExpectInvalid(r.status(), {dir.file("a.token"), "group or others", "chmod 600"});
  }
  WriteFile(dir.file("a.token"), "a-token-of-enough-bytes\n", 0400);
  EXPECT_TRUE(
      parse_daemon_config_toml("[[tenants]]\nname = \"a\"\ntoken_file = \"a.token\"\n", cfg).ok());
}

// server.metrics_token_file: the /metrics bearer token, read at start from a private file.
TEST(DaemonConfigTokenFile, TheMetricsTokenIsReadFromAPrivateFile) {
  TempDir dir;
  const std::string cfg = dir.file("kvtierd.toml");
  const std::string toml = "[server]\nmetrics_token_file = \"metrics.token\"\n";
  WriteFile(dir.file("metrics.token"), "scrape-secret-0123456789\n", 0644);
  ExpectInvalid(parse_daemon_config_toml(toml, cfg).status(),
                {cfg + ":2:", "server.metrics_token_file", "group or others"});
  WriteFile(dir.file("metrics.token"), "scrape-secret-0123456789\n", 0600);
  Result<DaemonConfig> r = parse_daemon_config_toml(toml, cfg);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->server.metrics_token, "scrape-secret-0123456789");
  EXPECT_EQ(r->server.metrics_token_file, dir.file("metrics.token"));
  WriteFile(dir.file("metrics.token"), "\n", 0600);
  ExpectInvalid(parse_daemon_config_toml(toml, cfg).status(), {"server.metrics_token_file", "empty"});
}

TEST(DaemonConfigTokenFile, ErrorsNameTheFileAndLine) {
  TempDir dir;
  const std::string cfg = dir.file("kvtierd.toml");
  // Unreadable (missing): IOError naming the resolved file.
  Result<DaemonConfig> missing =
      parse_daemon_config_toml("[[tenants]]\nname = \"a\"\ntoken_file = \"nope.token\"\n", cfg);
  ExpectError(missing.status(), StatusCode::kIOError,
              {cfg + ":3:14:", "tenants[0].token_file = \"nope.token\"", dir.file("nope.token"),
               "No such file"});
  // A directory is not a token file.
  Result<DaemonConfig> directory =
      parse_daemon_config_toml("[[tenants]]\nname = \"a\"\ntoken_file = \".\"\n", cfg);
  ExpectInvalid(directory, {cfg + ":3:", "not a regular file"});
  // Empty after trimming.
  WriteFile(dir.file("blank"), " \n\t\n");
  ExpectInvalid(parse_daemon_config_toml("[[tenants]]\nname = \"a\"\ntoken_file = \"blank\"\n", cfg),
                {cfg + ":3:", "tenants[0].token_file", "is empty"});
  ExpectInvalid(parse_daemon_config_toml("[[tenants]]\nname = \"a\"\ntoken_file = \"\"\n", cfg),
                {cfg + ":3:", "tenants[0].token_file is empty"});
  // Larger than any token.
  WriteFile(dir.file("huge"), std::string(kMaxTokenFileBytes + 1, 'h'));
  ExpectInvalid(parse_daemon_config_toml("[[tenants]]\nname = \"a\"\ntoken_file = \"huge\"\n", cfg),
                {cfg + ":3:", "larger than 4096 bytes"});
  // Both token and token_file.
  WriteFile(dir.file("a.token"), "a-token-in-a-file-0001\n");
  ExpectInvalid(parse_daemon_config_toml(
                    "[[tenants]]\nname = \"a\"\ntoken = \"0123456789abcdef\"\ntoken_file = \"a.token\"\n",
                    cfg),
                {cfg + ":4:", "tenants[0].token_file", "either token or token_file, not both"});
  // A token from a file that breaks a rule points at the token_file line.
  WriteFile(dir.file("short"), "short\n");
  ExpectInvalid(parse_daemon_config_toml(
                    "[[tenants]]\nname = \"a\"\n\ntoken_file = \"short\"\n", cfg),
                {cfg + ":4:", "tenants[0].token of tenant \"a\"", "5 bytes"});
  ExpectInvalid(parse_daemon_config_toml(tenant_toml("b", "a-token-in-a-file-0001") +
                                             "[[tenants]]\nname = \"a\"\ntoken_file = \"a.token\"\n",
                                         cfg),
                {cfg + ":6:", "tenants[1].token", "same as the token of tenants[0]"});
}

// ---- the engine's reader and the daemon's file -------------------------------------------------

TEST(DaemonConfigFile, TheEngineReaderRejectsADaemonFile) {
  ExpectInvalid(parse_store_config_toml("data_dir = \"/x\"\n[server]\nio_threads = 2\n"),
                {"<config>:2:", "unknown key \"server\"", "daemon's config file", "kvtier serve"});
  ExpectInvalid(parse_store_config_toml("[[tenants]]\nname = \"a\"\n"),
                {"<config>:1:", "unknown key \"tenants\"", "daemon's config file"});
  // An engine-only file is a valid daemon file with the daemon's defaults for the rest.
  Result<DaemonConfig> d = parse_daemon_config_toml("[dram]\nshards = 4\n");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->store.dram.shards, 4u);
  EXPECT_EQ(d->store.data_dir, "./var/kvtier");
}

TEST(DaemonConfigFile, LoadErrors) {
  TempDir dir;
  Result<DaemonConfig> missing = load_daemon_config_file(dir.file("absent.toml"));
  ExpectError(missing.status(), StatusCode::kIOError,
              {"cannot open config file", dir.file("absent.toml")});
  WriteFile(dir.file("bad.toml"), "[server]\nio_threads = 100\n");
  ExpectInvalid(load_daemon_config_file(dir.file("bad.toml")),
                {dir.file("bad.toml") + ":2:", "server.io_threads = 100"});
  WriteFile(dir.file("syntax.toml"), "[server\n");
  ExpectInvalid(load_daemon_config_file(dir.file("syntax.toml")),
                {dir.file("syntax.toml") + ":1:", "TOML syntax error"});
}

// The example in docs/CONFIG.md is a valid daemon config (so the doc cannot drift from the code).
TEST(DaemonConfigFile, TheDocumentedExampleIsValid) {
  std::ifstream doc(std::string(KVTIER_SOURCE_DIR) + "/docs/CONFIG.md");
  ASSERT_TRUE(doc.good());
  const std::string text((std::istreambuf_iterator<char>(doc)), std::istreambuf_iterator<char>());
  const std::size_t heading = text.find("## Example: a daemon config");
  ASSERT_NE(heading, std::string::npos);
  const std::size_t begin = text.find("```toml\n", heading);
  ASSERT_NE(begin, std::string::npos);
  const std::size_t end = text.find("```", begin + 8);
  ASSERT_NE(end, std::string::npos);
  const std::string example = text.substr(begin + 8, end - begin - 8);
  TempDir dir;
  std::filesystem::create_directories(dir.file("secrets"));
  WriteFile(dir.file("secrets/team-a.token"), "team-a-token-0123456789\n");
  Result<DaemonConfig> r = parse_daemon_config_toml(example, dir.file("kvtierd.toml"));
  ASSERT_TRUE(r.ok()) << r.status().to_string() << "\n" << example;
  EXPECT_EQ(r->server.tenants.size(), 3u);
  EXPECT_EQ(r->server.tenants[1].token, "team-a-token-0123456789");
  EXPECT_EQ(tenant_namespace(r->server.tenants[2]), 1001u);
}

// docs/CONFIG.md and the readers' schemas name the same keys: every key a reader takes is
// documented in its section, and every key a section's table documents is one its reader takes.
TEST(DaemonConfigFile, ConfigDocNamesExactlyTheKeysTheReadersTake) {
  std::ifstream doc(std::string(KVTIER_SOURCE_DIR) + "/docs/CONFIG.md");
  ASSERT_TRUE(doc.good());
  const std::string text((std::istreambuf_iterator<char>(doc)), std::istreambuf_iterator<char>());
  // [shared.fs] and [shared.redis] are told in [shared]'s section, in prose, without a table.
  auto told_in_shared = [](std::string_view section) { return section.starts_with("shared."); };
  // The text of the "## " section that documents `section`.
  auto section_text = [&](std::string_view section) -> std::string {
    const std::string top(told_in_shared(section) ? "shared" : section);
    std::size_t at = top.empty() ? text.find("## Top level")
                                 : text.find("## `[" + top + "]`");
    if (at == std::string::npos) at = text.find("## `[[" + top + "]]`");
    if (at == std::string::npos) return "";
    const std::size_t end = text.find("\n## ", at + 3);
    return text.substr(at, end == std::string::npos ? std::string::npos : end - at);
  };
  std::map<std::string, std::set<std::string>> schema;
  visit_daemon_config_keys([&](std::string_view section, std::string_view key) {
    schema[std::string(section)].insert(std::string(key));
  });
  // "", dram, nvme, nvme.devices, shared(.fs, .redis, .s3, .s3.packing, .azure, .azure.packing),
  // server, tenants
  ASSERT_EQ(schema.size(), 13u);
  for (const auto& [section, keys] : schema) {
    const std::string body = section_text(section);
    ASSERT_FALSE(body.empty()) << "CONFIG.md has no section for [" << section << "]";
    for (const std::string& key : keys) {
      const std::string dotted = section.empty() ? key : section + "." + key;
      if (schema.contains(dotted)) continue;  // a sub-table, documented in its own section
      EXPECT_NE(body.find("`" + key + "`"), std::string::npos)
          << "[" << section << "] " << key << " is read but not documented in CONFIG.md";
    }
    if (told_in_shared(section)) continue;
    // The section's table rows ("| `key` | type | ...") are keys this section's reader takes.
    for (std::size_t at = body.find("\n| `"); at != std::string::npos;
         at = body.find("\n| `", at + 1)) {
      const std::size_t close = body.find('`', at + 4);
      const std::string key = body.substr(at + 4, close - at - 4);
      EXPECT_TRUE(keys.contains(key))
          << "CONFIG.md documents [" << section << "] " << key << ", which no reader takes";
    }
  }
}

// ---- <data_dir>/auth-token ---------------------------------------------------------------------

TEST(DefaultToken, CreatedOnceWithMode0600ThenReused) {
  TempDir dir;
  const std::string data_dir = dir.file("data/nested");  // created if missing
  Result<std::string> first = load_or_create_default_token(data_dir);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->size(), 64u);
  EXPECT_EQ(first->find_first_not_of("0123456789abcdef"), std::string::npos) << *first;
  const std::string path = data_dir + "/auth-token";
  EXPECT_EQ(FileMode(path), 0600u);
  Result<std::string> second = load_or_create_default_token(data_dir);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_EQ(*second, *first);
  // Only the token file is left behind (no temporary file).
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(data_dir)) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "auth-token");
  }
  EXPECT_EQ(entries, 1);
  // Another directory gets another token.
  Result<std::string> other = load_or_create_default_token(dir.file("other"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *first);
}

TEST(DefaultToken, AnExistingFileIsTrimmed) {
  TempDir dir;
  WriteFile(dir.file("auth-token"), "  my-own-default-token-0001 \n");
  Result<std::string> t = load_or_create_default_token(dir.path());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(*t, "my-own-default-token-0001");
}

TEST(DefaultToken, UnsafeOrBadFilesAreRefused) {
  for (mode_t mode : {0640u, 0604u, 0660u, 0644u, 0602u}) {
    TempDir dir;
    WriteFile(dir.file("auth-token"), "my-own-default-token-0001\n", mode);
    Result<std::string> t = load_or_create_default_token(dir.path());
    char octal[8];
    std::snprintf(octal, sizeof(octal), "%04o", static_cast<unsigned>(mode));
    ExpectInvalid(t, {dir.file("auth-token"), "group or others", octal, "chmod 600"});
  }
  {
    TempDir dir;
    WriteFile(dir.file("real"), "my-own-default-token-0001\n");
    ASSERT_EQ(::symlink(dir.file("real").c_str(), dir.file("auth-token").c_str()), 0);
    ExpectInvalid(load_or_create_default_token(dir.path()), {"symbolic link"});
  }
  {
    TempDir dir;  // a dangling link is refused too, not followed to create its target
    ASSERT_EQ(::symlink(dir.file("target").c_str(), dir.file("auth-token").c_str()), 0);
    ExpectInvalid(load_or_create_default_token(dir.path()), {"symbolic link"});
    EXPECT_FALSE(std::filesystem::exists(dir.file("target")));
  }
  {
    TempDir dir;
    WriteFile(dir.file("auth-token"), "short\n");
    ExpectInvalid(load_or_create_default_token(dir.path()), {"5 bytes", "16 to 1024"});
  }
  {
    TempDir dir;
    WriteFile(dir.file("auth-token"), "");
    ExpectInvalid(load_or_create_default_token(dir.path()), {"0 bytes", "delete it"});
  }
  {
    TempDir dir;
    std::filesystem::create_directory(dir.file("auth-token"));
    ExpectInvalid(load_or_create_default_token(dir.path()), {"not a regular file"});
  }
}

TEST(DefaultToken, UmaskDoesNotChangeTheMode) {
  TempDir dir;
  const mode_t old = ::umask(0277);  // would leave 0400
  Result<std::string> t = load_or_create_default_token(dir.path());
  ::umask(old);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(FileMode(dir.file("auth-token")), 0600u);
}

TEST(TokenFile, TrimsOnlyTheEnds) {
  EXPECT_EQ(trim_token_whitespace(" \t\r\n a b \n\v\f"), "a b");
  EXPECT_EQ(trim_token_whitespace("\n\n"), "");
  EXPECT_EQ(trim_token_whitespace("x"), "x");
}

}  // namespace
}  // namespace kvtier::server
