// MetricsHttpServer (see metrics_http_server.h): an event loop of non-blocking connections, each
// reading one request head, answering it and closing.
#include "server/metrics_http_server.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <vector>

#include "coding/ascii.h"
#include "metrics/counter_report.h"
#include "net/host_port.h"
#include "server/listener.h"
#include "sync/mutex.h"

namespace kvtier::server {
namespace {

using Clock = std::chrono::steady_clock;

// How often the loop looks for connections past their deadline (and at the stop flag, which
// stop() also signals by waking the loop).
constexpr std::chrono::milliseconds kExpiryTick{100};
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

// The value of header `name` (matched without case) in a request head, trimmed; nullopt when
// absent.
std::optional<std::string_view> header_value(std::string_view head, std::string_view name) {
  std::size_t pos = head.find('\n');
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    std::size_t begin = pos + 1;
    std::size_t end = head.find('\n', begin);
    std::string_view line = head.substr(begin, end == std::string_view::npos ? end : end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t colon = line.find(':');
    if (colon == name.size() &&
        std::equal(name.begin(), name.end(), line.begin(),
                   [](char a, char b) { return ascii_lower(a) == ascii_lower(b); })) {
      std::string_view v = line.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      return v;
    }
    pos = end;
  }
  return std::nullopt;
}

std::string response_text(const Response& r, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(r.code) + " " + std::string(r.reason) + "\r\n";
  out += "Content-Type: ";
  out += r.code == 200 ? MetricsHttpServer::kContentType
                       : std::string_view("text/plain; charset=utf-8");
  out += "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n";
  if (r.allow_header) out += "Allow: GET, HEAD\r\n";
  if (r.code == 401) out += "WWW-Authenticate: Bearer realm=\"kvtierd\"\r\n";
  out += "Connection: close\r\n\r\n";
  if (!head_only) out += r.body;
  return out;
}

}  // namespace

Result<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::start(std::string_view listen,
                                                                     Render render,
                                                                     Options options) {
  if (!render) return Status::InvalidArgument("metrics server: no render function");
  Result<net::HostPort> hp = net::parse_host_port(listen);
  if (!hp.ok()) return hp.status();
  Result<std::unique_ptr<Listener>> listener = Listener::tcp(std::string(listen));
  if (!listener.ok()) return listener.status();
  Result<std::unique_ptr<EventLoop>> loop = EventLoop::create();
  if (!loop.ok()) return loop.status();
  std::unique_ptr<MetricsHttpServer> server(
      new MetricsHttpServer(std::move(listener).value(), std::move(loop).value(),
                            std::move(render), std::move(options)));
  server->loopback_ = net::is_loopback_host(hp->host);
  KVTIER_RETURN_IF_ERROR(server->loop_->add(server->listener_->fd(), EPOLLIN,
                                            [s = server.get()](std::uint32_t) { s->on_accept(); }));
  server->thread_ = std::thread([s = server.get()] { s->run(); });
  return server;
}

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<Listener> listener,
                                     std::unique_ptr<EventLoop> loop, Render render,
                                     Options options)
    : listener_(std::move(listener)),
      loop_(std::move(loop)),
      render_(std::move(render)) {
  set_bearer_token(options.bearer_token);
  address_ = listener_->address();
  if (address_.starts_with("tcp:")) address_.erase(0, 4);
  // The address ends with the port bound (Listener::tcp reads it back from the socket).
  const std::string_view port = std::string_view(address_).substr(address_.rfind(':') + 1);
  (void)std::from_chars(port.data(), port.data() + port.size(), port_);
}

MetricsHttpServer::~MetricsHttpServer() { stop(); }

void MetricsHttpServer::set_bearer_token(const std::string& token) {
  MutexLock lock(token_mu_);
  has_token_ = !token.empty();
  token_digest_ = token_digest(token);
}

void MetricsHttpServer::stop() {
  stopping_.store(true, std::memory_order_release);
  loop_->wake();
  if (thread_.joinable()) thread_.join();
  listener_.reset();  // from now on connections are refused, not queued unanswered
}

void MetricsHttpServer::visit_counters(const CounterVisitor& visitor) const {
  report_count(visitor, "metrics_http_scrapes", scrapes_);
  report_count(visitor, "metrics_http_refused", refused_);
}

void MetricsHttpServer::run() {
  while (!stopping_.load(std::memory_order_acquire)) {
    loop_->run_once(kExpiryTick);
    expire(Clock::now());
  }
  while (!connections_.empty()) close_connection(connections_.begin()->first);
  loop_->remove(listener_->fd());
}

void MetricsHttpServer::on_accept() {
  for (;;) {
    std::string peer;
    int error = 0;
    UniqueFd fd = listener_->accept(&peer, &error);
    if (!fd.valid()) {
      // Out of descriptors the listener stays readable: step back for a tick instead of spinning
      // (expire() closes idle connections meanwhile).
      if (error == EMFILE || error == ENFILE) {
        (void)loop_->modify(listener_->fd(), 0);
        paused_until_ = Clock::now() + kExpiryTick;
      }
      return;
    }
    if (connections_.size() >= kMaxConnections) close_oldest();
    const int raw = fd.get();
    auto c = std::make_unique<Connection>();
    c->fd = std::move(fd);
    c->accepted = Clock::now();
    c->deadline = c->accepted + kReadTimeout;
    if (!loop_->add(raw, EPOLLIN, [this, raw](std::uint32_t events) { on_connection(raw, events); })
             .ok()) {
      continue;  // closes here
    }
    connections_[raw] = std::move(c);
  }
}

void MetricsHttpServer::on_connection(int fd, std::uint32_t events) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  bool alive = true;
  if (!c.responded) {
    alive = read_head(c);
  } else if (c.sent < c.out.size()) {
    alive = send_response(c);
  } else if (c.drain) {
    alive = drain_input(c);
  }
  if (alive && (events & EPOLLERR) != 0) alive = false;
  if (!alive) {
    close_connection(fd);
    return;
  }
  const bool sending = c.responded && c.sent < c.out.size();
  (void)loop_->modify(fd, sending ? EPOLLOUT : EPOLLIN);
}

bool MetricsHttpServer::read_head(Connection& c) {
  char buf[2048];
  for (;;) {
    if (head_end(c.in) != std::string::npos) break;
    if (c.in.size() >= kMaxRequestBytes) {
      respond(c, 431);
      return send_response(c);
    }
    std::size_t room = std::min(sizeof buf, kMaxRequestBytes - c.in.size());
    ssize_t n = ::recv(c.fd.get(), buf, room, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // more later
    if (n <= 0) {
      // Closed (or reset) before a whole request: nobody to answer.
      if (!c.in.empty()) refused_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    c.in.append(buf, static_cast<std::size_t>(n));
  }
  respond(c, 0);
  return send_response(c);
}

void MetricsHttpServer::respond(Connection& c, int code_if_error) {
  Response response;
  bool head_only = false;
  const std::size_t end = head_end(c.in);
  if (code_if_error == 431) {
    response = error_response(431, "Request Header Fields Too Large");
  } else if (code_if_error == 408) {
    response = error_response(408, "Request Timeout");
  } else {
    // Request line: METHOD SP TARGET SP HTTP/1.x (RFC 9112 section 3).
    std::string_view head(c.in);
    std::string_view line = head.substr(0, head.find('\n'));
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
    for (char ch : method) method_ok = method_ok && is_token_char(ch);
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
        bool has_token = false;
        if (!authorized(head.substr(0, end), &has_token)) {
          response = error_response(401, "Unauthorized");
        } else {
          response.body = render_(has_token || loopback_);
          scrapes_.fetch_add(1, std::memory_order_relaxed);
        }
      } else if (path == "/") {
        response.body = std::string(kRootBody);
      } else {
        response = error_response(404, "Not Found");
      }
    }
  }
  const bool error = response.code != 200;
  if (error) refused_.fetch_add(1, std::memory_order_relaxed);
  c.out = response_text(response, head_only);
  c.responded = true;
  c.deadline = Clock::now() + kWriteTimeout;
  // A request whose bytes were not all read (a body, pipelined requests, an oversized head) gets
  // its leftovers drained so that the close does not reset the connection before the client has
  // read the response. (Not after a 408: everything the client sent has been read, and it may
  // never close.)
  c.drain = (error && response.code != 408) || (end != std::string::npos && end < c.in.size());
  c.in.clear();
  c.in.shrink_to_fit();
}

bool MetricsHttpServer::authorized(std::string_view head, bool* has_token) const {
  TokenDigest expected;
  {
    MutexLock lock(token_mu_);
    *has_token = has_token_;
    expected = token_digest_;
  }
  if (!*has_token) return true;
  std::optional<std::string_view> v = header_value(head, "Authorization");
  if (!v || v->size() < 7) return false;
  std::string_view scheme = v->substr(0, 7);
  if (!std::equal(scheme.begin(), scheme.end(), "bearer ",
                  [](char a, char b) { return ascii_lower(a) == b; })) {
    return false;
  }
  return token_matches(expected, v->substr(7));
}

bool MetricsHttpServer::send_response(Connection& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // EPOLLOUT
    return false;  // the client went away
  }
  if (!c.drain) return false;  // done: close
  ::shutdown(c.fd.get(), SHUT_WR);  // the response is complete: the client sees EOF after it
  c.deadline = Clock::now() + kDrainTime;
  return drain_input(c);
}

bool MetricsHttpServer::drain_input(Connection& c) {
  char buf[4096];
  while (c.drained < kMaxDrainBytes) {
    ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;  // EOF (the client closed after reading) or an error
    c.drained += static_cast<std::size_t>(n);
  }
  return false;
}

void MetricsHttpServer::expire(Clock::time_point now) {
  if (paused_until_ != Clock::time_point{} && now >= paused_until_) {
    paused_until_ = {};
    (void)loop_->modify(listener_->fd(), EPOLLIN);
  }
  std::vector<int> late;
  for (auto& [fd, c] : connections_) {
    if (now >= c->deadline) late.push_back(fd);
  }
  for (int fd : late) {
    Connection& c = *connections_.at(fd);
    if (c.responded) {  // the response or the drain took too long
      close_connection(fd);
      continue;
    }
    // The head did not come in time: say so (best effort: a socket that takes nothing is closed).
    respond(c, 408);
    c.drain = false;
    if (!send_response(c)) {
      close_connection(fd);
    } else {
      (void)loop_->modify(fd, EPOLLOUT);
    }
  }
}

void MetricsHttpServer::close_oldest() {
  auto oldest = std::min_element(connections_.begin(), connections_.end(), [](auto& a, auto& b) {
    return a.second->accepted < b.second->accepted;
  });
  if (oldest == connections_.end()) return;
  refused_.fetch_add(1, std::memory_order_relaxed);
  close_connection(oldest->first);
}

void MetricsHttpServer::close_connection(int fd) {
  loop_->remove(fd);
  connections_.erase(fd);
}

}  // namespace kvtier::server
