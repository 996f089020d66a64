// DramTier eviction: the byte budget under variable sizes, S3-FIFO scan resistance, refs held
// across eviction, evicted blocks handed back to the caller.
#include <cstdint>
#include <list>
#include <random>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "dram/dram_tier.h"
#include "dram_test_util.h"

namespace kvtier::dram {
namespace {

using testing::bid;
using testing::counters;
using testing::make_tier;
using testing::matches_pattern;
using testing::put_pattern;
using testing::room_for;
using testing::small_config;

TEST(DramEviction, BudgetHoldsUnderVariableSizesAndCountersAddUp) {
  constexpr std::uint64_t kCapacity = 1 * kMiB;
  auto tier = make_tier(small_config(kCapacity));
  std::mt19937_64 rng(12345);
  std::uniform_int_distribution<std::size_t> size_dist(1, 64 * kKiB);

  constexpr int kPuts = 3000;
  std::uint64_t put_bytes = 0, evicted_count = 0, evicted_bytes = 0;
  std::uint64_t put_charge = 0, evicted_charge = 0;
  for (int i = 0; i < kPuts; ++i) {
    // Now and then a big value that needs several victims at once.
    const std::size_t size = (i % 97 == 0) ? 600 * kKiB : size_dist(rng);
    std::vector<BlockRef> evicted;
    ASSERT_TRUE(put_pattern(*tier, bid(i), i, size, &evicted).ok()) << i;
    put_bytes += size;
    put_charge += block_charge(size);
    for (const BlockRef& r : evicted) {
      ++evicted_count;
      evicted_bytes += r.value().size();
      evicted_charge += block_charge(r.value().size());
      // The victim is out of the index but its bytes are intact for demotion.
      ASSERT_FALSE(tier->contains(r.id()));
      const std::uint64_t seed = [&] {
        for (int j = 0; j <= i; ++j) {
          if (bid(j) == r.id()) return static_cast<std::uint64_t>(j);
        }
        return ~std::uint64_t{0};
      }();
      ASSERT_NE(seed, ~std::uint64_t{0});
      ASSERT_TRUE(matches_pattern(seed, r.value()));
    }
    if (i % 50 == 0) {  // re-read a recent key now and then so main sees traffic too
      std::vector<std::byte> dst(64 * kKiB + 600 * kKiB);
      (void)tier->get(bid(i), dst);
    }
    auto c = counters(*tier);
    ASSERT_LE(c["dram_bytes"], static_cast<double>(kCapacity)) << "after put " << i;
  }
  auto c = counters(*tier);
  EXPECT_EQ(c["dram_inserts"], kPuts);
  EXPECT_EQ(c["dram_evictions"], static_cast<double>(evicted_count));
  EXPECT_EQ(c["dram_evicted_bytes"], static_cast<double>(evicted_bytes));
  EXPECT_EQ(c["dram_value_bytes"], static_cast<double>(put_bytes - evicted_bytes));
  EXPECT_EQ(c["dram_bytes"], static_cast<double>(put_charge - evicted_charge));
  EXPECT_EQ(c["dram_blocks"], static_cast<double>(kPuts - evicted_count));
  EXPECT_EQ(c["dram_no_space"], 0);
  EXPECT_GT(evicted_count, 2000u);
  const NamespaceUsage u = tier->namespace_usage(kDefaultNamespace);
  EXPECT_EQ(static_cast<double>(u.bytes), c["dram_value_bytes"]);
  EXPECT_EQ(static_cast<double>(u.blocks), c["dram_blocks"]);
  // Every block still indexed is readable and intact.
  std::size_t present = 0;
  std::vector<std::byte> dst(600 * kKiB);
  for (int i = 0; i < kPuts; ++i) {
    GetResult g = tier->get(bid(i), dst);
    if (!g.status.ok()) continue;
    ++present;
    ASSERT_TRUE(matches_pattern(i, std::span(dst).first(g.size)));
  }
  EXPECT_EQ(static_cast<double>(present), c["dram_blocks"]);
}

// An evicted block stays its id's departure until the caller ends it: a put, a promotion (which
// is refused) or a removal of the id after the eviction supersedes it, and a newer eviction of
// the id supersedes an older one. This is what keeps an older version from landing below a newer
// one on its way down (docs/ARCHITECTURE.md, versions).
TEST(DramEviction, DeparturesAreSupersededByNewerVersionsAndEnded) {
  auto tier = make_tier(small_config(room_for(4, 8 * kKiB)));
  auto evict_all = [&](std::uint64_t first) {
    std::vector<BlockRef> out;
    for (std::uint64_t i = first; i < first + 8; ++i) {
      EXPECT_TRUE(put_pattern(*tier, bid(i), i, 8 * kKiB, &out).ok());
    }
    return out;
  };
  ASSERT_TRUE(put_pattern(*tier, bid(1), 1, 8 * kKiB, nullptr).ok());
  ASSERT_TRUE(put_pattern(*tier, bid(2), 2, 8 * kKiB, nullptr).ok());
  ASSERT_TRUE(put_pattern(*tier, bid(3), 3, 8 * kKiB, nullptr).ok());
  std::vector<BlockRef> gone = evict_all(100);  // 1, 2 and 3 leave
  auto ref_of = [&](std::uint64_t n) -> const BlockRef& {
    for (const BlockRef& r : gone) {
      if (r.id() == bid(n)) return r;
    }
    ADD_FAILURE() << "block " << n << " was not evicted";
    return gone.front();
  };
  const BlockRef& one = ref_of(1);
  const BlockRef& two = ref_of(2);
  const BlockRef& three = ref_of(3);
  EXPECT_FALSE(tier->contains(bid(1)));
  EXPECT_TRUE(tier->departure_current(one));
  EXPECT_TRUE(tier->departure_current(two));
  EXPECT_TRUE(tier->departure_current(three));
  // A promotion of an older copy is refused while the departure is on its way.
  Result<Reservation> r = tier->reserve(bid(1), 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(tier->commit(*r, CommitMode::kIfAbsent, true, nullptr).code(), StatusCode::kRejected);
  EXPECT_TRUE(static_cast<bool>(*r)) << "a refused commit leaves the reservation to the caller";
  // A put supersedes the departure; a removal does too (and finds it: OK).
  ASSERT_TRUE(put_pattern(*tier, bid(1), 1, 100, nullptr).ok());
  EXPECT_FALSE(tier->departure_current(one));
  EXPECT_TRUE(tier->remove(bid(2)).ok());
  EXPECT_FALSE(tier->departure_current(two));
  EXPECT_EQ(tier->remove(bid(2)).code(), StatusCode::kNotFound);
  // Ending a departure: current no more, and its ref held by the tier is released.
  tier->end_departure(three);
  EXPECT_FALSE(tier->departure_current(three));
  for (const BlockRef& g : gone) tier->end_departure(g);
  std::map<std::string, double> c = counters(*tier);
  EXPECT_EQ(c["dram_departing_blocks"], 0);
  // A newer eviction of an id supersedes an older one still departing.
  ASSERT_TRUE(put_pattern(*tier, bid(7), 7, 8 * kKiB, nullptr).ok());
  std::vector<BlockRef> first = evict_all(200);
  // Put again soon after its eviction, 7 goes to S3-FIFO's main queue: the blocks that push it
  // out must go there too (put again soon after theirs).
  ASSERT_TRUE(put_pattern(*tier, bid(7), 8, 8 * kKiB, nullptr).ok());
  std::vector<BlockRef> second = evict_all(200);
  for (BlockRef& g : evict_all(200)) second.push_back(std::move(g));
  const BlockRef* old7 = nullptr;
  const BlockRef* new7 = nullptr;
  for (const BlockRef& g : first) if (g.id() == bid(7)) old7 = &g;
  for (const BlockRef& g : second) if (g.id() == bid(7)) new7 = &g;
  ASSERT_TRUE(old7 && new7);
  EXPECT_FALSE(tier->departure_current(*old7));
  EXPECT_TRUE(tier->departure_current(*new7));
  for (const BlockRef& g : first) tier->end_departure(g);
  EXPECT_TRUE(tier->departure_current(*new7)) << "ending the older one leaves the newer";
  for (const BlockRef& g : second) tier->end_departure(g);
}

TEST(DramEviction, DroppedVictimsAreFreed) {
  auto tier = make_tier(small_config(room_for(16, 4 * kKiB)));
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(put_pattern(*tier, bid(i), i, 4 * kKiB).ok());
  auto c = counters(*tier);
  EXPECT_EQ(c["dram_blocks"], 16);
  EXPECT_EQ(c["dram_allocated_blocks"], 16) << "victims not handed out are freed at once";
  EXPECT_EQ(c["dram_allocated_bytes"], 64.0 * kKiB);
}

// LRU on the same trace, for comparison: what the S3-FIFO test would see under LRU.
class LruModel {
 public:
  explicit LruModel(std::size_t capacity_blocks) : capacity_(capacity_blocks) {}
  void access(std::uint64_t key) {
    auto it = where_.find(key);
    if (it != where_.end()) order_.erase(it->second);
    order_.push_front(key);
    where_[key] = order_.begin();
    if (order_.size() > capacity_) {
      where_.erase(order_.back());
      order_.pop_back();
    }
  }
  bool contains(std::uint64_t key) const { return where_.count(key) != 0; }

 private:
  std::size_t capacity_;
  std::list<std::uint64_t> order_;
  std::unordered_map<std::uint64_t, std::list<std::uint64_t>::iterator> where_;
};

TEST(DramEviction, HotSetSurvivesAScanLargerThanTheCache) {
  constexpr std::size_t kValue = 1 * kKiB;
  constexpr std::size_t kCacheBlocks = 200;
  constexpr std::uint64_t kHot = 50;
  constexpr std::uint64_t kScan = 2000;  // 10x the cache, each key touched once
  auto tier = make_tier(small_config(room_for(kCacheBlocks, kValue)));
  LruModel lru(kCacheBlocks);
  std::vector<std::byte> dst(kValue);

  for (std::uint64_t k = 0; k < kHot; ++k) {
    ASSERT_TRUE(put_pattern(*tier, bid(k), k, kValue).ok());
    lru.access(k);
  }
  for (int round = 0; round < 4; ++round) {
    for (std::uint64_t k = 0; k < kHot; ++k) {
      ASSERT_TRUE(tier->get(bid(k), dst).status.ok());
      lru.access(k);
    }
  }
  for (std::uint64_t s = 0; s < kScan; ++s) {
    const std::uint64_t k = 1'000'000 + s;
    ASSERT_TRUE(put_pattern(*tier, bid(k), k, kValue).ok());
    lru.access(k);
  }

  std::size_t retained = 0, lru_retained = 0;
  for (std::uint64_t k = 0; k < kHot; ++k) {
    if (tier->contains(bid(k))) ++retained;
    if (lru.contains(k)) ++lru_retained;
  }
  EXPECT_EQ(lru_retained, 0u) << "the model: LRU loses the whole hot set to the scan";
  EXPECT_GT(retained, kHot * 8 / 10) << "S3-FIFO keeps the hot set: " << retained << "/" << kHot;
  for (std::uint64_t k = 0; k < kHot; ++k) {
    GetResult g = tier->get(bid(k), dst);
    if (g.status.ok()) {
      EXPECT_TRUE(matches_pattern(k, dst));
    }
  }
  auto c = counters(*tier);
  EXPECT_LE(c["dram_bytes"], static_cast<double>(room_for(kCacheBlocks, kValue)));
  EXPECT_EQ(c["dram_evictions"], static_cast<double>(kHot + kScan - kCacheBlocks));
}

TEST(DramEviction, KeysEvictedRecentlyReturnToMain) {
  // A key that comes back soon after its eviction (a ghost hit) goes to main and then survives
  // another scan without being read.
  constexpr std::size_t kValue = 1 * kKiB;
  auto tier = make_tier(small_config(room_for(100, kValue)));
  std::uint64_t next = 1'000'000;
  for (int i = 0; i < 150; ++i, ++next) ASSERT_TRUE(put_pattern(*tier, bid(next), next, kValue).ok());
  ASSERT_FALSE(tier->contains(bid(1'000'000)));
  ASSERT_TRUE(put_pattern(*tier, bid(1'000'000), 7, kValue).ok());  // back from the ghost
  for (int i = 0; i < 300; ++i, ++next) ASSERT_TRUE(put_pattern(*tier, bid(next), next, kValue).ok());
  EXPECT_TRUE(tier->contains(bid(1'000'000)));
}

TEST(DramEviction, TheStoresOwnReadsNeitherCountNorKeepABlock) {
  // A client's read moves a block to main, where a scan of unread keys passes it by; the store
  // reading a block for itself (an upload to the shared tier) must not, nor count a hit.
  constexpr std::size_t kValue = 1 * kKiB;
  auto tier = make_tier(small_config(room_for(100, kValue)));
  ASSERT_TRUE(put_pattern(*tier, bid(0), 0, kValue).ok());
  ASSERT_TRUE(put_pattern(*tier, bid(1), 1, kValue).ok());
  const double hits = counters(*tier)["dram_hits"];
  {
    BlockRef internal = tier->acquire(bid(0), AcquireFor::kStoreInternal);
    ASSERT_TRUE(internal);
    EXPECT_TRUE(matches_pattern(0, internal.value()));
    EXPECT_TRUE(tier->acquire(bid(1), AcquireFor::kRead));
  }
  EXPECT_EQ(counters(*tier)["dram_hits"], hits + 1);
  for (std::uint64_t n = 100; n < 400; ++n) ASSERT_TRUE(put_pattern(*tier, bid(n), n, kValue).ok());
  EXPECT_FALSE(tier->contains(bid(0))) << "an internal read kept the block as if a client read it";
  EXPECT_TRUE(tier->contains(bid(1)));
}

TEST(DramEviction, RefHeldAcrossEvictionKeepsItsBytes) {
  auto tier = make_tier(small_config(64 * kKiB));
  ASSERT_TRUE(put_pattern(*tier, bid(0), 4242, 16 * kKiB).ok());
  BlockRef ref = tier->acquire(bid(0));
  ASSERT_TRUE(ref);
  const std::byte* bytes = ref.value().data();
  std::vector<BlockRef> evicted;
  // acquire() counted a hit, so bid(0) moves to main: the new keys are read too, so that main
  // cycles as well.
  std::vector<std::byte> dst(8 * kKiB);
  for (int i = 1; i < 100; ++i) {
    ASSERT_TRUE(put_pattern(*tier, bid(i), i, 8 * kKiB, &evicted).ok());
    ASSERT_TRUE(tier->get(bid(i), dst).status.ok());
  }
  ASSERT_FALSE(tier->contains(bid(0)));
  EXPECT_EQ(ref.value().data(), bytes);
  EXPECT_EQ(ref.value().size(), 16 * kKiB);
  EXPECT_TRUE(matches_pattern(4242, ref.value()));
  // The evicted list holds bid(0) too: two refs, one block.
  bool listed = false;
  for (const BlockRef& r : evicted) listed |= r.id() == bid(0);
  EXPECT_TRUE(listed);
  evicted.clear();
  EXPECT_TRUE(matches_pattern(4242, ref.value()));
  EXPECT_EQ(counters(*tier)["dram_bytes"] <= 64.0 * kKiB, true);
}

TEST(DramEviction, EvictedRefsCarryTheOnNvmeFlag) {
  auto tier = make_tier(small_config(room_for(2, 4 * kKiB)));
  ASSERT_TRUE(put_pattern(*tier, bid(1), 1, 4 * kKiB, nullptr, /*clean=*/true).ok());
  ASSERT_TRUE(put_pattern(*tier, bid(2), 2, 4 * kKiB, nullptr, false).ok());
  std::vector<BlockRef> evicted;
  ASSERT_TRUE(put_pattern(*tier, bid(3), 3, 8 * kKiB, &evicted).ok());
  ASSERT_EQ(evicted.size(), 2u);
  for (const BlockRef& r : evicted) EXPECT_EQ(r.clean(), r.id() == bid(1));
}

}  // namespace
}  // namespace kvtier::dram
