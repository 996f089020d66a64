// split_batch: ranges cover every item in order, within the item and byte limits.
#include "client/batch_split.h"

#include <gtest/gtest.h>

#include <vector>

namespace kvtier::client {
namespace {

TEST(SplitBatch, ItemLimit) {
  EXPECT_TRUE(split_batch(0, 4, 0, nullptr).empty());
  EXPECT_EQ(split_batch(3, 4, 0, nullptr), (std::vector<BatchRange>{{0, 3}}));
  EXPECT_EQ(split_batch(4, 4, 0, nullptr), (std::vector<BatchRange>{{0, 4}}));
  EXPECT_EQ(split_batch(9, 4, 0, nullptr), (std::vector<BatchRange>{{0, 4}, {4, 8}, {8, 9}}));
}

TEST(SplitBatch, ByteLimit) {
  std::vector<std::uint64_t> sizes = {40, 40, 30, 100, 250, 10, 10};
  auto bytes = [&](std::size_t i) { return sizes[i]; };
  // 40+40 fit in 100, +30 does not; 30 then 100 does not fit; 250 alone is above the limit and
  // gets its own range; 10+10 follow it together.
  EXPECT_EQ(split_batch(sizes.size(), 100, 100, bytes),
            (std::vector<BatchRange>{{0, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 7}}));
}

TEST(SplitBatch, BothLimits) {
  std::vector<std::uint64_t> sizes(10, 1);
  auto bytes = [&](std::size_t i) { return sizes[i]; };
  EXPECT_EQ(split_batch(10, 3, 5, bytes),
            (std::vector<BatchRange>{{0, 3}, {3, 6}, {6, 9}, {9, 10}}));
  EXPECT_EQ(split_batch(10, 8, 4, bytes), (std::vector<BatchRange>{{0, 4}, {4, 8}, {8, 10}}));
}

}  // namespace
}  // namespace kvtier::client
