// WriteBudget: the NVMe admission policy's token bucket. It limits the bytes written to the SSD
// per second (endurance) and lets short bursts through. A put that finds the bucket empty is
// rejected (it becomes a cache miss later) rather than queued: the writer never waits on it.
//
// Thread-safety: safe for concurrent use.
#pragma once

#include <chrono>
#include <cstdint>

#include "sync/mutex.h"

namespace kvtier::nvme {

class WriteBudget {
 public:
  // bytes_per_second == 0 means unlimited.
  WriteBudget(double bytes_per_second, double burst_seconds)
      : rate_(bytes_per_second),
        capacity_(bytes_per_second * burst_seconds),
        tokens_(capacity_),
        last_(std::chrono::steady_clock::now()) {}

  bool unlimited() const { return rate_ <= 0; }

  // Takes `bytes` from the bucket if it holds them. A request larger than the whole burst is let
  // through when the bucket is full, so big blocks are never starved forever.
  bool try_consume(std::uint64_t bytes) {
    if (unlimited()) return true;
    MutexLock lock(mu_);
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = std::min(capacity_, tokens_ + elapsed * rate_);
    double need = static_cast<double>(bytes);
    if (need > capacity_ && tokens_ >= capacity_) need = capacity_;
    if (tokens_ < need) return false;
    tokens_ -= need;
    return true;
  }

 private:
  const double rate_;
  const double capacity_;
  Mutex mu_;
  double tokens_ KVTIER_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_ KVTIER_GUARDED_BY(mu_);
};

}  // namespace kvtier::nvme
