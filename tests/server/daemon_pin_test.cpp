// Pins through the real kvtierd (issue 25, item 6: pins shared one global budget, so one tenant
// could pin half of DRAM for ten minutes, and leases outlived the connection that took them):
// each tenant has a pin budget of its own, and a connection's pins end when it closes.
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kvtier/client.h"
#include "scrape/prometheus_parse.h"
#include "support/daemon_metrics.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier::testing::daemon_pin_test {

constexpr const char* kAlice = "alice-token-0123456789";
constexpr const char* kBob = "bob-token-0123456789abc";

std::unique_ptr<Client> connect_as(const DaemonProcess& d, const std::string& token) {
  ClientOptions o;
  o.address = d.tcp_address();
  o.token = token;
  auto c = Client::connect(o);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c).value() : nullptr;
}

// Puts `n` values of 1 MiB and pins each for a minute; returns how many pins were taken, and
// checks every refusal is Busy naming the tenant's budget.
int put_and_pin(Client& c, std::uint64_t first, int n) {
  int pinned = 0;
  for (int i = 0; i < n; ++i) {
    const Key k = test_key(first + i);
    EXPECT_TRUE(c.put(k, pattern(k, 1 * kMiB)).ok());
    Status s = c.pin(k, std::chrono::seconds(60));
    if (s.ok()) {
      ++pinned;
    } else {
      EXPECT_EQ(s.code(), StatusCode::kBusy) << s.to_string();
      EXPECT_NE(s.message().find("pin budget"), std::string::npos) << s.to_string();
    }
  }
  return pinned;
}

TEST(DaemonPin, EachTenantHasAPinBudgetOfItsOwn) {
  TempDir dir;
  // DRAM 64 MiB, half of it pinnable: a named tenant may pin 8 MiB by default; bob is set to 2.
  DaemonProcess d(dir.path(),
                  small_daemon_config("[[tenants]]\nname = \"alice\"\ntoken = \"" +
                                      std::string(kAlice) +
                                      "\"\n[[tenants]]\nname = \"bob\"\ntoken = \"" +
                                      std::string(kBob) + "\"\nmax_pinned_bytes = \"2MiB\"\n"));
  ASSERT_TRUE(d.started()) << d.log();
  auto alice = connect_as(d, kAlice);
  auto bob = connect_as(d, kBob);
  ASSERT_TRUE(alice && bob);
  // 1 MiB values cost 1 MiB + a page + 256 B each: 7 fit in 8 MiB, 1 in 2 MiB.
  EXPECT_EQ(put_and_pin(*alice, 100, 12), 7);
  EXPECT_EQ(put_and_pin(*bob, 200, 4), 1);
  // Alice at her budget does not take bob's: he unpins and pins again.
  ASSERT_TRUE(bob->unpin(test_key(200)).ok());
  EXPECT_TRUE(bob->pin(test_key(201), std::chrono::seconds(60)).ok());
}

TEST(DaemonPin, APinEndsWithTheConnectionThatTookIt) {
  TempDir dir;
  DaemonProcess d(dir.path(), small_daemon_config("[[tenants]]\nname = \"alice\"\ntoken = \"" +
                                                  std::string(kAlice) + "\"\n"));
  ASSERT_TRUE(d.started()) << d.log();
  {
    auto alice = connect_as(d, kAlice);
    ASSERT_TRUE(alice);
    EXPECT_EQ(put_and_pin(*alice, 100, 3), 3);
    EXPECT_GT(stats_metric(d, "kvtier_dram_pinned_bytes"), 3.0 * kMiB);
  }
  EXPECT_TRUE(poll_until([&] { return stats_metric(d, "kvtier_dram_pinned_bytes") == 0; },
                         std::chrono::seconds(5)))
      << "the leases (60 s) outlived their connection";
}

}  // namespace kvtier::testing::daemon_pin_test
