// IoThread (see io_thread.h).
#include "server/io_thread.h"
#include "sync/mutex.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>

#include <cerrno>

#include <spdlog/spdlog.h>

namespace kvtier::server {

namespace {
// How often deadlines (HELLO, shutdown) are checked when no event arrives.
constexpr std::chrono::milliseconds kTick{100};
// How long a thread stops accepting after the descriptor table was full.
constexpr std::chrono::milliseconds kAcceptPause{100};
// Connections accepted per wakeup at most, so reading HELLOs interleaves with a flood of accepts.
constexpr int kAcceptBatch = 32;

UniqueFd open_spare_fd() { return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

// Whether `fd`'s peer is gone (EPOLLHUP / EPOLLERR), as an epoll event would say it.
std::uint32_t hangup_events(int fd) {
  pollfd p{fd, 0, 0};
  if (::poll(&p, 1, 0) <= 0) return 0;
  std::uint32_t events = 0;
  if ((p.revents & POLLHUP) != 0) events |= EPOLLHUP;
  if ((p.revents & POLLERR) != 0) events |= EPOLLERR;
  return events;
}
}  // namespace

Result<std::unique_ptr<IoThread>> IoThread::create(ServerContext& context, std::uint32_t index,
                                                   std::vector<const Listener*> listeners) {
  if (index >= kMaxIoThreads) return Status::InvalidArgument("too many I/O threads");
  Result<std::unique_ptr<EventLoop>> loop = EventLoop::create();
  if (!loop.ok()) return loop.status();
  std::unique_ptr<IoThread> t(
      new IoThread(context, index, std::move(listeners), std::move(loop).value()));
  t->spare_fd_ = open_spare_fd();
  for (const Listener* l : t->listeners_) KVTIER_RETURN_IF_ERROR(t->watch(*l));
  return t;
}

// Polls `listener` for connections; every I/O thread polls every listener, one woken per event.
Status IoThread::watch(const Listener& listener) {
  return loop_->add(listener.fd(), EPOLLIN | EPOLLEXCLUSIVE,
                    [this, &listener](std::uint32_t) { on_accept(listener); });
}

IoThread::~IoThread() { join(); }

void IoThread::start() {
  thread_ = std::thread([this] { run(); });
}

void IoThread::join() {
  if (thread_.joinable()) thread_.join();
}

void IoThread::run() {
  bool accepting = true;
  std::chrono::steady_clock::time_point deadline{};
  for (;;) {
    // Connections that left requests for this turn (Connection::has_deferred_work) run after
    // the events that are ready now, without waiting for a tick.
    loop_->run_once(deferred_.empty() ? kTick : std::chrono::milliseconds(0));
    run_deferred();
    adopt_handed_over();
    bool draining = context_.draining.load(std::memory_order_acquire);
    auto now = std::chrono::steady_clock::now();
    if (draining && accepting) {
      for (const Listener* l : listeners_) loop_->remove(l->fd());
      accepting = false;
      deadline = now + context_.config.shutdown_timeout;
    }
    resume_accepting(now, draining);
    sweep(now, draining);
    if (draining && (connections_.empty() || now >= deadline)) break;
  }
  if (!connections_.empty()) {
    spdlog::warn("event=shutdown_timeout connections={} msg=\"closing connections with requests "
                 "still in flight\"",
                 connections_.size());
  }
  while (!connections_.empty()) close_connection(connections_.begin()->first);
}

void IoThread::on_accept(const Listener& listener) {
  for (int accepted = 0; accepted < kAcceptBatch; ++accepted) {
    std::string peer;
    int error = 0;
    UniqueFd fd = listener.accept(&peer, &error);
    if (!fd.valid()) {
      if (error == EMFILE || error == ENFILE) out_of_descriptors(listener, error);
      return;
    }
    if (!make_room_for_pending()) {
      context_.metrics.count(ConnectionRejection::kPendingHello);
      std::uint64_t held_back = 0;
      if (rejections_log_.allow(std::chrono::steady_clock::now(), &held_back)) {
        spdlog::warn("event=connection_rejected reason=max_pending_hello peer={} "
                     "held_back_lines={}", peer, held_back);
      }
      continue;  // fd closes here
    }
    context_.metrics.count(context_.metrics.connections_accepted);
    spdlog::debug("event=connection_open transport={} peer={}", transport_name(listener.transport()),
                  peer);
    std::unique_ptr<net::TlsStream> tls;
    std::uint64_t client_ca_generation = 0;
    if (listener.transport() == Transport::kTcp) {
      ServerContext::TlsInUse in_use = context_.tls_in_use();
      if (in_use.context != nullptr) {
        Result<std::unique_ptr<net::TlsStream>> s =
            net::TlsStream::accept(std::move(in_use.context), fd.get());
        if (!s.ok()) continue;  // out of memory for a session: the connection closes here
        tls = std::move(s).value();
        client_ca_generation = in_use.client_ca_generation;
      }
    }
    auto conn = std::make_unique<Connection>(std::move(fd), listener.transport(), peer, context_,
                                             std::move(tls), client_ca_generation);
    IoThread& to = least_loaded();
    to.assigned().fetch_add(1, std::memory_order_relaxed);
    if (&to == this) {
      adopt(std::move(conn));
    } else {
      to.hand_over(std::move(conn));
    }
  }
}

// The descriptor table is full, and the listener stays readable while it is: this thread stops
// polling its listeners for kAcceptPause (no spinning), and one waiting connection is accepted
// with the spare descriptor and closed, so it learns at once instead of waiting in the backlog.
void IoThread::out_of_descriptors(const Listener& listener, int error) {
  const auto now = std::chrono::steady_clock::now();
  if (!spare_fd_.valid()) spare_fd_ = open_spare_fd();  // lost to another thread last time
  if (spare_fd_.valid()) {
    spare_fd_ = UniqueFd();
    std::string peer;
    int again = 0;
    UniqueFd shed = listener.accept(&peer, &again);
    if (shed.valid()) context_.metrics.count(ConnectionRejection::kNoDescriptors);
    shed = UniqueFd();
    spare_fd_ = open_spare_fd();
  }
  pause_accepting(now);
  std::uint64_t held_back = 0;
  if (descriptors_log_.allow(now, &held_back)) {
    spdlog::warn("event=accept_paused reason={} held_back_lines={} open_connections={} "
                 "msg=\"out of file descriptors: raise RLIMIT_NOFILE or lower "
                 "server.max_connections\"",
                 error == EMFILE ? "EMFILE" : "ENFILE", held_back,
                 context_.metrics.connections_open.load(std::memory_order_relaxed));
  }
}

void IoThread::resume_accepting(std::chrono::steady_clock::time_point now, bool draining) {
  if (!accept_paused_ || now < accept_paused_until_) return;
  accept_paused_ = false;
  if (draining) return;  // the drain removed them for good
  for (const Listener* l : listeners_) {
    // epoll could not take it (no memory for its entry): all of them again after a pause.
    if (!watch(*l).ok()) return pause_accepting(now);
  }
}

void IoThread::pause_accepting(std::chrono::steady_clock::time_point now) {
  if (!accept_paused_) {
    for (const Listener* l : listeners_) loop_->remove(l->fd());
  }
  accept_paused_ = true;
  accept_paused_until_ = now + kAcceptPause;
}

// Whether a new connection fits the budget of connections not yet through HELLO. When it is full,
// the oldest pending connection of this thread is closed for it: a socket that says nothing is
// the one to go, while a client that sends HELLO with its connect is through it at once (adopt()
// reads it). A scan of this thread's connections, only while the budget is full. (A FIFO of
// pending connections, and making room on the thread that holds the most, let fewer real clients
// in under a flood in the attack test: 19-26 of 30 against 29-30; see docs/RELIABILITY.md.)
bool IoThread::make_room_for_pending() {
  const auto budget = static_cast<std::int64_t>(context_.config.max_pending_hello);
  if (context_.metrics.connections_pending_hello.load(std::memory_order_relaxed) < budget) {
    return true;
  }
  int oldest = -1;
  auto oldest_at = std::chrono::steady_clock::time_point::max();
  for (const auto& [fd, c] : connections_) {
    if (c->session().tenant == nullptr && c->accepted_at() < oldest_at) {
      oldest = fd;
      oldest_at = c->accepted_at();
    }
  }
  if (oldest < 0) return false;
  context_.metrics.count(ConnectionRejection::kPendingHello);
  close_connection(oldest);
  return true;
}

IoThread& IoThread::least_loaded() {
  IoThread* best = this;
  std::int64_t least = assigned().load(std::memory_order_relaxed);
  for (IoThread* t : group_) {
    std::int64_t n = t->assigned().load(std::memory_order_relaxed);
    if (n < least) {
      best = t;
      least = n;
    }
  }
  return *best;
}

void IoThread::hand_over(std::unique_ptr<Connection> c) {
  {
    MutexLock lock(handed_over_mu_);
    handed_over_.push_back(std::move(c));
  }
  loop_->wake();
}

void IoThread::adopt_handed_over() {
  std::vector<std::unique_ptr<Connection>> mine;
  {
    MutexLock lock(handed_over_mu_);
    mine.swap(handed_over_);
  }
  for (auto& c : mine) adopt(std::move(c));
}

// Registers `c`, already counted in assigned(), with this thread's loop.
void IoThread::adopt(std::unique_ptr<Connection> c) {
  int fd = c->fd();
  Status added = loop_->add(fd, c->interest(),
                            [this, fd](std::uint32_t events) { on_connection_events(fd, events); });
  if (!added.ok()) {
    spdlog::error("event=accept_failed error=\"{}\"", added.to_string());
    assigned().fetch_sub(1, std::memory_order_relaxed);
    return;  // the connection closes here
  }
  connections_[fd] = std::move(c);
  // A client that means it sends HELLO right after connecting: read it now, so it leaves the
  // pending budget before a flood of silent sockets can push it out (make_room_for_pending).
  on_connection_events(fd, EPOLLIN);
}

void IoThread::on_connection_events(int fd, std::uint32_t events) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  if (!c.on_events(events)) {
    close_connection(fd);
    return;
  }
  if (c.has_deferred_work()) deferred_.push_back(fd);
  (void)loop_->modify(fd, c.interest());
}

// A client that closed while other connections ran must not have its buffered requests run:
// their answers cannot reach it (300 STATS of each of eight such clients kept a thread busy for
// seconds under ThreadSanitizer).
void IoThread::resume_connection(int fd) { on_connection_events(fd, hangup_events(fd)); }

void IoThread::run_deferred() {
  std::vector<int> now = std::exchange(deferred_, {});
  for (int fd : now) resume_connection(fd);
}

void IoThread::close_connection(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  const Session& s = it->second->session();
  spdlog::debug("event=connection_closed peer={} tenant={} client={}", s.peer,
                s.tenant ? s.tenant->name : "-", s.client_name);
  loop_->remove(fd);
  connections_.erase(it);
  assigned().fetch_sub(1, std::memory_order_relaxed);
}

void IoThread::sweep(std::chrono::steady_clock::time_point now, bool draining) {
  // A deadline may look missed only because this thread was busy (a long request of another
  // connection) while the bytes that meet it sat in the socket: a connection that looks overdue
  // reads what is there first, and is judged after, at `now` (the reads take time of their own).
  std::vector<int> overdue;
  for (auto& [fd, c] : connections_) {
    if (c->overdue(now) != ConnectionTimeout::kNone) overdue.push_back(fd);
  }
  for (int fd : overdue) on_connection_events(fd, EPOLLIN);
  for (int fd : overdue) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) continue;  // closed by its read
    const Connection& c = *it->second;
    const ConnectionTimeout t = c.overdue(now);
    if (t == ConnectionTimeout::kNone) continue;
    context_.metrics.count(context_.metrics.connections_timed_out[static_cast<std::size_t>(t)]);
    std::uint64_t held_back = 0;
    if (timeouts_log_.allow(now, &held_back)) {
      spdlog::info("event=connection_timeout reason={} peer={} tenant={} held_back_lines={}",
                   connection_timeout_name(t), c.session().peer,
                   c.session().tenant ? c.session().tenant->name : "-", held_back);
    }
    close_connection(fd);
  }
  std::vector<int> done;
  std::vector<int> retry;  // waiting for in-flight memory that another connection may have freed
  for (auto& [fd, c] : connections_) {
    if (draining && c->quiescent()) {
      done.push_back(fd);
    } else if (c->waiting_for_memory()) {
      retry.push_back(fd);
    }
  }
  for (int fd : done) close_connection(fd);
  for (int fd : retry) resume_connection(fd);
}

}  // namespace kvtier::server
