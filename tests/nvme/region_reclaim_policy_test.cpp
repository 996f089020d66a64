// RegionReclaimPolicy alone: the victim FIFO and LRU pick, and which entries reinsertion keeps.
#include "nvme/region_reclaim_policy.h"

#include <vector>

#include <gtest/gtest.h>

namespace kvtier::nvme {
namespace {

NvmeConfig config(ReclaimPolicy order, std::uint32_t min_hits) {
  NvmeConfig c;
  c.reclaim = order;
  c.reinsert_min_hits = min_hits;
  c.region_size = 1 * kMiB;
  return c;
}

TEST(RegionReclaimPolicy, FifoTakesTheOldestGenerationAndLruTheLeastRecentlyRead) {
  // Region 7 was sealed first; region 2 was read longest ago.
  const std::vector<RegionReclaimPolicy::Candidate> sealed = {
      {.region = 4, .seq = 30, .last_access = 90},
      {.region = 7, .seq = 10, .last_access = 80},
      {.region = 2, .seq = 20, .last_access = 5},
  };
  EXPECT_EQ(RegionReclaimPolicy(config(ReclaimPolicy::kFifo, 1)).pick_victim(sealed), 7u);
  EXPECT_EQ(RegionReclaimPolicy(config(ReclaimPolicy::kLru, 1)).pick_victim(sealed), 2u);
  EXPECT_EQ(RegionReclaimPolicy(config(ReclaimPolicy::kFifo, 1)).pick_victim({}), std::nullopt);
}

TEST(RegionReclaimPolicy, LruPassesOverARegionThatHidesOlderRecordsUnlessItIsTheOldest) {
  // Region 2 was read longest ago but holds tombstones or replacing entries, and region 7 (older)
  // may still hold what they hide: LRU takes region 4, the least recently read of the others.
  std::vector<RegionReclaimPolicy::Candidate> sealed = {
      {.region = 4, .seq = 30, .last_access = 40},
      {.region = 7, .seq = 10, .last_access = 80},
      {.region = 2, .seq = 20, .last_access = 5, .shadows_older = true},
      {.region = 5, .seq = 40, .last_access = 60, .shadows_older = true},
  };
  const RegionReclaimPolicy lru(config(ReclaimPolicy::kLru, 1));
  EXPECT_EQ(lru.pick_victim(sealed), 4u);
  // The oldest region is always a candidate, whatever it holds.
  sealed[1].shadows_older = true;
  sealed[0].last_access = 95;
  EXPECT_EQ(lru.pick_victim(sealed), 7u);
  // FIFO never looks.
  EXPECT_EQ(RegionReclaimPolicy(config(ReclaimPolicy::kFifo, 1)).pick_victim(sealed), 7u);
}

TEST(RegionReclaimPolicy, ReinsertionKeepsEntriesReadOftenEnoughUntilHalfARegion) {
  RegionReclaimPolicy::Reinsertion r =
      RegionReclaimPolicy(config(ReclaimPolicy::kFifo, 2)).reinsertion();
  EXPECT_FALSE(r.keep(1, 4096));        // read once: below min_hits
  EXPECT_TRUE(r.keep(2, 256 * kKiB));   // budget: 512 KiB
  EXPECT_FALSE(r.keep(9, 300 * kKiB));  // more than the 256 KiB left
  EXPECT_TRUE(r.keep(3, 256 * kKiB));   // exactly what is left
  EXPECT_FALSE(r.keep(200, 4096));      // nothing left
  // min_hits 0 turns reinsertion off, however hot the entry.
  RegionReclaimPolicy::Reinsertion off =
      RegionReclaimPolicy(config(ReclaimPolicy::kFifo, 0)).reinsertion();
  EXPECT_FALSE(off.keep(255, 4096));
}

}  // namespace
}  // namespace kvtier::nvme
