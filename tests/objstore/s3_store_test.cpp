// S3Store against a real Ceph RADOS Gateway on loopback (tests/support/ceph-rgw.sh): whole
// objects, multipart uploads (visible only when completed, aborted ones gone), ranged reads,
// listings with a prefix and a start, removals, and what each failure is: a missing object is
// NotFound, a wrong secret or a missing bucket a configuration error (InvalidArgument), a frozen
// server an IOError at the deadline.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "objstore/object_store_contract.h"
#include "objstore/s3_store.h"
#include "support/ceph_rgw.h"
#include "support/test_support.h"

namespace kvtier::objstore::s3_store_test {
namespace {

using kvtier::testing::CephRgw;

using contract::bytes_of;
using contract::soon;

class S3StoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { suite_.start("kvtier-test"); }
  static void TearDownTestSuite() { suite_.stop(); }
  void SetUp() override { ASSERT_TRUE(suite_.ready()); }
  std::unique_ptr<S3Store> open(std::string bucket = "kvtier-test", std::string secret = "") {
    S3Options o;
    o.endpoint = rgw().endpoint();
    o.bucket = std::move(bucket);
    o.prefix = "t/" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "/";
    o.credentials = {rgw().access_key(), secret.empty() ? rgw().secret_key() : secret, ""};
    auto s = S3Store::open(o);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? std::move(*s) : nullptr;
  }
  static CephRgw& rgw() { return suite_.rgw(); }
  static kvtier::testing::CephRgwSuite suite_;
};
kvtier::testing::CephRgwSuite S3StoreTest::suite_;

TEST_F(S3StoreTest, PutReadListRemove) {
  auto s3 = open();
  ASSERT_TRUE(s3);
  contract::put_read_list_remove(*s3);
}

TEST_F(S3StoreTest, AMultipartObjectAppearsOnlyWhenCompleted) {
  auto s3 = open();
  ASSERT_TRUE(s3);
  contract::uploads_appear_only_when_completed(*s3, S3Store::kMinPartBytes);
}

TEST_F(S3StoreTest, FailuresSayWhatTheyAre) {
  auto wrong = open("kvtier-test", "not-the-secret-key-at-all-000000000");
  ASSERT_TRUE(wrong);
  const Status refused = wrong->put("a", bytes_of(10, 1), soon());
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << refused.to_string();
  EXPECT_EQ(refused.message().find("not-the-secret"), std::string::npos) << "a secret in a message";
  EXPECT_EQ(wrong->ping(soon()).code(), StatusCode::kInvalidArgument);

  auto missing = open("no-such-bucket");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->ping(soon()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing->put("a", bytes_of(10, 1), soon()).code(), StatusCode::kInvalidArgument);

  S3Options bad;
  bad.endpoint = "ftp://127.0.0.1:1";
  bad.bucket = "b";
  bad.credentials = {"a", "b", ""};
  EXPECT_FALSE(S3Store::open(bad).ok());
  bad.endpoint = "http://127.0.0.1:1";
  bad.bucket = "bad/bucket";
  EXPECT_FALSE(S3Store::open(bad).ok());
  bad.bucket = "b";
  bad.credentials = {};
  EXPECT_FALSE(S3Store::open(bad).ok()) << "no credentials";

  // Nothing listening: an IOError at once, not a hang.
  bad.credentials = {"a", "b", ""};
  auto nowhere = S3Store::open(bad);
  ASSERT_TRUE(nowhere.ok());
  EXPECT_EQ((*nowhere)->ping(soon()).code(), StatusCode::kIOError);
}

TEST_F(S3StoreTest, AFrozenServerIsAnIOErrorAtTheDeadline) {
  auto s3 = open();
  ASSERT_TRUE(s3);
  ASSERT_TRUE(s3->put("a", bytes_of(10, 1), soon()).ok());
  ASSERT_TRUE(rgw().pause_rgw());
  const auto t0 = Clock::now();
  std::vector<std::byte> back(10);
  const Status s = s3->read("a", 0, back, Clock::now() + std::chrono::milliseconds(300));
  const auto took = Clock::now() - t0;
  rgw().resume_rgw();
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.to_string();
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_TRUE(kvtier::testing::poll_until([&] { return s3->read("a", 0, back, soon()).ok(); },
                         std::chrono::seconds(20)));
}

}  // namespace
}  // namespace kvtier::objstore::s3_store_test
