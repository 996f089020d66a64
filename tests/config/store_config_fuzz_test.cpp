// Mutation fuzzing of the TOML config parser: whatever the bytes, parse_store_config_toml returns
// a validated config or InvalidArgument; it never crashes, throws or hangs. Bounded iterations.
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "kvtier/config.h"

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

TEST(ConfigFuzz, MutatedFilesGiveAConfigOrAClearError) {
  ASSERT_TRUE(parse_store_config_toml(kSeed).ok()) << parse_store_config_toml(kSeed).status().to_string();
  const std::string alphabet = "=[]\"'.,#\n \t0123456789-+eE_abcdefghijklmnopqrstuvwxyz{}\\\x01\xff";
  std::uint64_t rng = 12345;
  int ok = 0, rejected = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string text = kSeed;
    int edits = 1 + static_cast<int>(next(rng) % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      std::size_t at = next(rng) % text.size();
      switch (next(rng) % 4) {
        case 0: text[at] = alphabet[next(rng) % alphabet.size()]; break;
        case 1: text.erase(at, 1 + next(rng) % 8); break;
        case 2: text.insert(at, 1, alphabet[next(rng) % alphabet.size()]); break;
        case 3: text.resize(at); break;
      }
    }
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

}  // namespace
}  // namespace kvtier
