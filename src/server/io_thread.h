// IoThread: one event-driven thread of kvtierd. It accepts from the shared listeners (EPOLLEXCLUSIVE:
// the kernel wakes one thread per new connection), owns the connections it accepted, and runs
// their requests to completion on itself: a DRAM hit is a memcpy, an NVMe read an io_uring batch,
// so there is nothing to hand to another thread. A few such threads serve every client.
//
// Shutdown (ServerContext::draining): stop accepting, finish the requests clients sent whole,
// flush their responses, close each connection when it is quiescent, and exit when none is left
// or shutdown_timeout has passed.
//
// Thread-safety: start() and join() from the owning thread; wake() from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kvtier/status.h"
#include "server/connection.h"
#include "server/event_loop.h"
#include "server/listener.h"
#include "server/server_context.h"

namespace kvtier::server {

class IoThread {
 public:
  static Result<std::unique_ptr<IoThread>> create(ServerContext& context,
                                                  std::vector<const Listener*> listeners);
  ~IoThread();

  void start();
  void wake() { loop_->wake(); }
  void join();

 private:
  IoThread(ServerContext& context, std::vector<const Listener*> listeners,
           std::unique_ptr<EventLoop> loop)
      : context_(context), listeners_(std::move(listeners)), loop_(std::move(loop)) {}
  void run();
  void on_accept(const Listener& listener);
  void on_connection_events(int fd, std::uint32_t events);
  void close_connection(int fd);
  // Hello deadlines; during shutdown, quiescent connections.
  void sweep(std::chrono::steady_clock::time_point now, bool draining);

  ServerContext& context_;
  std::vector<const Listener*> listeners_;
  std::unique_ptr<EventLoop> loop_;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::thread thread_;
};

}  // namespace kvtier::server
