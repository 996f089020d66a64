// TenantRegistry in-process: tokens pick tenants, and quota admission with QuotaHold: what a hold
// keeps counts against the quota until the hold is destroyed, also across threads. Quotas count
// what blocks cost (dram::block_charge), not their value bytes.
#include "server/tenant_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "dram/block.h"
#include "memory/aligned_buffer.h"
#include "support/test_support.h"

namespace kvtier::server {
namespace {

using kvtier::testing::pattern;
using kvtier::testing::TempDir;
using kvtier::testing::test_key;

constexpr const char* kBobToken = "bob-token-0123456789abc";
// Bob's quota: exactly a 600 KiB and a 400 KiB value.
constexpr std::uint64_t kQuota = dram::block_charge(600 * kKiB) + dram::block_charge(400 * kKiB);

class TenantAdmission : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreConfig c;
    c.data_dir = dir_.path();
    c.dram.capacity_bytes = 16 * kMiB;
    c.nvme.region_size = 1 * kMiB;
    c.nvme.default_file_bytes = kPageSize + 8 * kMiB;
    auto store = Store::open(c);
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
    ServerConfig config;
    config.tenants.push_back({.name = "bob", .token = kBobToken, .quota_bytes = kQuota});
    auto registry = TenantRegistry::create(config, "default-token-0123456789");
    ASSERT_TRUE(registry.ok()) << registry.status().to_string();
    registry_ = std::move(registry).value();
    bob_ = registry_->authenticate(kBobToken, Transport::kTcp);
    ASSERT_NE(bob_, nullptr);
  }

  bool admit(std::uint64_t bytes, QuotaHold& hold) {
    return registry_->admit(*bob_, *store_, bytes, hold);
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TenantRegistry> registry_;
  const Tenant* bob_ = nullptr;
};

TEST_F(TenantAdmission, AHoldCountsUntilItIsDestroyed) {
  QuotaHold first;
  ASSERT_TRUE(admit(600 * kKiB, first));
  EXPECT_EQ(first.bytes(), dram::block_charge(600 * kKiB)) << "a hold counts the value's charge";
  {
    QuotaHold second;
    EXPECT_FALSE(admit(600 * kKiB, second)) << "the first hold's bytes were not counted";
    EXPECT_EQ(second.bytes(), 0u);
    EXPECT_TRUE(admit(400 * kKiB, second));  // exactly the quota
    EXPECT_FALSE(admit(1, second));
  }
  // Moving a hold moves what it counts; destroying the last owner gives it back.
  QuotaHold moved = std::move(first);
  EXPECT_EQ(first.bytes(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  QuotaHold other;
  EXPECT_FALSE(admit(600 * kKiB, other));
  moved = QuotaHold{};
  EXPECT_TRUE(admit(900 * kKiB, other));
  EXPECT_EQ(bob_->quota_rejections.load(), 3u);
}

TEST_F(TenantAdmission, StoredBytesAndHeldBytesAddUp) {
  auto v = pattern(test_key(1), 512 * kKiB);
  ASSERT_TRUE(store_->put(bob_->ns, test_key(1), v).ok());
  QuotaHold hold;
  EXPECT_FALSE(admit(600 * kKiB, hold));
  EXPECT_TRUE(admit(256 * kKiB, hold));
  EXPECT_FALSE(admit(300 * kKiB, hold));
  // A tenant without a quota is admitted without holding anything.
  const Tenant& def = registry_->default_tenant();
  QuotaHold unlimited;
  EXPECT_TRUE(registry_->admit(def, *store_, 64 * kMiB, unlimited));
  EXPECT_EQ(unlimited.bytes(), 0u);
}

// Threads admitting at once: exactly as many as fit get in, however they interleave.
TEST_F(TenantAdmission, ConcurrentAdmissionsNeverPassTheQuota) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<QuotaHold> holds(kThreads);
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        if (admit(256 * kKiB, holds[t])) admitted.fetch_add(1);
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_EQ(admitted.load(), static_cast<int>(kQuota / dram::block_charge(256 * kKiB)))
        << "round " << round;
  }
}

}  // namespace
}  // namespace kvtier::server
