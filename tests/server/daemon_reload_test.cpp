// SIGHUP through the real kvtierd (issue 25: reload of what can change without a restart): the
// config file is read again and its tenants, tokens, quotas, log level and /metrics token applied;
// a session whose token no longer names its tenant is closed at its next request; a config that
// does not parse changes nothing.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "kvtier/client.h"
#include "scrape/metrics_url_fetch.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier::testing::daemon_reload_test {

constexpr const char* kAlice = "alice-token-0123456789";
constexpr const char* kAlice2 = "alice-token-rotated-98765";
constexpr const char* kBob = "bob-token-0123456789abc";
constexpr const char* kCarol = "carol-token-0123456789xy";

std::string tenants(const std::string& alice_token, bool bob, bool carol) {
  std::string t = "[[tenants]]\nname = \"alice\"\ntoken = \"" + alice_token + "\"\n";
  if (bob) t += "[[tenants]]\nname = \"bob\"\ntoken = \"" + std::string(kBob) + "\"\n";
  if (carol) t += "[[tenants]]\nname = \"carol\"\ntoken = \"" + std::string(kCarol) + "\"\n";
  return t;
}

std::unique_ptr<Client> connect_as(const DaemonProcess& d, const std::string& token) {
  ClientOptions o;
  o.address = d.tcp_address();
  o.token = token;
  o.timeout = std::chrono::milliseconds(3000);
  auto c = Client::connect(o);
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST(DaemonReload, TokensChangeAndRevokedSessionsAreClosed) {
  TempDir dir;
  DaemonProcess d(dir.path(), small_daemon_config("[server]\nlog_level = \"info\"\n" +
                                                  tenants(kAlice, true, false)),
                  {"--log-level", "info"});
  ASSERT_TRUE(d.started()) << d.log();
  auto alice = connect_as(d, kAlice);
  auto bob = connect_as(d, kBob);
  ClientOptions unix_options;
  unix_options.address = d.unix_address();
  auto local = Client::connect(unix_options);
  ASSERT_TRUE(alice && bob && local.ok());
  ASSERT_TRUE(alice->ping().ok());
  ASSERT_EQ(connect_as(d, kCarol), nullptr);

  std::size_t reloads = 0;
  ASSERT_TRUE(d.reload(small_daemon_config("[server]\nlog_level = \"info\"\n" +
                                              tenants(kAlice2, false, true)),
                          "event=reloaded", &reloads))
      << d.log();
  // Alice's token changed and bob is gone: their sessions end at their next request.
  EXPECT_FALSE(alice->ping().ok()) << "a session with a rotated token went on";
  EXPECT_FALSE(bob->ping().ok()) << "a removed tenant's session went on";
  EXPECT_NE(d.log().find("event=session_revoked"), std::string::npos) << d.log();
  // The Unix default tenant (no token) is still the default tenant.
  EXPECT_TRUE((*local)->ping().ok());
  // The old token is refused, the new ones work.
  EXPECT_EQ(connect_as(d, kAlice), nullptr);
  EXPECT_EQ(connect_as(d, kBob), nullptr);
  auto alice2 = connect_as(d, kAlice2);
  ASSERT_TRUE(alice2);
  EXPECT_EQ(alice2->server_info().tenant, "alice");
  auto carol = connect_as(d, kCarol);
  ASSERT_TRUE(carol);
  EXPECT_TRUE(carol->ping().ok());

  // A config that does not parse changes nothing.
  std::size_t failures = 0;
  ASSERT_TRUE(d.reload("[server\nthis is not toml", "event=reload_failed",
                          &failures))
      << d.log();
  EXPECT_TRUE(alice2->ping().ok());
  EXPECT_TRUE(connect_as(d, kCarol) != nullptr);
  EXPECT_TRUE(carol->ping().ok());
}

// The /metrics bearer token comes and goes with a reload.
TEST(DaemonReload, TheMetricsTokenIsApplied) {
  TempDir dir;
  DaemonProcess d(dir.path(), small_daemon_config(), {"--log-level", "info"});
  ASSERT_TRUE(d.started()) << d.log();
  const std::string url = "http://" + d.metrics_address() + "/metrics";
  auto scrape = [&](const std::string& token) {
    return fetch_metrics_url({url, std::chrono::seconds(10), token, ""});
  };
  EXPECT_TRUE(scrape("").ok());
  const std::string token_file = dir.file("metrics.token");
  {
    std::ofstream(token_file) << "scrape-secret-0123456789\n";
  }
  ASSERT_EQ(::chmod(token_file.c_str(), 0600), 0);
  std::size_t reloads = 0;
  ASSERT_TRUE(d.reload(small_daemon_config("[server]\nmetrics_token_file = \"" + token_file +
                                              "\"\n"),
                          "event=reloaded", &reloads))
      << d.log();
  auto refused = scrape("");
  EXPECT_NE(refused.status().message().find("401"), std::string::npos) << refused.status().to_string();
  EXPECT_TRUE(scrape("scrape-secret-0123456789").ok());
}

}  // namespace kvtier::testing::daemon_reload_test
