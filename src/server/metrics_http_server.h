// MetricsHttpServer: the tiny HTTP/1.1 server behind kvtierd's Prometheus endpoint. GET (or HEAD)
// /metrics answers the text the daemon's render function returns, with the exposition format's
// content type; GET / answers a one-line pointer to /metrics; other paths 404; other methods 405.
// Every response closes its connection (Connection: close), which every scraper handles.
//
// It runs on its own thread and serves one connection at a time: a scrape is a few per minute,
// and a serial loop has no state to get wrong. What keeps that safe against garbage and slow
// clients are named limits: a request head (request line and headers) of at most
// kMaxRequestBytes, read within kReadTimeout of the accept (a client that sends nothing holds the
// server for that long, then the next is served), a response written within kWriteTimeout. A
// request that breaks a limit or does not parse gets 431, 408 or 400 and is closed; nothing a
// client sends can crash the server or make it allocate more than the limit.
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

#include "kvtier/status.h"
#include "kvtier/store.h"
#include "server/unique_fd.h"

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
  // The content type of the Prometheus text exposition format, version 0.0.4.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  using Render = std::function<std::string()>;

  // Binds `listen` ("HOST:PORT", "[::1]:PORT"; port 0 = an ephemeral port, see port()) and starts
  // serving. InvalidArgument for an address parse_host_port refuses, IOError when it cannot bind.
  // Whether a non-loopback address is allowed is the caller's (the config's) decision.
  static Result<std::unique_ptr<MetricsHttpServer>> start(std::string_view listen, Render render);

  ~MetricsHttpServer();  // stop()
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The port actually bound.
  std::uint16_t port() const { return port_; }
  // "127.0.0.1:7421" or "[::1]:7421" (HOST:PORT, no scheme) with the port actually bound.
  const std::string& address() const { return address_; }

  // Abandons a connection in progress, joins the thread and closes the listening socket (later
  // connections are refused). Prompt: the thread waits in poll() on a wake-up eventfd as well.
  // Idempotent.
  void stop();

  // metrics_http_scrapes (GET /metrics answered), metrics_http_refused (4xx responses and
  // connections closed for a timeout).
  void visit_counters(const CounterVisitor& visitor) const;

 private:
  MetricsHttpServer(std::unique_ptr<Listener> listener, UniqueFd wake, Render render);
  void run();
  // Serves one accepted connection to its end (or until stop()).
  void serve(int fd);
  // Waits for `events` on `fd` until `deadline`; false on timeout, stop() or error.
  bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline);
  bool send_all(int fd, std::string_view bytes);
  // After an error response: lets the client read it (a close with unread input would reset the
  // connection and lose it) by discarding what it still sends, briefly and boundedly.
  void drain_before_close(int fd);

  std::unique_ptr<Listener> listener_;
  UniqueFd wake_;  // eventfd: stop() makes it readable
  Render render_;
  std::uint16_t port_ = 0;
  std::string address_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> scrapes_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::thread thread_;
};

}  // namespace kvtier::server
