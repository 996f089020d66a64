// The C API against the real kvtierd, for what the C smoke program cannot show without crashing:
// an item of a batch with a NULL buffer is that item's INVALID_ARGUMENT (the others are served),
// and kvtier_key_to_hex takes NULL (issue 24: a NULL per item was dereferenced); TLS through
// kvtier_connect_with, with a client certificate that names the tenant (issue 25).
#include "kvtier/kvtier.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/daemon_process.h"
#include "support/test_certs.h"
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
  const kvtier_key puts_key_1_ = c_key(1);
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

// Puts with flags: durable ones are served where the daemon announced it (it has an NVMe tier) and
// come back after a SIGKILL of the daemon; unknown flag bits are refused, every item answered.
TEST_F(CApi, DurablePutsWithFlagsSurviveAKillAndUnknownFlagsAreRefused) {
  ASSERT_NE(kvtier_server_capabilities(client_) & KVTIER_CAPABILITY_DURABLE_PUT, 0u);
  const std::vector<std::byte> v1 = pattern(test_key(1), 5000), v2 = pattern(test_key(2), 7000);
  ASSERT_EQ(kvtier_put_with(client_, &puts_key_1_, v1.data(), v1.size(), KVTIER_PUT_DURABLE),
            KVTIER_OK)
      << kvtier_last_error(client_);
  const kvtier_put_item items[] = {{c_key(2), v2.data(), v2.size()}};
  int statuses[1] = {-1};
  ASSERT_EQ(kvtier_put_many_with(client_, items, 1, statuses, KVTIER_PUT_DURABLE), KVTIER_OK);
  EXPECT_EQ(statuses[0], KVTIER_OK);
  statuses[0] = -1;
  EXPECT_EQ(kvtier_put_many_with(client_, items, 1, statuses, 0x80), KVTIER_INVALID_ARGUMENT);
  EXPECT_EQ(statuses[0], KVTIER_INVALID_ARGUMENT);
  EXPECT_NE(std::string(kvtier_last_error(client_)).find("unknown put flags 128"), std::string::npos)
      << kvtier_last_error(client_);

  kvtier_close(client_);
  client_ = nullptr;
  daemon_->kill_now();
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  ASSERT_EQ(kvtier_connect(daemon_->unix_address().c_str(), nullptr, 10000, &client_, nullptr, 0),
            KVTIER_OK);
  std::vector<std::byte> got(8000);
  std::size_t size = 0;
  ASSERT_EQ(kvtier_get(client_, &puts_key_1_, got.data(), got.size(), &size), KVTIER_OK);
  EXPECT_TRUE(std::equal(v1.begin(), v1.end(), got.begin()));
  const kvtier_key k2 = c_key(2);
  ASSERT_EQ(kvtier_get(client_, &k2, got.data(), got.size(), &size), KVTIER_OK);
  EXPECT_EQ(size, v2.size());
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
TEST(CApiTls, ConnectsOverTlsAsTheTenantItsCertificateNames) {
  TempDir dir;
  TestPki pki(dir.path());
  const TestPki::Pair server = pki.server("kvtierd");
  DaemonProcess d(dir.path(),
                  small_daemon_config("[server]\ntls_cert_file = \"" + server.cert +
                                      "\"\ntls_key_file = \"" + server.key +
                                      "\"\ntls_client_ca_file = \"" + pki.ca_file() +
                                      "\"\n[[tenants]]\nname = \"alice\"\n"
                                      "token = \"alice-token-0123456789\"\n"
                                      "tls_client_name = \"alice\"\n"));
  ASSERT_TRUE(d.started()) << d.log();
  const std::string address = "tls:" + d.tcp_address().substr(4);  // "tcp:..." -> "tls:..."
  const TestPki::Pair alice = pki.client("alice");

  kvtier_connect_options o;
  kvtier_connect_options_init(&o);
  o.address = address.c_str();
  o.timeout_ms = 5000;
  o.tls_ca_file = pki.ca_file().c_str();
  o.tls_cert_file = alice.cert.c_str();
  o.tls_key_file = alice.key.c_str();
  kvtier_client* c = nullptr;
  char err[256] = {0};
  ASSERT_EQ(kvtier_connect_with(&o, &c, err, sizeof err), KVTIER_OK) << err;
  const std::vector<std::byte> v = pattern(test_key(7), 100000);
  const kvtier_key k = c_key(7);
  EXPECT_EQ(kvtier_put(c, &k, v.data(), v.size()), KVTIER_OK) << kvtier_last_error(c);
  std::vector<std::byte> back(v.size());
  std::size_t size = 0;
  EXPECT_EQ(kvtier_get(c, &k, back.data(), back.size(), &size), KVTIER_OK);
  EXPECT_EQ(size, v.size());
  EXPECT_EQ(back, v);
  kvtier_close(c);

  // A CA the daemon's certificate does not chain to: refused, and the message says why.
  o.tls_ca_file = pki.other_ca_file().c_str();
  c = nullptr;
  EXPECT_NE(kvtier_connect_with(&o, &c, err, sizeof err), KVTIER_OK);
  EXPECT_EQ(c, nullptr);
  EXPECT_NE(std::string(err).find("certificate"), std::string::npos) << err;
}

TEST(CApiTls, ConnectOptionsOfAnUnknownOlderSizeAreRefused) {
  kvtier_connect_options o;
  kvtier_connect_options_init(&o);
  EXPECT_EQ(o.struct_size, sizeof(kvtier_connect_options));
  o.struct_size = 4;  // not a version of the struct
  kvtier_client* c = reinterpret_cast<kvtier_client*>(&o);  // must be reset to NULL
  char err[256] = {0};
  EXPECT_EQ(kvtier_connect_with(&o, &c, err, sizeof err), KVTIER_INVALID_ARGUMENT);
  EXPECT_EQ(c, nullptr);
  EXPECT_NE(std::string(err).find("struct_size"), std::string::npos) << err;
  EXPECT_EQ(kvtier_connect_with(nullptr, &c, err, sizeof err), KVTIER_INVALID_ARGUMENT);

  // A newer caller's struct: a tail this library does not know is refused when set, taken when
  // zero (the fields it knows are read, the connect then fails on the address alone).
  struct Newer {
    kvtier_connect_options known;
    const char* unknown_option;
  } newer{};
  kvtier_connect_options_init(&newer.known);
  newer.known.struct_size = sizeof newer;
  newer.known.address = "tcp:127.0.0.1:notaport";
  newer.unknown_option = "set";
  EXPECT_EQ(kvtier_connect_with(&newer.known, &c, err, sizeof err), KVTIER_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err).find("does not know"), std::string::npos) << err;
  newer.unknown_option = nullptr;
  EXPECT_EQ(kvtier_connect_with(&newer.known, &c, err, sizeof err), KVTIER_INVALID_ARGUMENT);
  EXPECT_NE(std::string(err).find("notaport"), std::string::npos) << err;
}

}  // namespace kvtier::testing
