// MetricsHttpServer (see metrics_http_server.h): accept, read one request head, answer, close.
#include "server/metrics_http_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "metrics/counter_report.h"
#include "server/listener.h"

namespace kvtier::server {
namespace {

using Clock = std::chrono::steady_clock;

// How long the accept loop sleeps in poll() between checks of the stop flag; stop() also wakes
// it through the eventfd, so this only bounds a missed wake-up.
constexpr int kIdlePollMs = 1000;
// After an error response: how long, and how many bytes, the client's leftover input is drained.
constexpr std::chrono::milliseconds kDrainTime{500};
constexpr std::size_t kMaxDrainBytes = 64 * 1024;

constexpr std::string_view kRootBody = "kvtierd: Prometheus metrics are at /metrics\n";

struct Response {
  int code = 200;
  std::string_view reason = "OK";
  std::string body;
  bool allow_header = false;  // 405: say which methods are allowed
};

Response error_response(int code, std::string_view reason) {
  Response r;
  r.code = code;
  r.reason = reason;
  r.body = std::to_string(code) + " " + std::string(reason) + "\n";
  return r;
}

// The end of the request head ("\r\n\r\n", or "\n\n" from lenient clients), or npos.
std::size_t head_end(std::string_view data) {
  std::size_t crlf = data.find("\r\n\r\n");
  std::size_t lf = data.find("\n\n");
  if (crlf != std::string_view::npos && (lf == std::string_view::npos || crlf < lf)) {
    return crlf + 4;
  }
  return lf == std::string_view::npos ? lf : lf + 2;
}

bool is_token_char(char c) { return c >= 'A' && c <= 'Z'; }

}  // namespace

Result<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::start(std::string_view listen,
                                                                     Render render) {
  if (!render) return Status::InvalidArgument("metrics server: no render function");
  Result<std::unique_ptr<Listener>> listener = Listener::tcp(std::string(listen));
  if (!listener.ok()) return listener.status();
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return Status::FromErrno("eventfd", errno);
  std::unique_ptr<MetricsHttpServer> server(
      new MetricsHttpServer(std::move(listener).value(), std::move(wake), std::move(render)));
  server->thread_ = std::thread([s = server.get()] { s->run(); });
  return server;
}

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<Listener> listener, UniqueFd wake,
                                     Render render)
    : listener_(std::move(listener)), wake_(std::move(wake)), render_(std::move(render)) {
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(listener_->fd(), reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    if (bound.ss_family == AF_INET) {
      port_ = ntohs(reinterpret_cast<const sockaddr_in&>(bound).sin_port);
    } else if (bound.ss_family == AF_INET6) {
      port_ = ntohs(reinterpret_cast<const sockaddr_in6&>(bound).sin6_port);
    }
  }
  address_ = listener_->address();
  if (address_.starts_with("tcp:")) address_.erase(0, 4);
}

MetricsHttpServer::~MetricsHttpServer() { stop(); }

void MetricsHttpServer::stop() {
  stopping_.store(true, std::memory_order_release);
  std::uint64_t one = 1;
  // A full eventfd counter still leaves it readable, so a failed write loses nothing.
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  listener_.reset();  // from now on connections are refused, not queued unanswered
}

void MetricsHttpServer::visit_counters(const CounterVisitor& visitor) const {
  report_count(visitor, "metrics_http_scrapes", scrapes_);
  report_count(visitor, "metrics_http_refused", refused_);
}

void MetricsHttpServer::run() {
  while (!stopping_.load(std::memory_order_acquire)) {
    pollfd fds[2] = {{listener_->fd(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, kIdlePollMs);
    if (n < 0 && errno != EINTR) break;  // cannot happen with valid fds; do not spin
    if (n <= 0 || (fds[1].revents & POLLIN) != 0) continue;
    // Take every connection waiting, one after the other.
    while (!stopping_.load(std::memory_order_acquire)) {
      std::string peer;
      int error = 0;
      UniqueFd conn = listener_->accept(&peer, &error);
      if (!conn.valid()) {
        // Out of descriptors the listener stays readable: wait instead of polling it again.
        if (error == EMFILE || error == ENFILE) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        break;
      }
      serve(conn.get());
    }
  }
}

bool MetricsHttpServer::wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    if (stopping_.load(std::memory_order_acquire)) return false;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd fds[2] = {{fd, events, 0}, {wake_.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if ((fds[1].revents & POLLIN) != 0) return false;
    // POLLHUP/POLLERR count as ready: the following recv/send reports what happened.
    if (fds[0].revents != 0) return true;
  }
}

bool MetricsHttpServer::send_all(int fd, std::string_view bytes) {
  const Clock::time_point deadline = Clock::now() + kWriteTimeout;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd, POLLOUT, deadline)) return false;
      continue;
    }
    return false;  // the client went away
  }
  return true;
}

void MetricsHttpServer::drain_before_close(int fd) {
  ::shutdown(fd, SHUT_WR);  // the response is complete: the client sees EOF after it
  const Clock::time_point deadline = Clock::now() + kDrainTime;
  char buf[4096];
  std::size_t drained = 0;
  while (drained < kMaxDrainBytes && wait_for(fd, POLLIN, deadline)) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) return;  // EOF (the client closed after reading) or an error
    drained += static_cast<std::size_t>(n);
  }
}

void MetricsHttpServer::serve(int fd) {
  const Clock::time_point deadline = Clock::now() + kReadTimeout;
  std::string head;
  std::size_t end = std::string::npos;
  Response response;
  bool have_response = false;
  char buf[2048];
  while (!have_response) {
    end = head_end(head);
    if (end != std::string::npos) break;
    if (head.size() >= kMaxRequestBytes) {
      response = error_response(431, "Request Header Fields Too Large");
      have_response = true;
      break;
    }
    if (!wait_for(fd, POLLIN, deadline)) {
      if (stopping_.load(std::memory_order_acquire)) return;
      response = error_response(408, "Request Timeout");
      have_response = true;
      break;
    }
    std::size_t room = std::min(sizeof buf, kMaxRequestBytes - head.size());
    ssize_t n = ::recv(fd, buf, room, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) {
      // Closed (or reset) before a whole request: nobody to answer.
      if (!head.empty()) refused_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    head.append(buf, static_cast<std::size_t>(n));
  }

  bool head_only = false;
  if (!have_response) {
    // Request line: METHOD SP TARGET SP HTTP/1.x (RFC 9112 section 3).
    std::string_view line = std::string_view(head).substr(0, head.find('\n'));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t sp1 = line.find(' ');
    std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    std::string_view method, target, version;
    if (sp2 != std::string_view::npos) {
      method = line.substr(0, sp1);
      target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      version = line.substr(sp2 + 1);
    }
    bool method_ok = !method.empty();
    for (char c : method) method_ok = method_ok && is_token_char(c);
    if (!method_ok || target.empty() || target.front() != '/' ||
        target.find(' ') != std::string_view::npos ||
        (version != "HTTP/1.1" && version != "HTTP/1.0")) {
      response = error_response(400, "Bad Request");
    } else if (method != "GET" && method != "HEAD") {
      response = error_response(405, "Method Not Allowed");
      response.allow_header = true;
    } else {
      head_only = method == "HEAD";
      std::string_view path = target.substr(0, target.find('?'));
      if (path == "/metrics") {
        response.body = render_();
        scrapes_.fetch_add(1, std::memory_order_relaxed);
      } else if (path == "/") {
        response.body = std::string(kRootBody);
      } else {
        response = error_response(404, "Not Found");
      }
    }
  }

  const bool error = response.code != 200;
  if (error) refused_.fetch_add(1, std::memory_order_relaxed);
  std::string out = "HTTP/1.1 " + std::to_string(response.code) + " " +
                    std::string(response.reason) + "\r\n";
  out += "Content-Type: ";
  out += response.code == 200 ? kContentType : std::string_view("text/plain; charset=utf-8");
  out += "\r\nContent-Length: " + std::to_string(response.body.size()) + "\r\n";
  if (response.allow_header) out += "Allow: GET, HEAD\r\n";
  out += "Connection: close\r\n\r\n";
  if (!head_only) out += response.body;
  if (!send_all(fd, out)) return;
  // A request whose bytes were not all read (a body, pipelined requests, an oversized head) gets
  // its leftovers drained so that the close does not reset the connection before the client has
  // read the response.
  // (Not after a 408: everything the client sent has been read, and it may never close.)
  if ((error && response.code != 408) || (end != std::string::npos && end < head.size())) {
    drain_before_close(fd);
  }
}

}  // namespace kvtier::server
