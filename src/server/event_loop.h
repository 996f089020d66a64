// EventLoop: one epoll instance and the callbacks of the file descriptors registered with it. Each
// kvtierd I/O thread runs one; connections never move between loops. Kept tiny on purpose (as
// Redis's ae.c): register, wait, dispatch, and a wake-up from other threads.
//
// Ordering: callbacks run on the loop's thread, in the order epoll reports readiness. A callback
// may remove any fd, including its own; events already returned for a removed fd are dropped.
//
// Thread-safety: add/modify/remove/run_once only on the loop's thread; wake() from any thread.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "kvtier/status.h"
#include "posix/unique_fd.h"

namespace kvtier::server {

class EventLoop {
 public:
  // Called with the epoll event bits (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR, ...).
  using Callback = std::function<void(std::uint32_t events)>;

  static Result<std::unique_ptr<EventLoop>> create();

  // `fd` stays owned by the caller and must stay open until remove(fd).
  Status add(int fd, std::uint32_t events, Callback callback);
  // A no-op when `events` are the ones registered already (one epoll_ctl less per request).
  Status modify(int fd, std::uint32_t events);
  void remove(int fd);

  // Waits up to `timeout` for events (or a wake()) and runs their callbacks. Returns the number of
  // callbacks run.
  int run_once(std::chrono::milliseconds timeout);

  // Makes a run_once in progress (or the next one) return promptly.
  void wake();

 private:
  EventLoop(UniqueFd epoll, UniqueFd wake) : epoll_(std::move(epoll)), wake_(std::move(wake)) {}

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd
  struct Registration {
    // Held by shared_ptr so a callback may remove its own fd while it runs.
    std::shared_ptr<Callback> callback;
    std::uint32_t events = 0;  // as epoll has them: modify() skips the syscall when unchanged
  };
  std::unordered_map<int, Registration> registrations_;
};

}  // namespace kvtier::server
