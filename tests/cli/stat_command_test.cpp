// `kvtier stat` as a person runs it: the built binary against a real daemon, over the Unix socket,
// TCP with a token file, and HTTP --url; --watch into a pipe (tables separated by blank lines, no
// terminal escapes); --raw; and the exit codes for an absent daemon and a bad URL.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kvtier/client.h"
#include "scrape/prometheus_parse.h"
#include "support/child_process.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier {
namespace {

using testing::run_kvtier;
using CommandResult = testing::ProcessResult;

int occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The whitespace-separated words of the line of `text` whose first word is `first`.
std::vector<std::string> row(const std::string& text, const std::string& first) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream in(line);
    std::vector<std::string> w;
    for (std::string s; in >> s;) w.push_back(s);
    if (!w.empty() && w[0] == first) return w;
  }
  return {};
}

class StatCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<testing::DaemonProcess>(dir_.path(), testing::small_daemon_config());
    ASSERT_TRUE(daemon_->started()) << daemon_->log();
    ClientOptions o;
    o.address = daemon_->unix_address();
    auto c = Client::connect(o);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    std::vector<std::byte> value(100000, std::byte{1}), back(100000);
    for (std::uint64_t i = 0; i < 3; ++i) {
      ASSERT_TRUE((*c)->put(testing::test_key(i), value).ok());
      ASSERT_TRUE((*c)->get(testing::test_key(i), back).status.ok());
    }
    EXPECT_TRUE((*c)->get(testing::test_key(99), back).status.is_not_found());
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::DaemonProcess> daemon_;
};

TEST_F(StatCommand, ShowsTheTableOverTheUnixSocket) {
  CommandResult r = run_kvtier({"stat", "--address", daemon_->unix_address()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  SCOPED_TRACE(r.out);
  EXPECT_EQ(r.out.rfind("kvtier stat: " + daemon_->unix_address() + " at ", 0), 0u);
  std::vector<std::string> put = row(r.out, "put");
  ASSERT_GE(put.size(), 6u);
  EXPECT_EQ(put[1], "3");  // count
  EXPECT_EQ(put[3], "3");  // ok
  std::vector<std::string> get = row(r.out, "get");
  ASSERT_GE(get.size(), 6u);
  EXPECT_EQ(get[1], "4");
  EXPECT_EQ(get[3], "3");
  EXPECT_EQ(get[4], "1");  // missed
  EXPECT_EQ(get[5], "0");  // failed
  EXPECT_FALSE(row(r.out, "dram").empty());
  EXPECT_FALSE(row(r.out, "connections").empty());
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos);  // not a terminal: no escapes
}

TEST_F(StatCommand, ReadsTcpWithATokenFileAndHttp) {
  CommandResult tcp = run_kvtier({"stat", "--address", daemon_->tcp_address(), "--token-file",
                                  daemon_->data_dir() + "/auth-token"});
  ASSERT_EQ(tcp.exit_code, 0) << tcp.err;
  EXPECT_FALSE(row(tcp.out, "put").empty()) << tcp.out;
  CommandResult http =
      run_kvtier({"stat", "--url", "http://" + daemon_->metrics_address() + "/metrics"});
  ASSERT_EQ(http.exit_code, 0) << http.err;
  EXPECT_EQ(row(http.out, "put").at(1), "3") << http.out;
}

TEST_F(StatCommand, WatchIntoAPipePrintsSuccessiveTables) {
  CommandResult r = run_kvtier(
      {"stat", "--address", daemon_->unix_address(), "--watch", "0.1", "--count", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(occurrences(r.out, "kvtier stat: "), 3) << r.out;
  EXPECT_EQ(occurrences(r.out, "\n\nkvtier stat: "), 2) << r.out;  // a blank line between
  EXPECT_EQ(occurrences(r.out, "over the last "), 2) << r.out;      // rates after the first
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos);
}

TEST_F(StatCommand, RawPrintsThePrometheusText) {
  CommandResult r = run_kvtier({"stat", "--address", daemon_->unix_address(), "--raw"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto m = parse_prometheus_text(r.out);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->sum("kvtier_requests_total", {{"op", "put"}, {"status", "ok"}}), 3);
  EXPECT_TRUE(m->histogram("kvtier_request_seconds", {{"op", "get"}}).has_value());
}

TEST(StatCommandErrors, ExitCodesForAnAbsentDaemonAndBadArguments) {
  testing::TempDir dir;
  CommandResult absent = run_kvtier({"stat", "--address", "unix:" + dir.file("none.sock")});
  EXPECT_EQ(absent.exit_code, 3) << absent.err;
  EXPECT_NE(absent.err.find("kvtier stat: "), std::string::npos);
  CommandResult bad_url = run_kvtier({"stat", "--url", "ftp://127.0.0.1:1/metrics"});
  EXPECT_EQ(bad_url.exit_code, 2) << bad_url.err;
  CommandResult bad_watch = run_kvtier({"stat", "--watch", "-1"});
  EXPECT_EQ(bad_watch.exit_code, 2) << bad_watch.err;
}

}  // namespace
}  // namespace kvtier
