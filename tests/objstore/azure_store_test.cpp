// AzureStore against a real Azure Blob server: Azurite on loopback (tests/support/azurite.h).
// The ObjectStore contract with Shared Key and with a SAS token; what Shared Key signs; what each
// failure is (a wrong key, a SAS that may not write, a missing container: configuration errors;
// a missing blob: NotFound; a frozen server: an IOError at the deadline), never with a secret in
// the message. Azure publishes no signing vectors: Azurite checks every signature.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "coding/base64.h"
#include "integrity/block_mac.h"
#include "objstore/azure_store.h"
#include "objstore/object_store_contract.h"
#include "support/azurite.h"

namespace kvtier::objstore::azure_store_test {
namespace {

using contract::bytes_of;
using contract::soon;
using kvtier::testing::Azurite;

// An account SAS (service version 2019-12-12's string to sign) for blobs, with `permissions`.
std::string account_sas(std::string_view permissions, bool tamper = false) {
  const std::string version = "2019-12-12", expiry = "2099-01-01T00:00:00Z", protocols = "https,http";
  const std::string to_sign = std::string(Azurite::kAccount) + "\n" + std::string(permissions) +
                              "\nb\nsco\n\n" + expiry + "\n\n" + protocols + "\n" + version + "\n";
  BlockMac mac(*base64_decode(Azurite::kKey));
  BlockMac::Tag tag = mac.tag({std::as_bytes(std::span(to_sign.data(), to_sign.size()))});
  if (tamper) tag[0] ^= 1;
  return "sv=" + version + "&ss=b&srt=sco&sp=" + std::string(permissions) +
         "&se=" + http::uri_encode(expiry, false) + "&spr=" + http::uri_encode(protocols, false) +
         "&sig=" + http::uri_encode(base64_encode(std::as_bytes(std::span(tag))), false);
}

class AzureStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { azurite_ = new Azurite("kvtier-test"); }
  static void TearDownTestSuite() {
    delete azurite_;
    azurite_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(azurite_->ready()) << "Azurite (" << Azurite::binary()
                                   << ") did not start; `make deps` installs it. Its log:\n"
                                   << azurite_->log();
  }
  static std::string test_prefix() {
    return "t/" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "/";
  }
  std::unique_ptr<AzureStore> open(AzureOptions o) {
    auto s = AzureStore::open(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::unique_ptr<AzureStore> open() { return open(azurite_->options(test_prefix())); }
  std::unique_ptr<AzureStore> open_sas(const std::string& sas, const std::string& sub = "") {
    AzureOptions o = azurite_->options(test_prefix() + sub);
    o.shared_key.clear();
    o.sas = sas;
    return open(o);
  }
  static Azurite* azurite_;
};
Azurite* AzureStoreTest::azurite_ = nullptr;

TEST(AzureSharedKey, TheStringToSignFollowsTheDocumentedLayout) {
  // Content-Length is empty when 0; x-ms- headers lower-case, trimmed and sorted; the query's
  // names lower-case with decoded values, sorted, one name's values joined by ','.
  const std::vector<http::Header> headers = {{"x-ms-version", "2021-08-06"},
                                             {"Content-Type", "application/xml"},
                                             {"X-MS-Date", " Tue, 08 Dec 2026 02:21:12 GMT "},
                                             {"x-ms-range", "bytes=0-9"}};
  EXPECT_EQ(azure_string_to_sign("PUT", headers, 0, "/acct/acct/c/a%2Bb",
                                 {{"comp", "list"}, {"Restype", "container"}, {"comp", "block"}}),
            "PUT\n\n\n\n\napplication/xml\n\n\n\n\n\n\n"
            "x-ms-date:Tue, 08 Dec 2026 02:21:12 GMT\nx-ms-range:bytes=0-9\nx-ms-version:2021-08-06\n"
            "/acct/acct/c/a%2Bb\ncomp:block,list\nrestype:container");
  EXPECT_EQ(azure_string_to_sign("GET", {}, 12, "/a/c", {}), "GET\n\n\n12\n\n\n\n\n\n\n\n\n/a/c");
}

TEST(AzureOptionsCheck, BadOptionsAreRefusedBeforeAnyRequest) {
  AzureOptions o;
  o.endpoint = "http://127.0.0.1:1/devstoreaccount1";
  o.account = "devstoreaccount1";
  o.container = "kvtier";
  o.shared_key = Azurite::kKey;
  EXPECT_TRUE(AzureStore::open(o).ok());
  AzureOptions bad = o;
  bad.endpoint = "ftp://127.0.0.1:1";
  EXPECT_FALSE(AzureStore::open(bad).ok());
  // Azure's container rule: 3-63 of [a-z0-9-], a letter or digit at each end, no "--".
  for (const char* name : {"a/b", "ab", "Kvtier", "kv_tier", "-kvtier", "kvtier-", "kv--tier"}) {
    bad = o;
    bad.container = name;
    EXPECT_FALSE(AzureStore::open(bad).ok()) << name;
  }
  bad = o;
  bad.shared_key = "not base64 at all!";
  const auto refused = AzureStore::open(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().find("not base64 at all"), std::string::npos) << "a key in a message";
  bad = o;
  bad.sas = "sv=2019-12-12&sig=x";
  EXPECT_FALSE(AzureStore::open(bad).ok()) << "a key and a SAS";
  bad.shared_key.clear();
  EXPECT_TRUE(AzureStore::open(bad).ok());
  bad.sas = "sv=2019-12-12";
  EXPECT_FALSE(AzureStore::open(bad).ok()) << "a SAS without a signature";
  bad.sas.clear();
  EXPECT_FALSE(AzureStore::open(bad).ok()) << "no credentials";

  // Nothing listening: an IOError at once, not a hang.
  auto nowhere = AzureStore::open(o);
  ASSERT_TRUE(nowhere.ok());
  EXPECT_EQ((*nowhere)->ping(soon()).code(), StatusCode::kIOError);
}

TEST_F(AzureStoreTest, PutReadListRemoveWithSharedKey) {
  auto store = open();
  ASSERT_TRUE(store);
  contract::put_read_list_remove(*store);
}

TEST_F(AzureStoreTest, ABlockListAppearsOnlyWhenCommitted) {
  auto store = open();
  ASSERT_TRUE(store);
  contract::uploads_appear_only_when_completed(*store, 1 << 20);
}

TEST_F(AzureStoreTest, PutReadListRemoveWithASasToken) {
  auto store = open_sas(account_sas("rwdlac"), "objects/");
  ASSERT_TRUE(store);
  contract::put_read_list_remove(*store);
  auto uploads = open_sas(account_sas("rwdlac"), "uploads/");
  ASSERT_TRUE(uploads);
  contract::uploads_appear_only_when_completed(*uploads, 1 << 20);
}

TEST_F(AzureStoreTest, FailuresSayWhatTheyAreAndNeverCarryASecret) {
  AzureOptions o = azurite_->options(test_prefix());
  o.shared_key = base64_encode(std::string(64, 'k'));
  auto wrong_key = open(o);
  ASSERT_TRUE(wrong_key);
  const Status refused = wrong_key->put("a", bytes_of(10, 1), soon());
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << refused.to_string();
  EXPECT_EQ(refused.message().find(o.shared_key), std::string::npos) << "a key in a message";
  EXPECT_EQ(wrong_key->ping(soon()).code(), StatusCode::kInvalidArgument);

  const std::string forged = account_sas("rwdlac", /*tamper=*/true);
  auto forged_sas = open_sas(forged);
  ASSERT_TRUE(forged_sas);
  const Status forged_put = forged_sas->put("a", bytes_of(10, 1), soon());
  EXPECT_EQ(forged_put.code(), StatusCode::kInvalidArgument) << forged_put.to_string();
  // The signature, as sent (percent-encoded) and decoded, in no message; nor on a transport error.
  const std::string sig = forged.substr(forged.find("sig=") + 4);
  auto decoded = [](std::string text) {
    for (std::size_t i = text.find('%'); i != std::string::npos && i + 2 < text.size();
         i = text.find('%', i + 1)) {
      text.replace(i, 3, 1, static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
    }
    return text;
  };
  for (const std::string& secret : {sig, decoded(sig)}) {
    EXPECT_EQ(forged_put.message().find(secret), std::string::npos) << "a SAS signature in a message";
  }
  AzureOptions closed = azurite_->options(test_prefix());
  closed.endpoint = "http://127.0.0.1:1/devstoreaccount1";
  closed.shared_key.clear();
  closed.sas = forged;
  auto nowhere = open(closed);
  ASSERT_TRUE(nowhere);
  const Status unreachable = nowhere->ping(soon());
  EXPECT_EQ(unreachable.code(), StatusCode::kIOError) << unreachable.to_string();
  for (const std::string& secret : {sig, decoded(sig)}) {
    EXPECT_EQ(unreachable.message().find(secret), std::string::npos) << unreachable.to_string();
  }

  auto read_only = open_sas(account_sas("rl"));
  ASSERT_TRUE(read_only);
  EXPECT_TRUE(read_only->ping(soon()).ok());
  EXPECT_EQ(read_only->put("a", bytes_of(10, 1), soon()).code(), StatusCode::kInvalidArgument);

  o = azurite_->options(test_prefix());
  o.container = "no-such-container";
  auto missing = open(o);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->ping(soon()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing->put("a", bytes_of(10, 1), soon()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing->remove("a", soon()).code(), StatusCode::kInvalidArgument);
}

TEST_F(AzureStoreTest, AFrozenServerIsAnIOErrorAtTheDeadline) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->put("a", bytes_of(10, 1), soon()).ok());
  ASSERT_TRUE(azurite_->pause());
  const auto t0 = Clock::now();
  std::vector<std::byte> back(10);
  const Status s = store->read("a", 0, back, Clock::now() + std::chrono::milliseconds(300));
  const auto took = Clock::now() - t0;
  azurite_->resume();
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.to_string();
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_TRUE(kvtier::testing::poll_until([&] { return store->read("a", 0, back, soon()).ok(); },
                                          std::chrono::seconds(20)));
}

}  // namespace
}  // namespace kvtier::objstore::azure_store_test
