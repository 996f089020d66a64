// The C API against the real kvtierd, for what the C smoke program cannot show without crashing:
// an item of a batch with a NULL buffer is that item's INVALID_ARGUMENT (the others are served),
// and kvtier_key_to_hex takes NULL (issue 24: a NULL per item was dereferenced).
#include "kvtier/kvtier.h"

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier::testing {
namespace {

kvtier_key c_key(std::uint64_t n) {
  kvtier_key k;
  const Key key = test_key(n);
  std::memcpy(k.bytes, key.bytes.data(), 16);
  return k;
}

class CApi : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<DaemonProcess>(dir_.path(), small_daemon_config());
    ASSERT_TRUE(daemon_->started()) << daemon_->log();
    char err[256] = {0};
    ASSERT_EQ(kvtier_connect(daemon_->unix_address().c_str(), nullptr, 10000, &client_, err, sizeof err),
              KVTIER_OK)
        << err;
  }
  void TearDown() override {
    if (client_) kvtier_close(client_);
  }
  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
  kvtier_client* client_ = nullptr;
};

TEST_F(CApi, ABatchItemWithANullBufferIsThatItemsErrorAndTheRestIsServed) {
  const std::vector<std::byte> v = pattern(test_key(1), 1000);
  const std::vector<kvtier_put_item> puts = {
      {c_key(1), v.data(), v.size()},
      {c_key(2), nullptr, 1000},  // NULL value with a size
      {c_key(3), v.data(), v.size()},
  };
  std::vector<int> statuses(puts.size(), -1);
  ASSERT_EQ(kvtier_put_many(client_, puts.data(), puts.size(), statuses.data()), KVTIER_OK);
  EXPECT_EQ(statuses[0], KVTIER_OK);
  EXPECT_EQ(statuses[1], KVTIER_INVALID_ARGUMENT);
  EXPECT_EQ(statuses[2], KVTIER_OK);

  std::vector<std::byte> a(1000), c(1000);
  const std::vector<kvtier_get_item> gets = {
      {c_key(1), a.data(), a.size()},
      {c_key(3), nullptr, 1000},  // NULL destination with a capacity
      {c_key(3), c.data(), c.size()},
  };
  std::vector<kvtier_get_result> results(gets.size());
  ASSERT_EQ(kvtier_get_many(client_, gets.data(), gets.size(), results.data()), KVTIER_OK);
  EXPECT_EQ(results[0].status, KVTIER_OK);
  EXPECT_EQ(results[1].status, KVTIER_INVALID_ARGUMENT);
  EXPECT_EQ(results[2].status, KVTIER_OK);
  EXPECT_EQ(a, v);
  EXPECT_EQ(c, v);
  EXPECT_EQ(kvtier_ping(client_), KVTIER_OK);
}

TEST_F(CApi, KeyToHexTakesNull) {
  char out[33];
  std::memset(out, 'x', sizeof out);
  kvtier_key_to_hex(nullptr, out);
  EXPECT_EQ(std::string(out), "");
  const kvtier_key k = c_key(1);
  kvtier_key_to_hex(&k, nullptr);  // nothing to write into: nothing happens
  kvtier_key_to_hex(&k, out);
  EXPECT_EQ(std::string(out), test_key(1).hex());
}

}  // namespace
}  // namespace kvtier::testing
