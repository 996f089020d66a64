// MetricsHttpServer: the tiny HTTP/1.1 server behind kvtierd's Prometheus endpoint. GET (or HEAD)
// /metrics answers the text the daemon's render function returns, with the exposition format's
// content type; GET / answers a one-line pointer to /metrics; other paths 404; other methods 405.
// Every response closes its connection (Connection: close), which every scraper handles.
//
// It runs one event loop on its own thread with every connection non-blocking, so a socket that
// sends nothing costs a slot and no time: a scraper is answered as soon as its request is in,
// however many idle or slow sockets are open beside it (issue 25, item 5: one idle connection used
// to hold the serial server ~2 s, ten blinded monitoring for 20 s). Named limits keep it bounded:
// kMaxConnections at once (when full, the oldest is closed for the new one), a request head of at
// most kMaxRequestBytes read within kReadTimeout of the accept, a response taken by the client
// within kWriteTimeout. A request that breaks a limit or does not parse gets 431, 408 or 400 and is
// closed; nothing a client sends can crash the server or make it allocate past the limits.
//
// Authorization (Options): with a bearer token, /metrics answers 401 unless the request carries
// "Authorization: Bearer <token>" (compared as digests, in constant time). Whether the text has
// per-tenant lines is the render function's argument: with the token when there is one; without
// one only when the listener is loopback (local access is the credential, as on the Unix socket).
//
// Thread-safety: start() and stop() from one owning thread; port() and visit_counters() from any.
// `render` runs on the server's thread, concurrently with the daemon's own threads, and must be
// safe to call from there.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <unordered_map>

#include "kvtier/status.h"
#include "kvtier/types.h"
#include "server/event_loop.h"
#include "server/token_file.h"
#include "posix/unique_fd.h"
#include "sync/mutex.h"

namespace kvtier::server {

class Listener;

class MetricsHttpServer {
 public:
  // Request line plus headers; a longer head is answered 431.
  static constexpr std::size_t kMaxRequestBytes = 8 * 1024;
  // From accept to the end of the request head; then 408 and close.
  static constexpr std::chrono::milliseconds kReadTimeout{2000};
  // For the whole response to be taken by the client.
  static constexpr std::chrono::milliseconds kWriteTimeout{2000};
  // Connections at once: a few scrapers need a handful; more are idle or hostile, and the oldest
  // goes first (a scraper sends its request at once and is answered before it is old).
  static constexpr std::size_t kMaxConnections = 256;
  // The content type of the Prometheus text exposition format, version 0.0.4.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  // Renders the metrics; `with_tenants`: include the per-tenant lines.
  using Render = std::function<std::string(bool with_tenants)>;

  struct Options {
    std::string bearer_token;  // non-empty: /metrics requires it (401 otherwise)
  };

  // Binds `listen` ("HOST:PORT", "[::1]:PORT"; port 0 = an ephemeral port, see port()) and starts
  // serving. InvalidArgument for an address parse_host_port refuses, IOError when it cannot bind.
  // Whether a non-loopback address is allowed is the caller's (the config's) decision.
  static Result<std::unique_ptr<MetricsHttpServer>> start(std::string_view listen, Render render,
                                                          Options options = {});

  ~MetricsHttpServer();  // stop()
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The port actually bound.
  std::uint16_t port() const { return port_; }
  // "127.0.0.1:7421" or "[::1]:7421" (HOST:PORT, no scheme) with the port actually bound.
  const std::string& address() const { return address_; }

  // Replaces the bearer token (empty: none) for the requests that come after (a reload).
  void set_bearer_token(const std::string& token);

  // Closes every connection, joins the thread and closes the listening socket (later connections
  // are refused). Prompt: the loop is woken. Idempotent.
  void stop();

  // metrics_http_scrapes (GET /metrics answered), metrics_http_refused (4xx responses and
  // connections closed for a timeout or for room).
  void visit_counters(const CounterVisitor& visitor) const;

 private:
  // One client, from accept to close; only the server's thread touches it.
  struct Connection {
    UniqueFd fd;
    std::chrono::steady_clock::time_point accepted;
    std::chrono::steady_clock::time_point deadline;  // to read the head, then to send
    std::string in;   // the request head so far
    std::string out;  // the response
    std::size_t sent = 0;
    bool responded = false;  // `out` is the response; now sending it
    bool drain = false;      // after sending: read and drop leftovers until EOF (bounded)
    std::size_t drained = 0;
  };

  MetricsHttpServer(std::unique_ptr<Listener> listener, std::unique_ptr<EventLoop> loop,
                    Render render, Options options);
  void run();
  void on_accept();
  void on_connection(int fd, std::uint32_t events);
  // Reads what the socket has; true while the connection goes on.
  bool read_head(Connection& c);
  // Parses the head in `c.in` and puts the response in `c.out`.
  void respond(Connection& c, int code_if_error);
  // Sends what the socket takes; true while the connection goes on.
  bool send_response(Connection& c);
  bool drain_input(Connection& c);
  // Whether the request may have /metrics: no token is configured (*has_token false), or the
  // head carries it.
  bool authorized(std::string_view head, bool* has_token) const;
  void expire(std::chrono::steady_clock::time_point now);
  void close_connection(int fd);
  void close_oldest();

  std::unique_ptr<Listener> listener_;
  std::unique_ptr<EventLoop> loop_;
  Render render_;
  mutable Mutex token_mu_;  // set_bearer_token runs on another thread than the loop
  bool has_token_ KVTIER_GUARDED_BY(token_mu_) = false;
  TokenDigest token_digest_ KVTIER_GUARDED_BY(token_mu_){};
  bool loopback_ = false;  // the listener is a loopback address
  std::chrono::steady_clock::time_point paused_until_{};  // accepting stopped by EMFILE until
  std::uint16_t port_ = 0;
  std::string address_;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;  // the server thread's
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> scrapes_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::thread thread_;
};

}  // namespace kvtier::server
