// BlockingExecutor: a fixed set of threads for calls that may block indefinitely (a hung NFS
// mount, a frozen Redis), with a bounded queue so callers never wait for a free thread: a task
// that finds the queue full is refused and the caller treats that as a miss.
//
// Shutdown never hangs on a stuck call: the destructor waits a bounded time for the threads, then
// detaches the ones still stuck. Tasks must therefore own (by shared_ptr) everything they touch.
//
// Thread-safety: try_submit may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace kvtier::shared {

class BlockingExecutor {
 public:
  using Clock = std::chrono::steady_clock;

  // `threads` workers (>= 1); at most `max_queued` tasks wait for one.
  BlockingExecutor(std::uint32_t threads, std::size_t max_queued);
  ~BlockingExecutor();
  BlockingExecutor(const BlockingExecutor&) = delete;
  BlockingExecutor& operator=(const BlockingExecutor&) = delete;

  // Queues the task unless the queue is full or the executor is stopping (then false).
  bool try_submit(std::function<void()> task);

  // Tasks running longer than a threshold: the health checker's sign of hung calls.
  struct Overrun {
    std::uint32_t count = 0;    // workers in such a task
    Clock::time_point newest{};  // when the most recently started of them started; {} if none
  };
  Overrun running_longer_than(Clock::duration threshold) const;

  // Stops taking tasks; waits up to `grace` for running ones, then leaves stuck workers behind.
  void stop(Clock::duration grace);

 private:
  struct State;
  static void worker_loop(const std::shared_ptr<State>& s, std::size_t index);
  std::shared_ptr<State> state_;
  std::vector<std::thread> threads_;
};

}  // namespace kvtier::shared
