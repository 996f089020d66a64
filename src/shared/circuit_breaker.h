// CircuitBreaker: whether the shared tier is worth calling. Closed (healthy) until
// `failures_to_open` calls in a row fail or overrun; then open: no reads and no uploads are sent
// (nobody waits on a dead network), only the health checker's probes, and the first probe that
// answers closes it again.
//
// Thread-safety: safe for concurrent use; closed() is one atomic load (it is on the read path).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>

#include "sync/mutex.h"

namespace kvtier::shared {

class CircuitBreaker {
 public:
  explicit CircuitBreaker(std::uint32_t failures_to_open)
      : failures_to_open_(failures_to_open == 0 ? 1 : failures_to_open) {}

  bool closed() const { return !open_.load(std::memory_order_acquire); }

  void record_success() {
    consecutive_failures_.store(0, std::memory_order_relaxed);
    if (!open_.load(std::memory_order_acquire)) return;
    {
      MutexLock lock(mu_);
      open_.store(false, std::memory_order_release);
      closes_.fetch_add(1, std::memory_order_relaxed);
    }
    changed_.notify_all();
  }

  void record_failure() {
    failures_.fetch_add(1, std::memory_order_relaxed);
    std::uint32_t n = consecutive_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n < failures_to_open_ || open_.load(std::memory_order_acquire)) return;
    {
      MutexLock lock(mu_);
      if (open_.exchange(true, std::memory_order_acq_rel)) return;
      opens_.fetch_add(1, std::memory_order_relaxed);
    }
    changed_.notify_all();
  }

  // Waits until the breaker is closed or `timeout` passes; true when closed.
  template <class Duration>
  bool wait_closed(Duration timeout) {
    MutexLock lock(mu_);
    return changed_.wait_for(lock.native(), timeout, [&] { return closed(); });
  }

  std::uint64_t opens() const { return opens_.load(std::memory_order_relaxed); }
  std::uint64_t closes() const { return closes_.load(std::memory_order_relaxed); }
  std::uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  const std::uint32_t failures_to_open_;
  std::atomic<bool> open_{false};
  std::atomic<std::uint32_t> consecutive_failures_{0};
  std::atomic<std::uint64_t> opens_{0}, closes_{0}, failures_{0};
  Mutex mu_;  // orders open/close transitions with wait_closed()
  std::condition_variable changed_;
};

}  // namespace kvtier::shared
