// The ideal-LRU simulator on hand-computed sequences.
#include <gtest/gtest.h>

#include <vector>

#include "support/test_support.h"
#include "workload/lru_simulator.h"

namespace kvtier::workload {
namespace {

TEST(LruSimulator, HandComputedSequence) {
  const Key A = testing::test_key(1), B = testing::test_key(2), C = testing::test_key(3), D = testing::test_key(4);
  LruSimulator lru(3);
  // Lists are most recently used first; a chain is touched last block to first.
  EXPECT_EQ(lru.access(std::vector<Key>{A, B}), 0u);     // A B
  EXPECT_EQ(lru.access(std::vector<Key>{A, B, C}), 2u);  // A B C
  EXPECT_EQ(lru.access(std::vector<Key>{D}), 0u);        // D A B (C evicted)
  EXPECT_FALSE(lru.contains(C));
  EXPECT_EQ(lru.access(std::vector<Key>{A, B, C}), 2u);  // C D A, B C D, A B C: 3 evictions
  EXPECT_FALSE(lru.contains(D));
  EXPECT_EQ(lru.access(std::vector<Key>{A, B, C}), 3u);
  EXPECT_EQ(lru.requests(), 5u);
  EXPECT_EQ(lru.blocks(), 12u);
  EXPECT_EQ(lru.prefix_hits(), 7u);
  EXPECT_EQ(lru.evictions(), 4u);
  EXPECT_EQ(lru.size(), 3u);
  EXPECT_DOUBLE_EQ(lru.hit_ratio(), 7.0 / 12.0);
}

TEST(LruSimulator, OnlyTheCachedPrefixCounts) {
  const Key A = testing::test_key(1), B = testing::test_key(2), C = testing::test_key(3);
  LruSimulator lru(10);
  lru.access(std::vector<Key>{B, C});
  // B and C are cached but A is not: nothing of [A, B, C] is usable.
  EXPECT_EQ(lru.access(std::vector<Key>{A, B, C}), 0u);
}

TEST(LruSimulator, ChainLongerThanCapacityKeepsItsHead) {
  const Key A = testing::test_key(1), B = testing::test_key(2), C = testing::test_key(3);
  LruSimulator lru(2);
  lru.access(std::vector<Key>{A, B, C});
  EXPECT_TRUE(lru.contains(A));
  EXPECT_TRUE(lru.contains(B));
  EXPECT_FALSE(lru.contains(C));
  EXPECT_EQ(lru.access(std::vector<Key>{A, B, C}), 2u);
}

TEST(LruSimulator, ZeroCapacityNeverHits) {
  LruSimulator lru(0);
  std::vector<Key> chain{testing::test_key(1)};
  lru.access(chain);
  EXPECT_EQ(lru.access(chain), 0u);
  EXPECT_DOUBLE_EQ(lru.hit_ratio(), 0.0);
}

}  // namespace
}  // namespace kvtier::workload
