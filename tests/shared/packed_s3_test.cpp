// The packed backend on a real S3 server (Ceph's RADOS Gateway on loopback): segments are
// multipart uploads, indexes whole objects, in one bucket (packed_store_checks.h).
#include <gtest/gtest.h>

#include "objstore/s3_store.h"
#include "shared/packed/packed_backend.h"
#include "shared/packed_store_checks.h"
#include "support/ceph_rgw.h"

namespace kvtier::shared::packed::packed_s3_test {
namespace {

using kvtier::testing::CephRgw;

class PackedS3 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { suite_.start("packed"); }
  static void TearDownTestSuite() { suite_.stop(); }
  void SetUp() override { ASSERT_TRUE(suite_.ready()); }
  static std::unique_ptr<PackedBackend> node() {
    objstore::S3Options o;
    o.endpoint = rgw().endpoint();
    o.bucket = "packed";
    o.prefix = std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "/";
    o.credentials = {rgw().access_key(), rgw().secret_key(), ""};
    auto store = objstore::S3Store::open(o);
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    if (!store.ok()) return nullptr;
    PackedOptions p;
    p.segment_bytes = 16 << 20;
    p.part_bytes = 5 << 20;
    p.refresh_interval = std::chrono::hours(1);  // refreshed by hand
    auto b = std::make_unique<PackedBackend>(std::move(*store), p);
    EXPECT_TRUE(b->refresh(true).ok());  // its first whole listing: it serves nothing before
    return b;
  }
  static CephRgw& rgw() { return suite_.rgw(); }
  static kvtier::testing::CephRgwSuite suite_;
};
kvtier::testing::CephRgwSuite PackedS3::suite_;

TEST_F(PackedS3, TwoNodesShareBlocksInAFewLargeObjects) {
  checks::two_nodes_share_blocks_in_a_few_large_objects(node);
}

TEST_F(PackedS3, AFrozenGatewayFailsTheFlushAtItsDeadlineAndTheRetryLands) {
  checks::a_frozen_server_fails_the_flush_at_its_deadline_and_the_retry_lands(
      node, [] { return rgw().pause_rgw(); }, [] { rgw().resume_rgw(); });
}

}  // namespace
}  // namespace kvtier::shared::packed::packed_s3_test
