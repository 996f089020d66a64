// DramTier pins: leases protect blocks from eviction, expire lazily, are capped by
// max_pinned_fraction, and turn an impossible commit into NoSpace without losing anything.
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dram/dram_tier.h"
#include "dram_test_util.h"

namespace kvtier::dram {
namespace {

using namespace std::chrono_literals;
using testing::bid;
using testing::counters;
using testing::make_tier;
using testing::matches_pattern;
using testing::put_pattern;
using testing::room_for;
using testing::small_config;

constexpr std::size_t kBlock = 1 * kKiB;
constexpr double kCharge = static_cast<double>(block_charge(kBlock));  // what one costs the tier

// Puts `n` fresh keys from *next on, each read once right away so that the traffic also flows
// through S3-FIFO's main queue (where old, unread blocks are eventually evicted).
void churn(DramTier& tier, std::uint64_t* next, int n) {
  std::vector<std::byte> dst(kBlock);
  for (int i = 0; i < n; ++i, ++*next) {
    ASSERT_TRUE(put_pattern(tier, bid(*next), *next, kBlock).ok());
    ASSERT_TRUE(tier.get(bid(*next), dst).status.ok());
  }
}

TEST(DramPin, PinnedBlocksSurviveEvictionPressure) {
  auto tier = make_tier(small_config(room_for(64, kBlock)));
  for (std::uint64_t k = 0; k < 10; ++k) ASSERT_TRUE(put_pattern(*tier, bid(k), k, kBlock).ok());
  for (std::uint64_t k = 0; k < 10; ++k) ASSERT_TRUE(tier->pin(bid(k), 10s).ok());
  EXPECT_EQ(counters(*tier)["dram_pinned_bytes"], 10 * kCharge);
  std::uint64_t next = 1000;
  churn(*tier, &next, 1000);
  for (std::uint64_t k = 0; k < 10; ++k) {
    ASSERT_TRUE(tier->contains(bid(k))) << k;
    BlockRef r = tier->acquire(bid(k));
    EXPECT_TRUE(matches_pattern(k, r.value()));
  }
  EXPECT_LE(counters(*tier)["dram_bytes"], static_cast<double>(room_for(64, kBlock)));

  for (std::uint64_t k = 0; k < 10; ++k) ASSERT_TRUE(tier->unpin(bid(k)).ok());
  EXPECT_EQ(counters(*tier)["dram_pinned_bytes"], 0);
  churn(*tier, &next, 1000);
  for (std::uint64_t k = 0; k < 10; ++k) EXPECT_FALSE(tier->contains(bid(k))) << k;
}

TEST(DramPin, LeaseExpires) {
  auto tier = make_tier(small_config(room_for(64, kBlock)));
  for (std::uint64_t k = 0; k < 5; ++k) ASSERT_TRUE(put_pattern(*tier, bid(k), k, kBlock).ok());
  for (std::uint64_t k = 0; k < 5; ++k) ASSERT_TRUE(tier->pin(bid(k), 50ms).ok());
  EXPECT_EQ(counters(*tier)["dram_pinned_bytes"], 5 * kCharge);
  // Wait until the lease has certainly passed (a behaviour test: nothing is asserted about time).
  std::this_thread::sleep_for(120ms);
  EXPECT_EQ(counters(*tier)["dram_pinned_bytes"], 0) << "expired leases are not counted";
  std::uint64_t next = 1000;
  churn(*tier, &next, 1000);
  for (std::uint64_t k = 0; k < 5; ++k) EXPECT_FALSE(tier->contains(bid(k))) << k;
}

TEST(DramPin, ExpiredLeaseIsDroppedDuringEviction) {
  auto tier = make_tier(small_config(room_for(64, kBlock)));
  ASSERT_TRUE(put_pattern(*tier, bid(0), 0, kBlock).ok());
  constexpr auto kLease = 100ms;
  const auto pinned_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(tier->pin(bid(0), kLease).ok());
  std::uint64_t next = 1000;
  churn(*tier, &next, 200);
  if (std::chrono::steady_clock::now() - pinned_at < kLease) {  // not on a stalled machine
    EXPECT_TRUE(tier->contains(bid(0))) << "the lease is still running";
  }
  std::this_thread::sleep_until(pinned_at + kLease + 50ms);
  churn(*tier, &next, 1000);  // no visit_counters in between: eviction must notice the expiry
  EXPECT_FALSE(tier->contains(bid(0)));
  EXPECT_EQ(counters(*tier)["dram_pinned_bytes"], 0);
}

TEST(DramPin, BusyBeyondThePinnedFraction) {
  DramConfig c = small_config(room_for(10, kBlock));
  c.max_pinned_fraction = 0.5;
  auto tier = make_tier(c);
  for (std::uint64_t k = 0; k < 10; ++k) ASSERT_TRUE(put_pattern(*tier, bid(k), k, kBlock).ok());
  for (std::uint64_t k = 0; k < 5; ++k) ASSERT_TRUE(tier->pin(bid(k), 10s).ok()) << k;
  EXPECT_EQ(tier->pin(bid(5), 10s).code(), StatusCode::kBusy);
  EXPECT_TRUE(tier->pin(bid(0), 20s).ok()) << "renewing an existing pin needs no new room";
  auto counts = counters(*tier);
  EXPECT_EQ(counts["dram_pin_rejections"], 1);
  EXPECT_EQ(counts["dram_pinned_bytes"], 5 * kCharge);
  ASSERT_TRUE(tier->unpin(bid(0)).ok());
  EXPECT_TRUE(tier->pin(bid(5), 10s).ok());
}

TEST(DramPin, ArgumentErrors) {
  DramConfig c = small_config(room_for(10, kBlock));
  c.max_lease = 1000ms;
  auto tier = make_tier(c);
  ASSERT_TRUE(put_pattern(*tier, bid(1), 1, kBlock).ok());
  EXPECT_EQ(tier->pin(bid(1), 0ms).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tier->pin(bid(1), -5ms).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(tier->pin(bid(1), 1001ms).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(tier->pin(bid(1), 1000ms).ok());
  EXPECT_EQ(tier->pin(bid(2), 10ms).code(), StatusCode::kNotFound);
  EXPECT_EQ(tier->unpin(bid(2)).code(), StatusCode::kNotFound);
  EXPECT_TRUE(tier->unpin(bid(1)).ok());
  EXPECT_TRUE(tier->unpin(bid(1)).ok()) << "unpinning an unpinned block is harmless";
}

TEST(DramPin, NoSpaceWhenPinnedBlocksLeaveNoRoomAndNothingIsLost) {
  DramConfig c = small_config(room_for(10, kBlock));
  c.max_pinned_fraction = 0.5;
  auto tier = make_tier(c);
  for (std::uint64_t k = 0; k < 10; ++k) ASSERT_TRUE(put_pattern(*tier, bid(k), k, kBlock).ok());
  for (std::uint64_t k = 0; k < 5; ++k) ASSERT_TRUE(tier->pin(bid(k), 10s).ok());

  std::vector<BlockRef> evicted;
  // 40 KiB cost more than the five unpinned blocks free; 36 KiB fit in what they free.
  static_assert(block_charge(40 * kBlock) > 5 * block_charge(kBlock));
  static_assert(block_charge(36 * kBlock) <= 5 * block_charge(kBlock));
  EXPECT_EQ(put_pattern(*tier, bid(100), 100, 40 * kBlock, &evicted).code(), StatusCode::kNoSpace);
  EXPECT_TRUE(evicted.empty());
  EXPECT_FALSE(tier->contains(bid(100)));
  for (std::uint64_t k = 0; k < 10; ++k) EXPECT_TRUE(tier->contains(bid(k))) << k;
  auto counts = counters(*tier);
  EXPECT_EQ(counts["dram_no_space"], 1);
  EXPECT_EQ(counts["dram_evictions"], 0);
  EXPECT_EQ(counts["dram_allocated_blocks"], 10) << "the failed reservation was freed";

  // What fits beside the pinned blocks goes in, evicting only unpinned ones.
  ASSERT_TRUE(put_pattern(*tier, bid(101), 101, 36 * kBlock, &evicted).ok());
  EXPECT_EQ(evicted.size(), 5u);
  for (std::uint64_t k = 0; k < 5; ++k) EXPECT_TRUE(tier->contains(bid(k))) << k;
}

TEST(DramPin, NoSpaceWhenEverythingIsPinned) {
  DramConfig c = small_config(room_for(8, kBlock));
  c.max_pinned_fraction = 1.0;
  if (!c.validate().ok()) GTEST_SKIP() << "config does not allow pinning everything";
  auto tier = make_tier(c);
  for (std::uint64_t k = 0; k < 8; ++k) ASSERT_TRUE(put_pattern(*tier, bid(k), k, kBlock).ok());
  for (std::uint64_t k = 0; k < 8; ++k) ASSERT_TRUE(tier->pin(bid(k), 10s).ok());
  std::vector<BlockRef> evicted;
  EXPECT_EQ(put_pattern(*tier, bid(100), 100, 1, &evicted).code(), StatusCode::kNoSpace);
  EXPECT_TRUE(evicted.empty());
  for (std::uint64_t k = 0; k < 8; ++k) EXPECT_TRUE(tier->contains(bid(k))) << k;
  // Replacing a pinned block with one of the same size still works.
  EXPECT_TRUE(put_pattern(*tier, bid(3), 33, kBlock).ok());
  ASSERT_TRUE(tier->unpin(bid(7)).ok());
  EXPECT_TRUE(put_pattern(*tier, bid(100), 100, kBlock, &evicted).ok());
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_EQ(evicted[0].id(), bid(7));
}

TEST(DramPin, ReplacingAPinnedBlockKeepsThePin) {
  auto tier = make_tier(small_config(room_for(32, kBlock)));
  ASSERT_TRUE(put_pattern(*tier, bid(0), 0, kBlock).ok());
  ASSERT_TRUE(tier->pin(bid(0), 10s).ok());
  ASSERT_TRUE(put_pattern(*tier, bid(0), 77, 2 * kBlock).ok());
  EXPECT_EQ(counters(*tier)["dram_pinned_bytes"], static_cast<double>(block_charge(2 * kBlock)));
  std::uint64_t next = 1000;
  churn(*tier, &next, 500);
  BlockRef r = tier->acquire(bid(0));
  ASSERT_TRUE(r);
  EXPECT_TRUE(matches_pattern(77, r.value()));
}

TEST(DramPin, RemovingAPinnedBlockReleasesItsPinnedBytes) {
  auto tier = make_tier(small_config(room_for(32, kBlock)));
  ASSERT_TRUE(put_pattern(*tier, bid(0), 0, kBlock).ok());
  ASSERT_TRUE(tier->pin(bid(0), 10s).ok());
  ASSERT_TRUE(tier->remove(bid(0)).ok());
  EXPECT_EQ(counters(*tier)["dram_pinned_bytes"], 0);
}

}  // namespace
}  // namespace kvtier::dram
