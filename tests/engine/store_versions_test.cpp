// Versions of one key never overtake each other on their way between the tiers (issue 23, finding
// 4), through the Store: an eviction whose demotion waits while the key is put again, replaced on
// NVMe or removed; an NVMe read whose promotion waits while the key is put again; a commit_put
// that DRAM cannot take. The races are made deterministic by holding one thread at a seam of the
// store (engine/store_test_hooks.h) while the main thread does the rest.
#include <array>
#include <atomic>
#include <cstring>
#include <random>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "engine/store_test_hooks.h"
#include "engine/store_test_util.h"
#include "kvtier/store.h"
#include "memory/aligned_buffer.h"
#include "support/test_support.h"

// A namespace of its own: the unity build puts this file in one translation unit with
// store_test.cpp, whose anonymous namespace has helpers of the same names.
namespace kvtier::store_versions {
namespace {

using kvtier::testing::counter_value;
using kvtier::testing::matches_pattern;
using kvtier::testing::pattern;
using kvtier::testing::TempDir;
using kvtier::testing::test_key;

constexpr std::size_t kBlock = 64 * kKiB;

// The small store of the Store tests, whose DRAM may be all pinned (a test fills it so).
StoreConfig small_store(const std::string& dir) {
  StoreConfig c = kvtier::testing::small_store(dir);
  c.dram.max_pinned_fraction = 1.0;
  return c;
}
using kvtier::testing::open_store;

const Key kKey = test_key(1);

Status put_version(Store& s, std::uint64_t version, const Key& k = kKey) {
  return s.put(0, k, pattern(k, kBlock, version));
}

// Puts 16 other blocks twice, so everything put before leaves DRAM (to NVMe): the second round
// goes to S3-FIFO's main queue (each was evicted just before) and pushes out what is there too,
// such as a block put again soon after its own eviction.
void push_out(Store& s, std::uint64_t first) {
  for (int round = 0; round < 2; ++round) {
    for (std::uint64_t n = first; n < first + 16; ++n) {
      ASSERT_TRUE(put_version(s, 0, test_key(n)).ok());
    }
  }
}

bool in_dram(Store& s) {
  AlignedBuffer buf(kBlock);
  return s.get(0, kKey, buf.span()).tier == Tier::kDram;
}

// The version of kKey a GET returns: -1 on a miss, -2 on bytes of no version.
int version_served(Store& s) {
  AlignedBuffer buf(kBlock);
  GetResult r = s.get(0, kKey, buf.span());
  if (r.status.is_not_found()) return -1;
  EXPECT_TRUE(r.status.ok()) << r.status.to_string();
  for (int v = 0; v < 8; ++v) {
    if (matches_pattern(buf.span().first(r.size), kKey, v)) return v;
  }
  return -2;
}

// Once armed, holds the first thread that reaches its seam with kKey until release().
class Gate {
 public:
  void arm() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
  }
  void arrive(const BlockId& id) {
    if (id.key != kKey) return;
    std::unique_lock<std::mutex> lock(mu_);
    if (!armed_ || used_) return;
    used_ = true;
    held_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  }
  bool wait_held() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return held_; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, used_ = false, held_ = false, released_ = false;
};

class StoreVersions : public ::testing::Test {
 protected:
  void SetUp() override {
    hooks_.before_demote = [this](const BlockId& id) { demote_gate_.arrive(id); };
    hooks_.before_promote = [this](const BlockId& id) { promote_gate_.arrive(id); };
    engine::store_test_hooks().store(&hooks_);
  }
  // `promote`: NVMe hits are promoted to DRAM (off where a test wants a version to stay on NVMe
  // only: a promoted copy would go to S3-FIFO's main queue and outlive the blocks pushed after).
  void start(bool promote) {
    StoreConfig c = small_store(dir_.path());
    c.promote_on_nvme_hit = promote;
    store_ = open_store(c);
    ASSERT_TRUE(store_);
  }
  void TearDown() override {
    demote_gate_.release();
    promote_gate_.release();
    if (worker_.joinable()) worker_.join();
    store_.reset();
    engine::store_test_hooks().store(nullptr);
  }
  // kKey v1 is put, then pushed out of DRAM by a worker whose demotion of it is held.
  void hold_demotion_of_v1() {
    ASSERT_TRUE(put_version(*store_, 1).ok());
    demote_gate_.arm();
    worker_ = std::thread([this] { push_out(*store_, 1000); });
    ASSERT_TRUE(demote_gate_.wait_held());
  }

  TempDir dir_;
  engine::StoreTestHooks hooks_;
  Gate demote_gate_, promote_gate_;
  std::unique_ptr<engine::ServingStore> store_;
  std::thread worker_;
};

// 727dc88: the held demotion of v1 wrote it over v2 on NVMe, and GET served v1.
TEST_F(StoreVersions, AHeldDemotionDoesNotLandOverANewerVersionOnNvme) {
  start(/*promote=*/false);
  hold_demotion_of_v1();
  ASSERT_TRUE(put_version(*store_, 2).ok());
  push_out(*store_, 2000);  // v2 leaves DRAM and reaches NVMe first
  ASSERT_FALSE(in_dram(*store_));
  ASSERT_EQ(version_served(*store_), 2);
  demote_gate_.release();
  worker_.join();
  EXPECT_EQ(version_served(*store_), 2);
  EXPECT_GE(counter_value(*store_, "store_demotions_superseded"), 1);
}

// 727dc88: REMOVE in the window answered NotFound, and the block came back from NVMe after.
TEST_F(StoreVersions, ARemoveDuringAHeldDemotionIsAnsweredAndHolds) {
  start(/*promote=*/true);
  hold_demotion_of_v1();
  EXPECT_TRUE(store_->remove(0, kKey).ok()) << "the block was stored: the remove finds it";
  demote_gate_.release();
  worker_.join();
  EXPECT_EQ(version_served(*store_), -1);
  EXPECT_FALSE(store_->contains(0, kKey));
}

// 727dc88: the promotion of the v1 read from NVMe landed after v2 was put and pushed out of DRAM,
// and GET served v1 from DRAM.
TEST_F(StoreVersions, AHeldPromotionDoesNotPublishAnOlderCopy) {
  start(/*promote=*/true);
  ASSERT_TRUE(put_version(*store_, 1).ok());
  push_out(*store_, 1000);  // v1 on NVMe only
  std::atomic<int> first_read{-3};
  promote_gate_.arm();
  worker_ = std::thread([&] { first_read = version_served(*store_); });
  ASSERT_TRUE(promote_gate_.wait_held());
  ASSERT_TRUE(put_version(*store_, 2).ok());
  push_out(*store_, 2000);
  promote_gate_.release();
  worker_.join();
  EXPECT_EQ(first_read.load(), 1) << "the held read itself was answered with what it read";
  EXPECT_EQ(version_served(*store_), 2);
  EXPECT_GE(counter_value(*store_, "store_promotions_superseded"), 1);
}

// 727dc88: commit_put removed the NVMe copy, then DRAM (full of pinned blocks) refused the new
// one with NoSpace: the acknowledged older copy was lost and the new one not stored.
TEST_F(StoreVersions, ACommitPutThatDramCannotTakeGoesToNvme) {
  start(/*promote=*/true);
  ASSERT_TRUE(put_version(*store_, 1).ok());
  ASSERT_TRUE(store_->flush().ok());
  push_out(*store_, 1000);
  // DRAM full of pinned blocks.
  for (std::uint64_t n = 5000; n < 5008; ++n) {
    ASSERT_TRUE(put_version(*store_, 0, test_key(n)).ok());
    Status pinned = store_->pin(0, test_key(n), std::chrono::seconds(10));
    ASSERT_TRUE(pinned.ok()) << pinned.to_string();
  }
  Result<engine::PutBuffer> b = store_->begin_put(0, kKey, kBlock);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  std::vector<std::byte> v2 = pattern(kKey, kBlock, 2);
  std::memcpy(b->bytes().data(), v2.data(), kBlock);
  Status s = store_->commit_put(std::move(b).value());
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(version_served(*store_), 2);
}

// A few hot keys, each with one writer that puts ever newer versions and sometimes removes it,
// while a filler keeps pushing them out of DRAM (demotion), readers read them back (NVMe hits are
// promoted), NVMe regions are reclaimed with hot entries reinserted, and flushes run. A reader
// notes the last acknowledged operation on a key before each GET: the GET may miss (a cache), but
// what it returns is never older than that, nor torn. Time-bounded, so a sanitizer build runs
// fewer operations in the same time.
TEST(StoreVersionsStress, HotKeysNeverServeAVersionOlderThanTheLastAcknowledged) {
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  constexpr std::size_t kValue = 16 * kKiB;
  c.dram.capacity_bytes = 8 * kValue;
  c.nvme.reinsert_min_hits = 1;
  auto store = open_store(c);
  ASSERT_TRUE(store);
  constexpr int kHot = 4;
  // Acknowledged state per hot key: version << 1 | removed.
  std::array<std::atomic<std::uint64_t>, kHot> acked{};
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> violations{0}, torn{0}, reads_ok{0}, writes{0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  // The value: the version in its first 8 bytes, then the pattern of (key, version).
  auto value_of = [&](int k, std::uint64_t v) {
    std::vector<std::byte> out = pattern(test_key(100 + k), kValue, v);
    std::memcpy(out.data(), &v, 8);
    return out;
  };
  std::vector<std::thread> threads;
  for (int k = 0; k < kHot; ++k) {
    threads.emplace_back([&, k] {
      std::mt19937_64 rng(k);
      std::uint64_t v = 0;
      while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
        if (rng() % 5 == 0) {
          // Answered OK or NotFound alike, the key is absent from here on.
          (void)store->remove(0, test_key(100 + k));
          acked[k].store(v << 1 | 1);
        } else {
          ++v;
          if (store->put(0, test_key(100 + k), value_of(k, v)).ok()) acked[k].store(v << 1);
        }
        writes.fetch_add(1);
        // Slow enough that the filler pushes a version out of DRAM before the next replaces it.
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  threads.emplace_back([&] {  // filler: evictions
    std::uint64_t n = 0;
    while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
      (void)store->put(0, test_key(10'000 + n++ % 64), pattern(test_key(1), kValue));
    }
  });
  threads.emplace_back([&] {  // flushes
    while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
      (void)store->flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937_64 rng(1000 + r);
      AlignedBuffer buf(kValue);
      while (!stop.load() && std::chrono::steady_clock::now() < deadline) {
        const int k = static_cast<int>(rng() % kHot);
        const std::uint64_t before = acked[k].load();
        GetResult g = store->get(0, test_key(100 + k), buf.span());
        if (!g.status.ok()) continue;
        std::uint64_t v;
        std::memcpy(&v, buf.data(), 8);
        std::vector<std::byte> want = value_of(k, v);
        if (g.size != kValue || std::memcmp(want.data(), buf.data(), kValue) != 0) {
          torn.fetch_add(1);
          continue;
        }
        reads_ok.fetch_add(1);
        const std::uint64_t at_least = (before >> 1) + (before & 1);  // after a remove: newer only
        if (v < at_least) violations.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(violations.load(), 0u) << "a GET returned a version older than one acknowledged";
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_GT(reads_ok.load(), 100u);
  EXPECT_GT(writes.load(), 100u);
  EXPECT_GT(counter_value(*store, "store_demotions"), 0);
  EXPECT_GT(counter_value(*store, "store_promotions"), 0);
  std::printf("writes %lu reads %lu demotions %.0f superseded %.0f promotions %.0f superseded %.0f "
              "reclaimed %.0f reinserted %.0f\n",
              static_cast<unsigned long>(writes.load()), static_cast<unsigned long>(reads_ok.load()),
              counter_value(*store, "store_demotions"),
              counter_value(*store, "store_demotions_superseded"),
              counter_value(*store, "store_promotions"),
              counter_value(*store, "store_promotions_superseded"),
              counter_value(*store, "nvme_regions_reclaimed"), counter_value(*store, "nvme_reinserted"));
}

}  // namespace
}  // namespace kvtier::store_versions
