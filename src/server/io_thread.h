// IoThread: one event-driven thread of kvtierd. It accepts from the shared listeners
// (EPOLLEXCLUSIVE: the kernel wakes one thread per new connection), gives each connection it
// accepts to the thread of its group serving the fewest (itself on a tie), and runs the requests of
// the connections it owns to completion: a DRAM hit is a memcpy, an NVMe read an io_uring batch, so
// there is nothing to hand to another thread. A few such threads serve every client.
//
// Why the hand-over: EPOLLEXCLUSIVE wakes the first idle waiter, which is the same thread every
// time clients connect while the daemon is idle (workers starting together): measured, all 4 of
// a benchmark's connections on one thread at 52% CPU while the other sat idle and the machine was
// 21% idle. A connection never moves after it is handed over.
//
// Shutdown (ServerContext::draining): stop accepting, finish the requests clients sent whole,
// flush their responses, close each connection when it is quiescent, and exit when none is left
// or shutdown_timeout has passed.
//
// Thread-safety: set_group(), start() and join() from the owning thread; wake() from any thread;
// the threads of a group hand connections to each other through a mutex-guarded queue.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kvtier/status.h"
#include "server/connection.h"
#include "server/event_loop.h"
#include "server/listener.h"
#include "server/log_throttle.h"
#include "server/server_context.h"
#include "sync/mutex.h"

namespace kvtier::server {

class IoThread {
 public:
  // `index` numbers the thread in its group (ServerMetrics::io_thread_connections).
  static Result<std::unique_ptr<IoThread>> create(ServerContext& context, std::uint32_t index,
                                                  std::vector<const Listener*> listeners);
  ~IoThread();

  // The threads accepted connections are balanced over, this one included. Before start(); the
  // threads must outlive each other's run().
  void set_group(std::vector<IoThread*> group) { group_ = std::move(group); }
  void start();
  void wake() { loop_->wake(); }
  void join();

 private:
  IoThread(ServerContext& context, std::uint32_t index, std::vector<const Listener*> listeners,
           std::unique_ptr<EventLoop> loop)
      : context_(context),
        index_(index),
        listeners_(std::move(listeners)),
        loop_(std::move(loop)) {}
  void run();
  Status watch(const Listener& listener);
  void on_accept(const Listener& listener);
  void out_of_descriptors(const Listener& listener, int error);
  bool make_room_for_pending();
  void resume_accepting(std::chrono::steady_clock::time_point now, bool draining);
  void pause_accepting(std::chrono::steady_clock::time_point now);  // for kAcceptPause
  // Connections assigned to this thread: owned, or handed over and not yet adopted.
  std::atomic<std::int64_t>& assigned() { return context_.metrics.io_thread_connections[index_]; }
  IoThread& least_loaded();
  // From any thread: queues `c` for this thread and wakes it. Counted in assigned() already.
  void hand_over(std::unique_ptr<Connection> c);
  void adopt_handed_over();
  void adopt(std::unique_ptr<Connection> c);
  void on_connection_events(int fd, std::uint32_t events);
  // Runs `fd` with no epoll event (deferred work, a retry for memory): closed instead when its
  // peer is gone, as an event would have said.
  void resume_connection(int fd);
  void close_connection(int fd);
  // Hello deadlines; during shutdown, quiescent connections.
  void sweep(std::chrono::steady_clock::time_point now, bool draining);
  // Runs the connections that deferred work at their last event, once each.
  void run_deferred();

  ServerContext& context_;
  const std::uint32_t index_;
  std::vector<const Listener*> listeners_;
  std::unique_ptr<EventLoop> loop_;
  std::vector<IoThread*> group_;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::vector<int> deferred_;  // fds of connections with deferred work, for the next turn
  Mutex handed_over_mu_;
  std::vector<std::unique_ptr<Connection>> handed_over_ KVTIER_GUARDED_BY(handed_over_mu_);
  std::thread thread_;
  // EMFILE / ENFILE: this thread stops polling its listeners until accept_paused_until_ (the
  // listener stays readable while the table is full: polling it would spin). spare_fd_ is given
  // up for a moment to accept and close one waiting connection, which then learns at once.
  bool accept_paused_ = false;
  std::chrono::steady_clock::time_point accept_paused_until_{};
  UniqueFd spare_fd_;
  // One line per 10 s for what a client can cause at will (log_throttle.h).
  LogThrottle descriptors_log_{std::chrono::seconds(10)};
  LogThrottle rejections_log_{std::chrono::seconds(10)};
  LogThrottle timeouts_log_{std::chrono::seconds(10)};  // connection_timeout lines
};

}  // namespace kvtier::server
