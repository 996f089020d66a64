// S3Store against a real Ceph RADOS Gateway on loopback (tests/support/ceph-rgw.sh): whole
// objects, multipart uploads (visible only when completed, aborted ones gone), ranged reads,
// listings with a prefix and a start, removals, and what each failure is: a missing object is
// NotFound, a wrong secret or a missing bucket a configuration error (InvalidArgument), a frozen
// server an IOError at the deadline.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "objstore/s3_store.h"
#include "support/ceph_rgw.h"
#include "support/test_support.h"

namespace kvtier::objstore::s3_store_test {
namespace {

using kvtier::testing::CephRgw;

std::vector<std::byte> bytes_of(std::size_t n, std::uint8_t seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + seed) & 0xFF);
  return v;
}

Deadline soon() { return Clock::now() + std::chrono::seconds(20); }

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
  ASSERT_TRUE(s3->ping(soon()).ok());
  const auto a = bytes_of(100'000, 1);
  ASSERT_TRUE(s3->put("idx/a", a, soon()).ok());
  ASSERT_TRUE(s3->put("idx/b", bytes_of(10, 2), soon()).ok());
  ASSERT_TRUE(s3->put("seg/c", bytes_of(10, 3), soon()).ok());

  std::vector<std::byte> part(1000);
  ASSERT_TRUE(s3->read("idx/a", 5000, part, soon()).ok());
  EXPECT_TRUE(std::equal(part.begin(), part.end(), a.begin() + 5000));
  auto all = s3->read_all("idx/a", 1 << 20, soon());
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  EXPECT_EQ(all->size(), a.size());
  EXPECT_EQ(s3->read_all("idx/a", 1000, soon()).status().code(), StatusCode::kTooLarge);

  // Past the end: what is there is not a whole range.
  std::vector<std::byte> tail(1000);
  EXPECT_EQ(s3->read("idx/a", a.size() - 10, tail, soon()).code(), StatusCode::kCorruption);
  EXPECT_EQ(s3->read("idx/none", 0, tail, soon()).code(), StatusCode::kNotFound);
  EXPECT_EQ(s3->read_all("idx/none", 100, soon()).status().code(), StatusCode::kNotFound);

  auto listed = s3->list("idx/", "", 1000, soon());
  ASSERT_TRUE(listed.ok()) << listed.status().to_string();
  ASSERT_EQ(listed->objects.size(), 2u);
  EXPECT_EQ(listed->objects[0].name, "idx/a");
  EXPECT_EQ(listed->objects[0].size, a.size());
  EXPECT_EQ(listed->objects[1].name, "idx/b");
  auto after = s3->list("idx/", "idx/a", 1000, soon());
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->objects.size(), 1u);
  EXPECT_EQ(after->objects[0].name, "idx/b");
  auto paged = s3->list("", "", 2, soon());
  ASSERT_TRUE(paged.ok());
  EXPECT_EQ(paged->objects.size(), 2u);
  EXPECT_TRUE(paged->truncated);

  ASSERT_TRUE(s3->remove("idx/a", soon()).ok());
  ASSERT_TRUE(s3->remove("idx/a", soon()).ok()) << "removing what is gone is OK";
  EXPECT_EQ(s3->read("idx/a", 0, part, soon()).code(), StatusCode::kNotFound);
}

TEST_F(S3StoreTest, AMultipartObjectAppearsOnlyWhenCompleted) {
  auto s3 = open();
  ASSERT_TRUE(s3);
  const auto p1 = bytes_of(S3Store::kMinPartBytes, 7);
  const auto p2 = bytes_of(12345, 8);
  auto up = s3->begin_upload("seg/x", soon());
  ASSERT_TRUE(up.ok()) << up.status().to_string();
  ASSERT_TRUE(s3->upload_part(*up, p1, soon()).ok());
  ASSERT_TRUE(s3->upload_part(*up, p2, soon()).ok());
  std::vector<std::byte> probe(10);
  EXPECT_EQ(s3->read("seg/x", 0, probe, soon()).code(), StatusCode::kNotFound)
      << "visible before completion";
  ASSERT_TRUE(s3->complete_upload(*up, soon()).ok());
  std::vector<std::byte> back(100);
  ASSERT_TRUE(s3->read("seg/x", p1.size() - 50, back, soon()).ok());
  EXPECT_TRUE(std::equal(back.begin(), back.begin() + 50, p1.end() - 50));
  EXPECT_TRUE(std::equal(back.begin() + 50, back.end(), p2.begin()));

  auto dropped = s3->begin_upload("seg/y", soon());
  ASSERT_TRUE(dropped.ok());
  ASSERT_TRUE(s3->upload_part(*dropped, p2, soon()).ok());
  ASSERT_TRUE(s3->abort_upload(*dropped, soon()).ok());
  EXPECT_FALSE(s3->complete_upload(*dropped, soon()).ok()) << "an aborted upload completed";
  EXPECT_EQ(s3->read("seg/y", 0, probe, soon()).code(), StatusCode::kNotFound);
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
