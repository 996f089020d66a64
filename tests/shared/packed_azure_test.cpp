// The packed backend on a real Azure Blob server (Azurite on loopback): segments are block blobs
// committed from block lists, indexes whole blobs, in one container (packed_store_checks.h).
#include <gtest/gtest.h>

#include "objstore/azure_store.h"
#include "shared/packed/packed_backend.h"
#include "shared/packed_store_checks.h"
#include "support/azurite.h"

namespace kvtier::shared::packed::packed_azure_test {
namespace {

using kvtier::testing::Azurite;

class PackedAzure : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { azurite_ = new Azurite("packed"); }
  static void TearDownTestSuite() {
    delete azurite_;
    azurite_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(azurite_->ready()) << azurite_->log(); }
  static std::unique_ptr<PackedBackend> node() {
    auto store = objstore::AzureStore::open(azurite_->options(
        std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "/"));
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    if (!store.ok()) return nullptr;
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

TEST_F(PackedAzure, TwoNodesShareBlocksInAFewLargeObjects) {
  checks::two_nodes_share_blocks_in_a_few_large_objects(node);
}

TEST_F(PackedAzure, AFrozenServerFailsTheFlushAtItsDeadlineAndTheRetryLands) {
  checks::a_frozen_server_fails_the_flush_at_its_deadline_and_the_retry_lands(
      node, [] { return azurite_->pause(); }, [] { azurite_->resume(); });
}

}  // namespace
}  // namespace kvtier::shared::packed::packed_azure_test
