// The packed backend on a real Azure Blob server (Azurite on loopback): two nodes share blocks
// through segments (block blobs committed from block lists) and indexes in one container, with
// the request counts that show the packing (a few requests per segment, not one per block); a
// frozen server fails a flush at its deadline, and the retry lands.
#include <chrono>

#include <gtest/gtest.h>

#include "objstore/azure_store.h"
#include "shared/packed/packed_backend.h"
#include "support/azurite.h"
#include "support/test_support.h"

namespace kvtier::shared::packed::packed_azure_test {
namespace {

using kvtier::testing::Azurite;
using kvtier::testing::matches_pattern;
using kvtier::testing::pattern;
using kvtier::testing::test_key;

Deadline soon() { return Clock::now() + std::chrono::seconds(20); }

double counter(const PackedBackend& b, std::string_view name) {
  double v = -1;
  b.visit_counters([&](std::string_view n, double value, CounterKind) {
    if (n == name) v = value;
  });
  return v;
}

class PackedAzure : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { azurite_ = new Azurite("packed"); }
  static void TearDownTestSuite() {
    delete azurite_;
    azurite_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(azurite_->ready()) << azurite_->log(); }
  std::unique_ptr<PackedBackend> node() {
    auto store = objstore::AzureStore::open(azurite_->options(
        std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "/"));
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    PackedOptions p;
    p.segment_bytes = 16 << 20;
    p.part_bytes = 4 << 20;
    p.refresh_interval = std::chrono::hours(1);  // refreshed by hand
    auto b = std::make_unique<PackedBackend>(std::move(*store), p);
    EXPECT_TRUE(b->refresh(true).ok());  // its first whole listing: it serves nothing before
    return b;
  }
  static Azurite* azurite_;
};
Azurite* PackedAzure::azurite_ = nullptr;

// B's first listing finds A's first segment; the other 199 blocks it finds by an incremental
// listing (on Azure: of the prefix of recent index names, not all of them).
TEST_F(PackedAzure, TwoNodesShareBlocksInAFewLargeObjects) {
  auto a = node();
  auto b = node();
  constexpr int kBlocks = 200;
  constexpr std::size_t kSize = 256 << 10;  // 50 MiB in all
  for (int n = 0; n < kBlocks; ++n) {
    const BlockId id{1, test_key(static_cast<std::uint64_t>(n))};
    const auto value = pattern(id.key, kSize);
    SharedPut p{id, value};
    Status s;
    a->put_many({&p, 1}, {&s, 1}, soon());
    ASSERT_TRUE(s.ok()) << s.to_string();
    if (n == 0) {
      ASSERT_TRUE(a->flush(soon()).ok());
      ASSERT_TRUE(b->refresh(true).ok());
    }
  }
  ASSERT_TRUE(a->flush(soon()).ok());
  // 50 MiB in 16 MiB segments after a first one of one block: 5 segments, each its blocks of
  // 4 MiB, a block list and an index: a few dozen requests for 200 blocks.
  EXPECT_LE(counter(*a, "shared_packed_put_requests"), 45);
  EXPECT_EQ(counter(*a, "shared_packed_segments_published"), 5);
  ASSERT_TRUE(b->refresh(false).ok());
  std::vector<std::byte> dst(kSize);
  for (int n = 0; n < kBlocks; ++n) {
    const BlockId id{1, test_key(static_cast<std::uint64_t>(n))};
    SharedGet g{id, dst};
    GetResult r;
    b->get_many({&g, 1}, {&r, 1}, soon());
    ASSERT_TRUE(r.status.ok()) << n << ": " << r.status.to_string();
    ASSERT_EQ(r.size, kSize);
    EXPECT_TRUE(matches_pattern(dst, id.key)) << n;
  }
  EXPECT_EQ(counter(*b, "shared_packed_get_requests"), kBlocks) << "one ranged GET per block";
}

TEST_F(PackedAzure, AFrozenServerFailsTheFlushAtItsDeadlineAndTheRetryLands) {
  auto a = node();
  const BlockId id{2, test_key(7)};
  const auto value = pattern(id.key, 100'000);
  SharedPut p{id, value};
  Status s;
  a->put_many({&p, 1}, {&s, 1}, soon());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(azurite_->pause());
  const auto t0 = Clock::now();
  const Status flushed = a->flush(Clock::now() + std::chrono::milliseconds(500));
  const auto took = Clock::now() - t0;
  azurite_->resume();
  EXPECT_FALSE(flushed.ok());
  EXPECT_LT(took, std::chrono::seconds(5));
  // What the outbox does after a failed flush: stage again, flush again.
  a->put_many({&p, 1}, {&s, 1}, soon());
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_TRUE(a->flush(soon()).ok());
  auto b = node();
  ASSERT_TRUE(b->refresh(true).ok());
  std::vector<std::byte> dst(value.size());
  SharedGet g{id, dst};
  GetResult r;
  b->get_many({&g, 1}, {&r, 1}, soon());
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_TRUE(matches_pattern(dst, id.key));
}

}  // namespace
}  // namespace kvtier::shared::packed::packed_azure_test
