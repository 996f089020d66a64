// Mutation fuzzing of the TOML config parsers: whatever the bytes, parse_store_config_toml and
// parse_daemon_config_toml return a validated config or a clear error; they never crash, throw or
// hang. Bounded iterations.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "kvtier/config.h"
#include "server/server_config.h"
#include "support/test_support.h"

namespace kvtier {
namespace {

const char* kSeed = R"(data_dir = "/var/lib/kvtier"
max_value_bytes = "256MiB"
promote_on_nvme_hit = true
[dram]
capacity_bytes = "2GiB"
shards = 16
small_queue_fraction = 0.1
max_pinned_fraction = 0.5
max_lease_ms = 60000
[nvme]
region_size = "64MiB"
write_buffers = 2
write_io_bytes = "1MiB"
io_depth = 8
reclaim = "lru"
reinsert_min_hits = 1
write_budget_mb_s = 500.0
write_budget_burst_s = 1.0
index_shards = 64
[[nvme.devices]]
path = "/dev/nvme0n1"
size_bytes = 0
)";

std::uint64_t next(std::uint64_t& s) {
  s = s * 6364136223846793005ull + 1442695040888963407ull;
  return s >> 17;
}

const std::string kAlphabet =
    "=[]\"'.,#\n \t0123456789-+eE_abcdefghijklmnopqrstuvwxyz{}\\\x01\xff";

// 1 to 4 random edits: replace, erase, insert or truncate.
std::string mutate(const std::string& seed, std::uint64_t& rng) {
  std::string text = seed;
  int edits = 1 + static_cast<int>(next(rng) % 4);
  for (int e = 0; e < edits && !text.empty(); ++e) {
    std::size_t at = next(rng) % text.size();
    switch (next(rng) % 4) {
      case 0: text[at] = kAlphabet[next(rng) % kAlphabet.size()]; break;
      case 1: text.erase(at, 1 + next(rng) % 8); break;
      case 2: text.insert(at, 1, kAlphabet[next(rng) % kAlphabet.size()]); break;
      case 3: text.resize(at); break;
    }
  }
  return text;
}

TEST(ConfigFuzz, MutatedFilesGiveAConfigOrAClearError) {
  ASSERT_TRUE(parse_store_config_toml(kSeed).ok()) << parse_store_config_toml(kSeed).status().to_string();
  std::uint64_t rng = 12345;
  int ok = 0, rejected = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    const std::string text = mutate(kSeed, rng);
    Result<StoreConfig> r = parse_store_config_toml(text);
    if (r.ok()) {
      ++ok;
      EXPECT_TRUE(r->validate().ok()) << "a parsed config must be valid:\n" << text;
    } else {
      ++rejected;
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().to_string();
      EXPECT_FALSE(r.status().message().empty());
    }
  }
  EXPECT_GT(rejected, 1000);
  EXPECT_GT(ok, 10);
}

// The daemon's file: the engine's keys plus [server] and [[tenants]] (one token read from a file,
// named relative to the config file, so mutations also reach the token_file path).
const char* kDaemonSeed = R"(data_dir = "/var/lib/kvtier"
max_value_bytes = "64MiB"
[dram]
capacity_bytes = "1GiB"
[nvme]
default_file_bytes = 0
[server]
unix_socket = "/run/kvtier.sock"
tcp_listen = "127.0.0.1:7420"
metrics_listen = "[::1]:7421"
allow_non_loopback = false
io_threads = 2
max_connections = 1024
max_batch = 16384
max_frame_data_bytes = "1GiB"
max_queued_response_bytes = "64MiB"
max_shm_bytes_per_connection = "64GiB"
max_shm_regions_per_connection = 64
hello_timeout_ms = 10000
shutdown_timeout_ms = 30000
log_level = "info"
[[tenants]]
name = "default"
quota_bytes = 0
[[tenants]]
name = "alice"
token = "alice-secret-token-1"
namespace_id = 7
[[tenants]]
name = "bob"
token_file = "bob.token"
quota_bytes = "1GiB"
)";

TEST(ConfigFuzz, MutatedDaemonFilesGiveAConfigOrAClearError) {
  testing::TempDir dir;
  {
    std::ofstream(dir.file("bob.token")) << "bob-secret-token-22\n";
    std::filesystem::permissions(dir.file("bob.token"), std::filesystem::perms::owner_read |
                                                            std::filesystem::perms::owner_write);
  }
  const std::string source = dir.file("kvtierd.toml");
  Result<server::DaemonConfig> seed = server::parse_daemon_config_toml(kDaemonSeed, source);
  ASSERT_TRUE(seed.ok()) << seed.status().to_string();
  std::uint64_t rng = 67890;
  int ok = 0, rejected = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    const std::string text = mutate(kDaemonSeed, rng);
    Result<server::DaemonConfig> r = server::parse_daemon_config_toml(text, source);
    if (r.ok()) {
      ++ok;
      EXPECT_TRUE(r->validate().ok()) << "a parsed config must be valid:\n" << text;
    } else {
      ++rejected;
      // IOError only from a mutated token_file that names no readable file.
      EXPECT_TRUE(r.status().code() == StatusCode::kInvalidArgument ||
                  r.status().code() == StatusCode::kIOError)
          << r.status().to_string();
      EXPECT_EQ(r.status().message().rfind(source, 0), 0u)
          << "every error names the file: " << r.status().message();
    }
  }
  EXPECT_GT(rejected, 1000);
  EXPECT_GT(ok, 10);
}

}  // namespace
}  // namespace kvtier
