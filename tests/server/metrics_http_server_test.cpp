// MetricsHttpServer over real loopback sockets with a raw client: GET/HEAD /metrics, /, 404, 405,
// oversized and garbage requests, a silent client holding the server while another waits, stop()
// with a connection open; and fetch_metrics_url (kvtier stat --url) against it.
#include "server/metrics_http_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>
#include <memory>

#include <gtest/gtest.h>

#include "scrape/metrics_url_fetch.h"
#include "support/test_support.h"

namespace kvtier::server {
namespace {

using namespace std::chrono_literals;
using namespace std::string_view_literals;

// Long enough for any response on a loaded 2-core machine; bounds every wait of a test.
constexpr auto kTestDeadline = 20s;

// A blocking loopback TCP connection that speaks raw bytes.
class RawHttp {
 public:
  explicit RawHttp(std::uint16_t port, bool ipv6 = false) {
    if (ipv6) {
      fd_ = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(port);
      a.sin6_addr = in6addr_loopback;
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) close();
    } else {
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) close();
    }
  }
  ~RawHttp() { close(); }
  RawHttp(const RawHttp&) = delete;
  RawHttp& operator=(const RawHttp&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Everything the server sends until it closes (or the test deadline passes; then what came).
  std::string read_all() {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + kTestDeadline;
    char buf[8192];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

// "HTTP/1.1 404 Not Found\r\n..." -> 404; 0 when it is not a status line.
int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

std::string body_of(const std::string& response) {
  std::size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

std::string exchange(std::uint16_t port, std::string_view request) {
  RawHttp c(port);
  EXPECT_TRUE(c.connected());
  c.send(request);
  return c.read_all();
}

struct Fixture {
  std::atomic<int> renders{0};
  std::atomic<int> with_tenants{0};  // renders asked for the per-tenant lines
  std::unique_ptr<MetricsHttpServer> server;

  explicit Fixture(std::string listen = "127.0.0.1:0", MetricsHttpServer::Options options = {}) {
    auto s = MetricsHttpServer::start(
        listen,
        [this](bool tenants) {
          int n = ++renders;
          if (tenants) ++with_tenants;
          return "# TYPE kvtier_renders_total counter\nkvtier_renders_total " + std::to_string(n) +
                 "\n";
        },
        std::move(options));
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    if (s.ok()) server = std::move(s).value();
  }
  std::uint16_t port() const { return server->port(); }
};

TEST(MetricsHttpServer, GetMetricsAnswersTheRenderedText) {
  Fixture f;
  ASSERT_TRUE(f.server);
  EXPECT_NE(f.port(), 0);
  EXPECT_EQ(f.server->address(), "127.0.0.1:" + std::to_string(f.port()));
  std::string r = exchange(f.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_of(r), 200) << r;
  EXPECT_NE(r.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos);
  std::string body = body_of(r);
  EXPECT_EQ(body, "# TYPE kvtier_renders_total counter\nkvtier_renders_total 1\n");
  EXPECT_NE(r.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
  // Rendered afresh for each request; a query string is ignored; HTTP/1.0 and bare LFs work.
  EXPECT_EQ(body_of(exchange(f.port(), "GET /metrics?x=1 HTTP/1.0\n\n")),
            "# TYPE kvtier_renders_total counter\nkvtier_renders_total 2\n");
  EXPECT_EQ(kvtier::testing::counter_value(*f.server, "metrics_http_scrapes"), 2);
}

TEST(MetricsHttpServer, HeadHasTheHeadersOnly) {
  Fixture f;
  ASSERT_TRUE(f.server);
  std::string r = exchange(f.port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_of(r), 200) << r;
  EXPECT_NE(r.find("Content-Length: "), std::string::npos);
  EXPECT_EQ(body_of(r), "");
}

TEST(MetricsHttpServer, RootPointsToMetricsAndOtherPathsAre404) {
  Fixture f;
  ASSERT_TRUE(f.server);
  std::string root = exchange(f.port(), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_of(root), 200) << root;
  EXPECT_NE(body_of(root).find("/metrics"), std::string::npos);
  EXPECT_EQ(body_of(root).find('\n'), body_of(root).size() - 1);  // one line
  for (const char* path : {"/metric", "/metrics/", "/favicon.ico", "/%00"}) {
    std::string r = exchange(f.port(), std::string("GET ") + path + " HTTP/1.1\r\n\r\n");
    EXPECT_EQ(status_of(r), 404) << path << ": " << r;
  }
  EXPECT_EQ(f.renders, 0);
}

TEST(MetricsHttpServer, OtherMethodsAre405) {
  Fixture f;
  ASSERT_TRUE(f.server);
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    std::string r = exchange(f.port(), std::string(method) + " /metrics HTTP/1.1\r\n"
                                           "Content-Length: 5\r\n\r\nhello");
    EXPECT_EQ(status_of(r), 405) << method << ": " << r;
    EXPECT_NE(r.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  }
  EXPECT_EQ(f.renders, 0);
}

TEST(MetricsHttpServer, AnOversizedRequestIs431) {
  Fixture f;
  ASSERT_TRUE(f.server);
  std::string big = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(16 * 1024, 'a') + "\r\n\r\n";
  std::string r = exchange(f.port(), big);
  EXPECT_EQ(status_of(r), 431) << r.substr(0, 200);
  // Just at the limit without an end of head: also refused.
  std::string r2 = exchange(f.port(), std::string(MetricsHttpServer::kMaxRequestBytes, 'G'));
  EXPECT_EQ(status_of(r2), 431) << r2.substr(0, 200);
  EXPECT_EQ(f.renders, 0);
  EXPECT_EQ(status_of(exchange(f.port(), "GET /metrics HTTP/1.1\r\n\r\n")), 200);
}

TEST(MetricsHttpServer, GarbageIs400AndTheServerKeepsServing) {
  Fixture f;
  ASSERT_TRUE(f.server);
  const std::string_view bad[] = {
      "\r\n\r\n",
      "GET\r\n\r\n",
      "GET /metrics\r\n\r\n",
      "GET /metrics HTTP/2.0\r\n\r\n",
      "GET metrics HTTP/1.1\r\n\r\n",
      "get /metrics HTTP/1.1\r\n\r\n",
      "GET  /metrics HTTP/1.1\r\n\r\n",
      "GET /metrics HTTP/1.1 extra\r\n\r\n",
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"sv,  // a TLS ClientHello's start
      "KVTP\x01\x01\x00\x00\r\n\r\n"sv,                          // the kvtier protocol
  };
  for (std::string_view req : bad) {
    std::string r = exchange(f.port(), req);
    EXPECT_EQ(status_of(r), 400) << req << ": " << r;
  }
  // Random bytes ending in an end of head, bounded in count.
  std::uint64_t seed = 99;
  for (int i = 0; i < 30; ++i) {
    std::string junk;
    std::size_t len = kvtier::testing::splitmix64(seed) % 300;
    for (std::size_t j = 0; j < len; ++j) junk += static_cast<char>(kvtier::testing::splitmix64(seed));
    std::string r = exchange(f.port(), junk + "\r\n\r\n");
    int code = status_of(r);
    EXPECT_TRUE(code == 400 || code == 405 || code == 431) << code;
  }
  // A client that sends half a request and goes away, and one that resets.
  {
    RawHttp c(f.port());
    c.send("GET /metr");
  }
  {
    RawHttp c(f.port());
    c.send("GET /metrics HTTP/1.1\r\n\r\n");
    linger reset{1, 0};  // close() then sends RST, perhaps before the response is written
    ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  EXPECT_EQ(status_of(exchange(f.port(), "GET /metrics HTTP/1.1\r\n\r\n")), 200);
}

TEST(MetricsHttpServer, ASilentClientTimesOutAndTheNextIsServed) {
  Fixture f;
  ASSERT_TRUE(f.server);
  RawHttp silent(f.port());
  ASSERT_TRUE(silent.connected());
  // Connected first, so accepted first (the backlog is FIFO): the server is busy with it.
  std::string r = exchange(f.port(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_of(r), 200) << r;
  // The silent one was told it timed out and closed.
  std::string timed_out = silent.read_all();
  EXPECT_EQ(status_of(timed_out), 408) << timed_out;
  EXPECT_GE(kvtier::testing::counter_value(*f.server, "metrics_http_refused"), 1);
}

TEST(MetricsHttpServer, ASlowButCompleteRequestIsServed) {
  Fixture f;
  ASSERT_TRUE(f.server);
  RawHttp c(f.port());
  for (char ch : std::string("GET /metrics HTTP/1.1\r\n\r\n")) {
    c.send(std::string(1, ch));
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(status_of(c.read_all()), 200);
}

// Issue 25, item 5: one idle connection held the serial server ~2 s and ten blinded monitoring
// for 20 s. Now 300 sockets that send nothing (more than the server keeps: the oldest are closed
// for the new) leave a scraper answered at once, every time.
TEST(MetricsHttpServer, IdleSocketsDoNotDelayAScrape) {
  Fixture f;
  ASSERT_TRUE(f.server);
  std::vector<std::unique_ptr<RawHttp>> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(std::make_unique<RawHttp>(f.port()));
    ASSERT_TRUE(idle.back()->connected());
    if (i % 30 == 0) {  // scrapes among the idle sockets, not only after them
      const auto t0 = std::chrono::steady_clock::now();
      std::string r = exchange(f.port(), "GET /metrics HTTP/1.1\r\n\r\n");
      const auto took = std::chrono::steady_clock::now() - t0;
      EXPECT_EQ(status_of(r), 200) << r;
      if (!kvtier::testing::kUnderSanitizer) {
        EXPECT_LT(took, 500ms) << "a scrape waited behind " << idle.size() << " idle sockets";
      }
    }
  }
  // The last sockets may still wait in the backlog: a scrape behind them makes the server take them.
  EXPECT_EQ(status_of(exchange(f.port(), "GET /metrics HTTP/1.1\r\n\r\n")), 200);
  EXPECT_GE(kvtier::testing::counter_value(*f.server, "metrics_http_refused"),
            300 - static_cast<double>(MetricsHttpServer::kMaxConnections))
      << "past kMaxConnections the oldest idle sockets are closed";
  std::size_t closed = 0;
  for (const auto& c : idle) {
    char byte;
    if (::recv(c->fd(), &byte, 1, MSG_DONTWAIT) == 0) ++closed;
  }
  EXPECT_GE(closed, 300 - MetricsHttpServer::kMaxConnections);
}

// With a bearer token, /metrics answers 401 (with WWW-Authenticate) unless the request carries
// it, and then renders the per-tenant lines; a wrong or truncated token is refused too.
TEST(MetricsHttpServer, ABearerTokenIsRequiredWhenConfigured) {
  Fixture f("127.0.0.1:0", MetricsHttpServer::Options{"metrics-secret-0123456789"});
  ASSERT_TRUE(f.server);
  std::string none = exchange(f.port(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_of(none), 401) << none;
  EXPECT_NE(none.find("WWW-Authenticate: Bearer"), std::string::npos) << none;
  for (std::string_view wrong : {"Bearer metrics-secret-012345678", "Bearer metrics-secret-0123456789x",
                                 "Basic bWV0cmljcw==", "Bearer", "bearer  metrics-secret"}) {
    std::string r = exchange(f.port(), "GET /metrics HTTP/1.1\r\nAuthorization: " +
                                           std::string(wrong) + "\r\n\r\n");
    EXPECT_EQ(status_of(r), 401) << wrong << ": " << r;
  }
  EXPECT_EQ(f.renders, 0) << "nothing is rendered for a refused scrape";
  std::string ok = exchange(f.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                                      "authorization:  bearer metrics-secret-0123456789 \r\n\r\n");
  EXPECT_EQ(status_of(ok), 200) << ok;
  EXPECT_EQ(f.with_tenants, 1);
  EXPECT_EQ(status_of(exchange(f.port(), "GET / HTTP/1.1\r\n\r\n")), 200) << "/ needs no token";
}

// Without a token, a loopback listener serves the per-tenant lines (local access is the
// credential, as on the Unix socket).
TEST(MetricsHttpServer, ALoopbackListenerWithoutATokenServesTenantLines) {
  Fixture f;
  ASSERT_TRUE(f.server);
  EXPECT_EQ(status_of(exchange(f.port(), "GET /metrics HTTP/1.1\r\n\r\n")), 200);
  EXPECT_EQ(f.with_tenants, 1);
}

TEST(MetricsHttpServer, StopIsPromptWithAConnectionOpen) {
  Fixture f;
  ASSERT_TRUE(f.server);
  RawHttp silent(f.port());
  std::this_thread::sleep_for(100ms);
  f.server->stop();  // returns without waiting out the silent client's read timeout
  f.server->stop();  // idempotent
  EXPECT_FALSE(RawHttp(f.port()).connected());
}

TEST(MetricsHttpServer, ALargeBodyArrivesWhole) {
  std::string big;
  for (int i = 0; big.size() < 3 * 1024 * 1024; ++i) big += "kvtier_sample_" + std::to_string(i) + " 1\n";
  auto s = MetricsHttpServer::start("127.0.0.1:0", [&](bool) { return big; });
  ASSERT_TRUE(s.ok());
  std::string r = exchange((*s)->port(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_of(r), 200);
  EXPECT_TRUE(body_of(r) == big) << body_of(r).size() << " bytes of " << big.size();
}

TEST(MetricsHttpServer, ListensOnIpv6Loopback) {
  auto s = MetricsHttpServer::start("[::1]:0", [](bool) { return std::string("x 1\n"); });
  if (!s.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << s.status().to_string();
  EXPECT_EQ((*s)->address(), "[::1]:" + std::to_string((*s)->port()));
  RawHttp c((*s)->port(), /*ipv6=*/true);
  ASSERT_TRUE(c.connected());
  c.send("GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(body_of(c.read_all()), "x 1\n");
}

TEST(MetricsHttpServer, RefusesBadAddressesAndBusyPorts) {
  auto render = [](bool) { return std::string(); };
  auto bad = MetricsHttpServer::start("127.0.0.1", render);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status().to_string();
  auto no_render = MetricsHttpServer::start("127.0.0.1:0", nullptr);
  EXPECT_EQ(no_render.status().code(), StatusCode::kInvalidArgument);
  auto first = MetricsHttpServer::start("127.0.0.1:0", render);
  ASSERT_TRUE(first.ok());
  auto second = MetricsHttpServer::start("127.0.0.1:" + std::to_string((*first)->port()), render);
  EXPECT_EQ(second.status().code(), StatusCode::kIOError) << second.status().to_string();
}

MetricsFetch fetch_of(std::string url, std::string token = "") {
  return MetricsFetch{std::move(url), 10s, std::move(token), ""};
}

TEST(FetchMetricsUrl, GetsTheBodyFromTheServer) {
  Fixture f;
  ASSERT_TRUE(f.server);
  std::string base = "http://127.0.0.1:" + std::to_string(f.port());
  auto body = fetch_metrics_url(fetch_of(base + "/metrics"));
  ASSERT_TRUE(body.ok()) << body.status().to_string();
  EXPECT_EQ(*body, "# TYPE kvtier_renders_total counter\nkvtier_renders_total 1\n");
  auto missing = fetch_metrics_url(fetch_of(base + "/nope"));
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("404"), std::string::npos) << missing.status().to_string();
  for (const char* bad : {"ftp://127.0.0.1/metrics", "file:///etc/passwd", "http://[::1/"}) {
    EXPECT_FALSE(fetch_metrics_url(fetch_of(bad)).ok()) << bad;
  }
  f.server->stop();
  auto refused = fetch_metrics_url(fetch_of(base + "/metrics"));
  EXPECT_EQ(refused.status().code(), StatusCode::kIOError) << refused.status().to_string();
}

TEST(FetchMetricsUrl, SendsTheBearerToken) {
  Fixture f("127.0.0.1:0", MetricsHttpServer::Options{"metrics-secret-0123456789"});
  ASSERT_TRUE(f.server);
  const std::string url = "http://127.0.0.1:" + std::to_string(f.port()) + "/metrics";
  auto without = fetch_metrics_url(fetch_of(url));
  EXPECT_NE(without.status().message().find("401"), std::string::npos) << without.status().to_string();
  auto with = fetch_metrics_url(fetch_of(url, "metrics-secret-0123456789"));
  EXPECT_TRUE(with.ok()) << with.status().to_string();
}

// A server that answers something other than kvtierd would: chunked, malformed, truncated.
TEST(FetchMetricsUrl, HandlesChunkedAndRefusesMalformedResponses) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  socklen_t len = sizeof a;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/metrics";
  const std::string answers[] = {
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab 1\r\n1;ext=1\r\n\n\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
      "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
      "SSH-2.0-OpenSSH_9.2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "",
  };
  std::thread server([&] {
    for (const std::string& answer : answers) {
      int c = ::accept(listener, nullptr, nullptr);
      if (c < 0) return;
      std::string request;  // read the whole request head so that the close sends no RST
      char buf[4096];
      for (int reads = 0; reads < 100 && request.find("\r\n\r\n") == std::string::npos; ++reads) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        request.append(buf, static_cast<std::size_t>(n));
      }
      (void)::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  });
  auto chunked = fetch_metrics_url(fetch_of(url));
  ASSERT_TRUE(chunked.ok()) << chunked.status().to_string();
  EXPECT_EQ(*chunked, "ab 1\n");
  for (std::size_t i = 1; i < std::size(answers); ++i) {
    auto r = fetch_metrics_url(fetch_of(url));
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << i << ": " << r.status().to_string();
  }
  server.join();
  ::close(listener);
}

}  // namespace
}  // namespace kvtier::server
