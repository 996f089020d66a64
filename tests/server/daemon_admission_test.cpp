// Admission through the real kvtierd (issue 25, item 4): sockets that never say HELLO have a
// budget of their own (server.max_pending_hello), so a flood of them, reopened as they are cut,
// takes none of the authenticated connections' slots; a client that says HELLO at once still gets
// in, one already in is served throughout, and the log is not flooded. Past HELLO, a frame must
// be completed in time (server.frame_timeout_ms) and, when configured, an idle connection is
// closed (server.idle_timeout_ms).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "kvtier/client.h"
#include "scrape/prometheus_parse.h"
#include "server/raw_wire.h"
#include "posix/unique_fd.h"
#include "support/daemon_metrics.h"
#include "support/daemon_process.h"
#include "support/silent_tcp.h"
#include "support/test_support.h"

namespace kvtier::testing::daemon_admission_test {

using Clock = std::chrono::steady_clock;

// Whether the daemon closed (or reset) the connection.
bool closed_by_peer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char byte;
  return ::recv(fd, &byte, 1, MSG_DONTWAIT) <= 0;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Before, the flood held every one of max_connections (shared by every socket) and new clients
// were refused for as long as it went on (1 of 30 got in with that rule), each refusal a log line.
TEST(DaemonAdmission, ATokenlessFloodTakesNoAuthenticatedSlot) {
  TempDir dir;
  DaemonProcess d(dir.path(),
                  small_daemon_config("[server]\nmax_connections = 64\nmax_pending_hello = 16\n"
                                      "hello_timeout_ms = 1000\n"));
  ASSERT_TRUE(d.started()) << d.log();
  const std::string token = read_file(dir.path() + "/auth-token");
  // Under TSan on 2 cores, the two attacker threads and the daemon share the CPU 5-15x slower: a
  // PING once took over 2 s there (CI, 2026-12-07). The sanitizer run checks the attack is clean,
  // the normal build checks the time (below), so only the normal build has a tight deadline.
  const auto deadline = std::chrono::milliseconds(kUnderSanitizer ? 20000 : 2000);
  ClientOptions tcp;
  tcp.address = d.tcp_address();
  tcp.token = token.substr(0, token.find_last_not_of(" \n") + 1);
  tcp.timeout = deadline;
  ClientOptions unix_client;
  unix_client.address = d.unix_address();
  unix_client.timeout = deadline;
  auto inside = Client::connect(unix_client);
  ASSERT_TRUE(inside.ok()) << inside.status().to_string();

  // The attacker: silent TCP connections, reopened as they are cut, at most 400 held, 4 s.
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> opened{0};
  std::vector<std::thread> attackers;
  for (int t = 0; t < 2; ++t) {
    attackers.emplace_back([&] {
      std::vector<UniqueFd> held;
      const auto end = Clock::now() + std::chrono::seconds(4);
      while (!stop.load() && Clock::now() < end) {
        std::erase_if(held, [](const UniqueFd& fd) { return closed_by_peer(fd.get()); });
        if (held.size() < 200) {
          UniqueFd fd = silent_tcp_connection(d.tcp_address());
          if (fd.valid()) {
            held.push_back(std::move(fd));
            ++opened;
          }
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the flood is on
  std::vector<double> inside_ms;
  int new_ok = 0, new_failed = 0;
  std::string first_failure;
  for (int i = 0; i < 30; ++i) {
    const auto t0 = Clock::now();
    Status s = (*inside)->ping();
    inside_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    EXPECT_TRUE(s.ok()) << s.to_string();
    auto fresh = Client::connect(tcp);
    if (fresh.ok() && (*fresh)->ping().ok()) {
      ++new_ok;
    } else {
      ++new_failed;
      if (first_failure.empty()) first_failure = fresh.ok() ? "ping" : fresh.status().to_string();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  for (std::thread& t : attackers) t.join();

  EXPECT_GT(opened.load(), 200u) << "the flood did not happen";
  std::sort(inside_ms.begin(), inside_ms.end());
  // The bounds on time hold in the normal build; a sanitizer build (TSan: 5-15x slower) checks
  // the same attack runs clean.
  if (!kUnderSanitizer) {
    EXPECT_LT(inside_ms[inside_ms.size() * 99 / 100], 100.0) << "p99 of PING on an open connection";
    // A new client competes with the flood for the pending budget: it gets in unless the flood
    // pushes 16 silent sockets in between its connect and its HELLO (seen 0-1 times in 30).
    EXPECT_GE(new_ok, 27) << new_ok << " new clients got in, " << new_failed
                          << " did not; first: " << first_failure;
  }
  EXPECT_LE(count_of(d.log(), "event=connection_rejected"), 2u) << "one line per 10 s at most";
  EXPECT_TRUE(poll_until(
      [&] {
        auto c = Client::connect(tcp);
        return c.ok() && (*c)->ping().ok();
      },
      std::chrono::seconds(5)));
}

// max_connections counts connections past HELLO: one more HELLO is refused with Busy, and a
// slot freed is taken again.
TEST(DaemonAdmission, AHelloPastMaxConnectionsIsRefusedWithBusy) {
  TempDir dir;
  DaemonProcess d(dir.path(), small_daemon_config("[server]\nmax_connections = 3\n"));
  ASSERT_TRUE(d.started()) << d.log();
  ClientOptions o;
  o.address = d.unix_address();
  std::vector<std::unique_ptr<Client>> in;
  for (int i = 0; i < 3; ++i) {
    auto c = Client::connect(o);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    in.push_back(std::move(*c));
  }
  auto refused = Client::connect(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kBusy) << refused.status().to_string();
  EXPECT_NE(refused.status().message().find("server.max_connections"), std::string::npos);
  in.pop_back();
  EXPECT_TRUE(poll_until([&] { return Client::connect(o).ok(); }, std::chrono::seconds(5)));
}

// Audit of issue 25: one tenant's idle connections took every slot of max_connections, and
// another tenant's HELLO was refused. Now a named tenant has at most its max_connections (half
// of the server's by default); the others still get in.
TEST(DaemonAdmission, OneTenantCannotTakeEverySlot) {
  TempDir dir;
  constexpr const char* kGreedy = "greedy-token-0123456789";
  constexpr const char* kOther = "other-token-0123456789x";
  DaemonProcess d(dir.path(),
                  small_daemon_config(std::string("[server]\nmax_connections = 8\n") +
                                      "[[tenants]]\nname = \"greedy\"\ntoken = \"" + kGreedy +
                                      "\"\n[[tenants]]\nname = \"other\"\ntoken = \"" + kOther +
                                      "\"\nmax_connections = 2\n"));
  ASSERT_TRUE(d.started()) << d.log();
  auto connect_as = [&](const char* token) {
    ClientOptions o;
    o.address = d.tcp_address();
    o.token = token;
    return Client::connect(o);
  };
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 4; ++i) {  // half of 8, the default for a named tenant
    auto c = connect_as(kGreedy);
    ASSERT_TRUE(c.ok()) << i << ": " << c.status().to_string();
    held.push_back(std::move(*c));
  }
  auto refused = connect_as(kGreedy);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kBusy);
  EXPECT_NE(refused.status().message().find("max_connections"), std::string::npos)
      << refused.status().to_string();
  for (int i = 0; i < 2; ++i) {  // its own configured limit
    auto c = connect_as(kOther);
    ASSERT_TRUE(c.ok()) << i << ": " << c.status().to_string();
    held.push_back(std::move(*c));
  }
  EXPECT_FALSE(connect_as(kOther).ok());
  EXPECT_EQ(stats_metric(d, "kvtier_connections_rejected_total", {{"reason", "tenant_max_connections"}}),
            2.0);
  held.erase(held.begin());  // a greedy connection closes: its slot is free again
  EXPECT_TRUE(poll_until([&] { return connect_as(kGreedy).ok(); }, std::chrono::seconds(5)));
}

// Issue 25, item 6: token guesses went unthrottled (~3,800 a second from one client) and unlogged.
// Now ten failures from one address block it for 10 s (its HELLOs with a token are answered Busy
// without a comparison), the failures are logged with the peer (one line per 10 s), and a client
// of another peer (the Unix socket, told apart by uid) is not affected.
TEST(DaemonAuth, TokenGuessingIsThrottledAndLoggedWithThePeer) {
  TempDir dir;
  DaemonProcess d(dir.path(), small_daemon_config());
  ASSERT_TRUE(d.started()) << d.log();
  ClientOptions guess;
  guess.address = d.tcp_address();
  guess.timeout = std::chrono::milliseconds(2000);
  int refused = 0, busy = 0;
  for (int i = 0; i < 40; ++i) {
    guess.token = "not-the-token-" + std::to_string(100000 + i);
    auto c = Client::connect(guess);
    ASSERT_FALSE(c.ok()) << "guess " << i << " got in";
    if (c.status().code() == StatusCode::kBusy) {
      ++busy;
    } else {
      ++refused;
    }
  }
  EXPECT_EQ(refused, 10) << "compared before the block";
  EXPECT_EQ(busy, 30) << "refused uncompared during the block";
  EXPECT_EQ(count_of(d.log(), "event=auth_failed"), 1u) << d.log();
  EXPECT_NE(d.log().find("event=auth_failed peer=127.0.0.1:"), std::string::npos) << d.log();
  ClientOptions local;
  local.address = d.unix_address();
  auto c = Client::connect(local);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
}

// Issue 25: what a Unix client without a token may do is decided by server.unix_token_required.
// Off (the default), the socket's access is the credential and such a client is the default
// tenant; on, it must present a token as over TCP (any tenant's process reaching the socket could
// otherwise act as the default tenant, see every tenant's STATS and use no quota).
TEST(DaemonAuth, AUnixClientWithoutATokenIsTheDefaultTenantUnlessATokenIsRequired) {
  for (bool required : {false, true}) {
    TempDir dir;
    DaemonProcess d(dir.path(), small_daemon_config(std::string("[server]\nunix_token_required = ") +
                                                    (required ? "true" : "false") + "\n"));
    ASSERT_TRUE(d.started()) << d.log();
    ClientOptions anonymous;
    anonymous.address = d.unix_address();
    auto c = Client::connect(anonymous);
    EXPECT_EQ(c.ok(), !required) << c.status().to_string();
    if (required) {
      EXPECT_NE(c.status().message().find("unix_token_required"), std::string::npos)
          << c.status().to_string();
    }
    ClientOptions with_token = anonymous;
    with_token.token = d.default_token();
    auto t = Client::connect(with_token);
    EXPECT_TRUE(t.ok()) << t.status().to_string();
  }
}

// Audit of issue 25: a PUT's body could arrive as slowly as its sender liked, holding its memory
// the whole time. Now a frame begun must be completed within server.frame_timeout_ms plus its
// data's time at 16 MiB/s; a body trickled a byte every 100 ms is cut, and what it held is given
// back. A client that sends in time is not affected.
TEST(DaemonAdmission, ABodyTrickledSlowerThanTheFrameTimeoutIsCut) {
  TempDir dir;
  DaemonProcess d(dir.path(), small_daemon_config("[server]\nframe_timeout_ms = 1000\n"));
  ASSERT_TRUE(d.started()) << d.log();
  RawWire wire(d.unix_address());
  ASSERT_TRUE(wire.hello());
  constexpr std::uint64_t kValue = 1 * kMiB;
  std::vector<std::byte> frame;
  ASSERT_TRUE(protocol::append_frame(frame, 2, protocol::PutRequest{test_key(1), kValue}, kValue)
                  .ok());
  frame.resize(frame.size() + 1000, std::byte{0x11});
  ASSERT_TRUE(wire.send_bytes(frame));
  const auto begun = Clock::now();
  bool cut = false;
  while (!cut && Clock::now() - begun < std::chrono::seconds(10)) {
    const std::byte one{0x22};
    ::send(wire.fd(), &one, 1, MSG_NOSIGNAL | MSG_DONTWAIT);  // fails once the daemon closed
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cut = closed_by_peer(wire.fd());
  }
  const double waited = std::chrono::duration<double>(Clock::now() - begun).count();
  EXPECT_TRUE(cut) << "a trickled body was not cut in 10 s";
  EXPECT_GE(waited, 0.9) << "cut before the frame timeout";
  EXPECT_LE(waited, 3.0) << "the frame timeout (1 s + 62 ms of data time) was not kept";
  EXPECT_EQ(stats_metric(d, "kvtier_connections_timed_out_total", {{"reason", "frame"}}), 1.0);
  // STATS holds a whole meta of the budget while it renders: nothing else may be held.
  EXPECT_LE(stats_metric(d, "kvtier_inflight_bytes"), protocol::kMaxMetaBytes + 64.0 * 1024);
  // A PUT sent at once, on another connection, is stored.
  ClientOptions o;
  o.address = d.unix_address();
  auto c = Client::connect(o);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE((*c)->put(test_key(2), pattern(test_key(2), kValue)).ok());
}

// server.idle_timeout_ms closes a connection with no traffic either way for that long; by default
// (0) idle connections stay.
TEST(DaemonAdmission, AnIdleConnectionIsClosedOnlyWhenConfigured) {
  TempDir dir;
  DaemonProcess d(dir.path(), small_daemon_config("[server]\nidle_timeout_ms = 500\n"));
  ASSERT_TRUE(d.started()) << d.log();
  RawWire idle(d.unix_address());
  ASSERT_TRUE(idle.hello());
  RawWire busy(d.unix_address());
  ASSERT_TRUE(busy.hello());
  const auto begun = Clock::now();
  bool cut = false;
  while (!cut && Clock::now() - begun < std::chrono::seconds(5)) {
    ASSERT_TRUE(busy.send(7, protocol::PingRequest{"still here"}));
    ASSERT_TRUE(busy.receive(std::chrono::seconds(5)).has_value()) << "a busy connection was cut";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cut = closed_by_peer(idle.fd());
  }
  EXPECT_TRUE(cut) << "an idle connection was not closed in 5 s";
  EXPECT_EQ(stats_metric(d, "kvtier_connections_timed_out_total", {{"reason", "idle"}}), 1.0);

  TempDir dir2;
  DaemonProcess keeps(dir2.path(), small_daemon_config());
  ASSERT_TRUE(keeps.started()) << keeps.log();
  RawWire stays(keeps.unix_address());
  ASSERT_TRUE(stays.hello());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(closed_by_peer(stays.fd()));
  ASSERT_TRUE(stays.send(8, protocol::PingRequest{"after a while"}));
  EXPECT_TRUE(stays.receive(std::chrono::seconds(5)).has_value());
}

}  // namespace kvtier::testing::daemon_admission_test
