// The BlockTier contract, asked of every local tier through the interface alone: the same
// questions get the same shapes of answer from DRAM and from NVMe (a real file, O_DIRECT).
#include "engine/block_tier.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dram/dram_tier.h"
#include "memory/aligned_buffer.h"
#include "nvme/nvme_tier.h"
#include "support/test_support.h"

namespace kvtier::engine {
namespace {

using kvtier::testing::counter_value;
using kvtier::testing::matches_pattern;
using kvtier::testing::pattern;
using kvtier::testing::TempDir;
using kvtier::testing::test_key;

constexpr std::size_t kSize = 3 * 4096 + 100;
constexpr NamespaceId kNs = 5;

// One tier under test: the interface, and a way to put a block with the tier's own write.
struct TierUnderTest {
  std::shared_ptr<BlockTier> tier;
  std::function<Status(const BlockId&, std::span<const std::byte>)> put;
  std::string hits;  // the counter a client's hit raises
};

using Factory = std::function<TierUnderTest(const std::string& dir)>;

TierUnderTest dram_tier(const std::string&) {
  DramConfig c;
  c.capacity_bytes = 64 * kMiB;
  std::shared_ptr<dram::DramTier> t = std::move(dram::DramTier::create(c)).value();
  return {t,
          [t](const BlockId& id, std::span<const std::byte> v) {
            return t->put(id, v, dram::CommitMode::kReplace, /*clean=*/false, nullptr);
          },
          "dram_hits"};
}

TierUnderTest nvme_tier(const std::string& dir) {
  NvmeConfig c;
  c.region_size = 1 * kMiB;
  c.default_file_bytes = kPageSize + 8 * c.region_size;
  std::shared_ptr<nvme::NvmeTier> t = std::move(nvme::NvmeTier::open(c, dir)).value();
  return {t, [t](const BlockId& id, std::span<const std::byte> v) { return t->put(id, v); },
          "nvme_hits"};
}

class BlockTierContract : public ::testing::TestWithParam<std::pair<Tier, Factory>> {
 protected:
  void SetUp() override {
    under_ = GetParam().second(dir_.path());
    ASSERT_TRUE(under_.tier);
    for (std::uint64_t n = 0; n < 3; ++n) {
      ASSERT_TRUE(under_.put({kNs, test_key(n)}, pattern(test_key(n), kSize)).ok()) << n;
    }
  }

  TempDir dir_;
  TierUnderTest under_;
};

TEST_P(BlockTierContract, AnswersEveryQuestionInTheSameShape) {
  BlockTier& t = *under_.tier;
  EXPECT_EQ(t.kind(), GetParam().first);

  // get_many: a hit (bytes, size, tier), a miss, a buffer too small (with the value's size), and
  // the same key in another namespace (a miss).
  AlignedBuffer buf(4 * kSize);
  std::vector<GetItem> items = {
      {test_key(0), buf.span().subspan(0, kSize)},
      {test_key(9), buf.span().subspan(kSize, kSize)},
      {test_key(1), buf.span().subspan(2 * kSize, kSize - 1)},
  };
  std::vector<GetResult> out(items.size());
  const double hits_before = counter_value(t, under_.hits);
  t.get_many(kNs, items, out, ReadFor::kClient);
  ASSERT_TRUE(out[0].status.ok()) << out[0].status.to_string();
  EXPECT_EQ(out[0].size, kSize);
  EXPECT_EQ(out[0].tier, t.kind());
  EXPECT_TRUE(matches_pattern(items[0].dst, test_key(0)));
  EXPECT_TRUE(out[1].status.is_not_found()) << out[1].status.to_string();
  EXPECT_EQ(out[2].status.code(), StatusCode::kBufferTooSmall) << out[2].status.to_string();
  EXPECT_EQ(out[2].size, kSize);
  EXPECT_EQ(counter_value(t, under_.hits), hits_before + 1);

  std::vector<GetResult> other(1);
  t.get_many(kNs + 1, std::span(items).first(1), other, ReadFor::kClient);
  EXPECT_TRUE(other[0].status.is_not_found());

  // The store's own reads return the bytes and count no hit.
  t.get_many(kNs, std::span(items).first(1), out, ReadFor::kStoreInternal);
  EXPECT_TRUE(out[0].status.ok());
  EXPECT_EQ(counter_value(t, under_.hits), hits_before + 1);

  // probe and contains agree, per namespace.
  const std::vector<Key> keys = {test_key(0), test_key(9), test_key(2)};
  std::vector<std::uint8_t> found(keys.size(), 7);
  t.probe(kNs, keys, found);
  EXPECT_EQ(found, (std::vector<std::uint8_t>{1, 0, 1}));
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(t.contains({kNs, keys[i]}), found[i] == 1) << i;
    EXPECT_FALSE(t.contains({kNs + 1, keys[i]})) << i;
  }

  // Usage counts the namespace's blocks; remove takes one away, once.
  EXPECT_EQ(t.namespace_usage(kNs).blocks, 3u);
  EXPECT_EQ(t.namespace_usage(kNs).bytes, 3 * kSize);
  EXPECT_GE(t.namespace_usage(kNs).charged_bytes, 3 * kSize);
  EXPECT_EQ(t.namespace_usage(kNs + 1).blocks, 0u);
  EXPECT_TRUE(t.remove({kNs, test_key(2)}).ok());
  EXPECT_TRUE(t.remove({kNs, test_key(2)}).is_not_found());
  EXPECT_FALSE(t.contains({kNs, test_key(2)}));
  EXPECT_EQ(t.namespace_usage(kNs).blocks, 2u);

  // Every counter carries the tier's prefix.
  const std::string prefix = t.kind() == Tier::kDram ? "dram_" : "nvme_";
  std::size_t counters = 0;
  t.visit_counters([&](std::string_view name, double, CounterKind) {
    ++counters;
    EXPECT_EQ(name.substr(0, prefix.size()), prefix) << name;
  });
  EXPECT_GT(counters, 5u);
}

INSTANTIATE_TEST_SUITE_P(LocalTiers, BlockTierContract,
                         ::testing::Values(std::pair<Tier, Factory>{Tier::kDram, dram_tier},
                                           std::pair<Tier, Factory>{Tier::kNvme, nvme_tier}),
                         [](const auto& info) {
                           return std::string(info.param.first == Tier::kDram ? "Dram" : "Nvme");
                         });

}  // namespace
}  // namespace kvtier::engine
