// DramTier under concurrency: writers, readers, pins, removes and probes at once; readers check
// every value they get against a pattern derived from its key and version, so torn or wrong bytes
// would be caught. Every loop is bounded.
#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dram/block.h"
#include "dram/dram_tier.h"
#include "dram_test_util.h"

namespace kvtier::dram {
namespace {

using namespace std::chrono_literals;
using testing::bid;
using testing::counters;
using testing::make_tier;
using testing::small_config;
using testing::splitmix64;
using testing::test_key;

constexpr std::uint64_t kKeys = 400;

std::size_t value_size(std::uint64_t key) { return 512 + (key * 977) % 8192; }

// A value: its version in the first 8 bytes, then bytes derived from (key, version, position).
std::byte value_byte(std::uint64_t key, std::uint64_t version, std::size_t pos) {
  return static_cast<std::byte>(splitmix64(key * 1000003 + version) + pos * 31);
}

void fill_value(std::uint64_t key, std::uint64_t version, std::span<std::byte> out) {
  std::memcpy(out.data(), &version, sizeof version);
  for (std::size_t i = sizeof version; i < out.size(); ++i) out[i] = value_byte(key, version, i);
}

// True when `bytes` is exactly some version of key's value.
bool valid_value(std::uint64_t key, std::span<const std::byte> bytes) {
  if (bytes.size() != value_size(key)) return false;
  std::uint64_t version;
  std::memcpy(&version, bytes.data(), sizeof version);
  for (std::size_t i = sizeof version; i < bytes.size(); ++i) {
    if (bytes[i] != value_byte(key, version, i)) return false;
  }
  return true;
}

TEST(DramConcurrency, ReadersWritersPinsAndRemoves) {
  // ~400 keys of ~4.5 KiB on average (~1.8 MiB) in 256 KiB: constant eviction.
  auto tier = make_tier(small_config(256 * kKiB, 4));
  constexpr int kWriters = 4, kReaders = 4;
  constexpr int kPutsPerWriter = 3000, kGetsPerReader = 6000, kAdminOps = 1500;
  std::atomic<std::uint64_t> bad_values{0}, bad_evicted{0}, failed_puts{0}, successful_puts{0};
  std::atomic<std::uint64_t> version_source{1};

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(100 + w);
      std::vector<BlockRef> evicted;
      for (int i = 0; i < kPutsPerWriter; ++i) {
        const std::uint64_t key = rng() % kKeys;
        const std::uint64_t version = version_source.fetch_add(1);
        auto r = tier->reserve(bid(key), value_size(key));
        if (!r.ok()) {
          failed_puts.fetch_add(1);
          continue;
        }
        fill_value(key, version, r->data());
        evicted.clear();
        Status s = tier->commit(*r, CommitMode::kReplace, false, &evicted);
        if (!s.ok()) {
          failed_puts.fetch_add(1);
          continue;
        }
        successful_puts.fetch_add(1);
        for (const BlockRef& e : evicted) {
          bool ok = false;
          for (std::uint64_t k = 0; k < kKeys && !ok; ++k) {
            if (e.id() == bid(k)) ok = valid_value(k, e.value());
          }
          if (!ok) bad_evicted.fetch_add(1);
          tier->end_departure(e);
        }
      }
    });
  }
  for (int rd = 0; rd < kReaders; ++rd) {
    threads.emplace_back([&, rd] {
      std::mt19937_64 rng(200 + rd);
      std::vector<std::byte> dst(16 * kKiB);
      for (int i = 0; i < kGetsPerReader; ++i) {
        const std::uint64_t key = rng() % kKeys;
        if (i % 4 == 0) {
          BlockRef ref = tier->acquire(bid(key));
          if (ref && !valid_value(key, ref.value())) bad_values.fetch_add(1);
          continue;
        }
        GetResult g = tier->get(bid(key), dst);
        if (g.status.ok() && !valid_value(key, std::span(dst).first(g.size))) bad_values.fetch_add(1);
        if (!g.status.ok() && !g.status.is_not_found()) bad_values.fetch_add(1);
      }
    });
  }
  threads.emplace_back([&] {  // pins, unpins, removes, probes, flush listings
    std::mt19937_64 rng(300);
    std::vector<Key> chain(64);
    std::vector<std::uint8_t> found(chain.size());
    for (int i = 0; i < kAdminOps; ++i) {
      const std::uint64_t key = rng() % kKeys;
      switch (i % 6) {
        case 0: (void)tier->pin(bid(key), 5ms); break;
        case 1: (void)tier->unpin(bid(key)); break;
        case 2: (void)tier->remove(bid(key)); break;
        case 3:
          for (std::size_t j = 0; j < chain.size(); ++j) chain[j] = test_key((key + j) % kKeys);
          tier->probe(kDefaultNamespace, chain, found);
          break;
        case 4:
          for (BlockRef& r : tier->dirty_blocks()) {
            if (rng() % 2) tier->mark_clean(r);
          }
          break;
        case 5: (void)counters(*tier); break;
      }
    }
  });
  for (auto& t : threads) t.join();

  EXPECT_EQ(bad_values.load(), 0u);
  EXPECT_EQ(bad_evicted.load(), 0u);
  EXPECT_EQ(failed_puts.load(), 0u);
  auto c = counters(*tier);
  EXPECT_LE(c["dram_bytes"], 256.0 * kKiB);
  EXPECT_EQ(c["dram_inserts"], static_cast<double>(successful_puts.load()));
  EXPECT_EQ(c["dram_allocated_blocks"], c["dram_blocks"]) << "no block leaked";
  EXPECT_EQ(c["dram_blocks"],
            c["dram_inserts"] - c["dram_replaces"] - c["dram_evictions"] - c["dram_removes"]);
  // Every indexed block is intact and the usage matches.
  std::vector<std::byte> dst(16 * kKiB);
  double blocks = 0, bytes = 0, charged = 0;
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    GetResult g = tier->get(bid(k), dst);
    if (!g.status.ok()) continue;
    blocks += 1;
    bytes += static_cast<double>(g.size);
    charged += static_cast<double>(block_charge(g.size));
    EXPECT_TRUE(valid_value(k, std::span(dst).first(g.size))) << k;
  }
  EXPECT_EQ(blocks, c["dram_blocks"]);
  EXPECT_EQ(bytes, c["dram_value_bytes"]);
  EXPECT_EQ(charged, c["dram_bytes"]);
  NamespaceUsage u = tier->namespace_usage(kDefaultNamespace);
  EXPECT_EQ(static_cast<double>(u.blocks), blocks);
  EXPECT_EQ(static_cast<double>(u.bytes), bytes);
}

TEST(DramConcurrency, ConcurrentCommitsOfOneIdLeaveOneBlock) {
  auto tier = make_tier(small_config(1 * kMiB, 2));
  constexpr int kThreads = 8, kCommits = 300;
  constexpr std::uint64_t kKey = 7;
  std::atomic<std::uint64_t> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::byte> dst(16 * kKiB);
      for (int i = 0; i < kCommits; ++i) {
        auto r = tier->reserve(bid(kKey), value_size(kKey));
        if (!r.ok()) {
          bad.fetch_add(1);
          continue;
        }
        fill_value(kKey, static_cast<std::uint64_t>(t) * kCommits + i, r->data());
        if (!tier->commit(*r, CommitMode::kReplace, false, nullptr).ok()) bad.fetch_add(1);
        GetResult g = tier->get(bid(kKey), dst);
        if (!g.status.ok() || !valid_value(kKey, std::span(dst).first(g.size))) bad.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0u);
  auto c = counters(*tier);
  EXPECT_EQ(c["dram_blocks"], 1);
  EXPECT_EQ(c["dram_value_bytes"], static_cast<double>(value_size(kKey)));
  EXPECT_EQ(c["dram_bytes"], static_cast<double>(block_charge(value_size(kKey))));
  EXPECT_EQ(c["dram_allocated_blocks"], 1) << "every replaced version was freed";
  EXPECT_EQ(c["dram_inserts"], kThreads * kCommits);
  EXPECT_EQ(c["dram_replaces"], kThreads * kCommits - 1);
  EXPECT_EQ(tier->namespace_usage(kDefaultNamespace).blocks, 1u);
}

}  // namespace
}  // namespace kvtier::dram
