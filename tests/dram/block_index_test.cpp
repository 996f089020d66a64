// dram::BlockIndex against a model (std::unordered_map): random inserts, replacements and erases
// with probe runs that wrap around small tables, so backward-shift deletion and growth are checked
// directly rather than through the tier.
#include "dram/block_index.h"

#include <memory>
#include <random>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "dram_test_util.h"

namespace kvtier::dram {
namespace {

using testing::bid;
using testing::test_key;

class BlockIndexModelTest : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(BlockIndexModelTest, MatchesAMapUnderRandomOperations) {
  LiveMemory live;
  BlockIndex index(GetParam());
  std::unordered_map<std::uint64_t, Block*> model;  // key number -> indexed block
  std::vector<Block*> retired;
  auto make = [&](std::uint64_t k, NamespaceId ns) {
    live.blocks.fetch_add(1);
    const BlockId id = bid(k, ns);
    return new Block(id, BlockIndex::hash_of(id), 0, &live);
  };
  constexpr std::uint64_t kKeys = 96;
  std::mt19937_64 rng(GetParam());
  for (int step = 0; step < 4000; ++step) {
    const std::uint64_t k = rng() % kKeys;
    const NamespaceId ns = static_cast<NamespaceId>(k % 3);  // same key numbers, other namespaces
    const std::uint64_t mk = k;  // key numbers are unique across namespaces here
    if (rng() % 3 != 0) {
      Block* b = make(k, ns);
      Block* existing = nullptr;
      ASSERT_TRUE(index.prepare_insert(b->id, b->hash, &existing));
      auto it = model.find(mk);
      ASSERT_EQ(existing, it == model.end() ? nullptr : it->second);
      ASSERT_EQ(index.insert(b), existing);
      if (existing) retired.push_back(existing);
      model[mk] = b;
    } else if (rng() % 2) {
      Block* removed = index.erase_id(bid(k, ns), BlockIndex::hash_of(bid(k, ns)));
      auto it = model.find(mk);
      ASSERT_EQ(removed, it == model.end() ? nullptr : it->second);
      if (removed) {
        retired.push_back(removed);
        model.erase(it);
      }
    } else {
      auto it = model.find(mk);
      if (it == model.end()) continue;
      ASSERT_TRUE(index.erase(it->second));
      ASSERT_FALSE(index.erase(it->second)) << "already gone";
      retired.push_back(it->second);
      model.erase(it);
    }
    // Every key answers as the model says.
    for (std::uint64_t j = 0; j < kKeys; ++j) {
      const BlockId id = bid(j, static_cast<NamespaceId>(j % 3));
      auto it = model.find(j);
      ASSERT_EQ(index.find(id, BlockIndex::hash_of(id)), it == model.end() ? nullptr : it->second)
          << "step " << step << " key " << j;
      ASSERT_EQ(index.find(bid(j, 7), BlockIndex::hash_of(bid(j, 7))), nullptr);
    }
  }
  // probe agrees too, per namespace.
  for (NamespaceId ns = 0; ns < 3; ++ns) {
    std::vector<Key> keys;
    for (std::uint64_t j = ns; j < kKeys; j += 3) keys.push_back(test_key(j));
    std::vector<std::uint8_t> found(keys.size());
    index.probe(ns, keys, found);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      EXPECT_EQ(found[i], model.count(ns + 3 * i) ? 1 : 0);
    }
  }
  std::size_t visited = 0;
  index.for_each([&](Block*) { ++visited; });
  EXPECT_EQ(visited, model.size());

  index.clear();
  for (auto& [k, b] : model) unref_block(b);
  for (Block* b : retired) unref_block(b);
  EXPECT_EQ(live.blocks.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(DramBlockIndex, BlockIndexModelTest, ::testing::Values(1u, 2u, 8u));

TEST(DramBlockIndex, ManyBlocksGrowTheTables) {
  LiveMemory live;
  BlockIndex index(4);
  std::vector<Block*> blocks;
  for (std::uint64_t k = 0; k < 20000; ++k) {
    live.blocks.fetch_add(1);
    Block* b = new Block(bid(k), BlockIndex::hash_of(bid(k)), 0, &live);
    Block* existing = nullptr;
    ASSERT_TRUE(index.prepare_insert(b->id, b->hash, &existing));
    ASSERT_EQ(existing, nullptr);
    ASSERT_EQ(index.insert(b), nullptr);
    blocks.push_back(b);
  }
  for (std::uint64_t k = 0; k < 20000; k += 2) ASSERT_TRUE(index.erase(blocks[k]));
  for (std::uint64_t k = 0; k < 20000; ++k) {
    ASSERT_EQ(index.find(bid(k), BlockIndex::hash_of(bid(k))), k % 2 ? blocks[k] : nullptr) << k;
  }
  index.clear();
  for (Block* b : blocks) unref_block(b);
  EXPECT_EQ(live.blocks.load(), 0);
}

}  // namespace
}  // namespace kvtier::dram
