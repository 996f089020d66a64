// LogThrottle: at most one log line per interval for events a client can cause at will
// (refused connections, HELLO timeouts, a full descriptor table), with the count of the lines it
// held back, so an attacker cannot flood the log or slow the daemon with it.
//
// Thread-safety: none; one per I/O thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace kvtier::server {

class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogThrottle(Clock::duration interval) : interval_(interval) {}

  // True when a line may be written at `now`; then *held_back is the number of lines held back
  // since the last one written (and the count restarts).
  bool allow(Clock::time_point now, std::uint64_t* held_back) {
    if (written_ && now - last_ < interval_) {
      ++held_back_;
      return false;
    }
    written_ = true;
    last_ = now;
    *held_back = held_back_;
    held_back_ = 0;
    return true;
  }

 private:
  const Clock::duration interval_;
  bool written_ = false;
  Clock::time_point last_{};
  std::uint64_t held_back_ = 0;
};

}  // namespace kvtier::server
