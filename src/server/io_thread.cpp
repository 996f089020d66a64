// IoThread (see io_thread.h).
#include "server/io_thread.h"

#include <spdlog/spdlog.h>

namespace kvtier::server {

namespace {
// How often deadlines (HELLO, shutdown) are checked when no event arrives.
constexpr std::chrono::milliseconds kTick{100};
}  // namespace

Result<std::unique_ptr<IoThread>> IoThread::create(ServerContext& context,
                                                   std::vector<const Listener*> listeners) {
  Result<std::unique_ptr<EventLoop>> loop = EventLoop::create();
  if (!loop.ok()) return loop.status();
  std::unique_ptr<IoThread> t(new IoThread(context, std::move(listeners), std::move(loop).value()));
  for (const Listener* l : t->listeners_) {
    IoThread* self = t.get();
    KVTIER_RETURN_IF_ERROR(t->loop_->add(l->fd(), EPOLLIN | EPOLLEXCLUSIVE,
                                         [self, l](std::uint32_t) { self->on_accept(*l); }));
  }
  return t;
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
    loop_->run_once(kTick);
    bool draining = context_.draining.load(std::memory_order_acquire);
    auto now = std::chrono::steady_clock::now();
    if (draining && accepting) {
      for (const Listener* l : listeners_) loop_->remove(l->fd());
      accepting = false;
      deadline = now + context_.config.shutdown_timeout;
    }
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
  for (;;) {
    std::string peer;
    UniqueFd fd = listener.accept(&peer);
    if (!fd.valid()) return;
    if (context_.metrics.connections_open.load(std::memory_order_relaxed) >=
        static_cast<std::int64_t>(context_.config.max_connections)) {
      context_.metrics.count(context_.metrics.connections_rejected[static_cast<std::size_t>(
          ConnectionRejection::kLimit)]);
      spdlog::warn("event=connection_rejected reason=max_connections peer={}", peer);
      continue;  // fd closes here
    }
    context_.metrics.count(context_.metrics.connections_accepted);
    int raw = fd.get();
    auto conn = std::make_unique<Connection>(std::move(fd), listener.transport(), peer, context_);
    Status added = loop_->add(raw, conn->interest(), [this, raw](std::uint32_t events) {
      on_connection_events(raw, events);
    });
    if (!added.ok()) {
      spdlog::error("event=accept_failed error=\"{}\"", added.to_string());
      continue;
    }
    spdlog::debug("event=connection_open transport={} peer={}", transport_name(listener.transport()),
                  peer);
    connections_[raw] = std::move(conn);
  }
}

void IoThread::on_connection_events(int fd, std::uint32_t events) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  if (!c.on_events(events)) {
    close_connection(fd);
    return;
  }
  (void)loop_->modify(fd, c.interest());
}

void IoThread::close_connection(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  const Session& s = it->second->session();
  spdlog::debug("event=connection_closed peer={} tenant={} client={}", s.peer,
                s.tenant ? s.tenant->name : "-", s.client_name);
  loop_->remove(fd);
  connections_.erase(it);
}

void IoThread::sweep(std::chrono::steady_clock::time_point now, bool draining) {
  std::vector<int> done;
  for (auto& [fd, c] : connections_) {
    if (c->hello_overdue(now)) {
      spdlog::info("event=hello_timeout peer={}", c->session().peer);
      done.push_back(fd);
    } else if (draining && c->quiescent()) {
      done.push_back(fd);
    }
  }
  for (int fd : done) close_connection(fd);
}

}  // namespace kvtier::server
