// BufferPool: keeps freed AlignedBuffers for reuse by size. A cache that is full frees one block
// for every block it stores; handing the freed buffer to the next put saves the kernel from
// zeroing and faulting in fresh pages on every put (measured: most of a put's time otherwise).
// KV blocks of one model all have the same size, so exact-size reuse is the common case.
//
// Thread-safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "memory/aligned_buffer.h"
#include "sync/mutex.h"

namespace kvtier {

class BufferPool {
 public:
  // Holds at most `limit_bytes` of idle buffers.
  explicit BufferPool(std::uint64_t limit_bytes) : limit_(limit_bytes) {}

  // A buffer of round_up_to_page(size) bytes: a pooled one if there is one, else a new one
  // (empty() when allocation fails).
  AlignedBuffer take(std::size_t size) {
    std::size_t rounded = round_up_to_page(size ? size : 1);
    {
      MutexLock lock(mu_);
      auto it = idle_.find(rounded);
      if (it != idle_.end() && !it->second.empty()) {
        AlignedBuffer b = std::move(it->second.back());
        it->second.pop_back();
        idle_bytes_ -= b.size();
        reuses_.fetch_add(1, std::memory_order_relaxed);
        return b;
      }
      // A miss while the pool is busy holding other sizes: let those go, the workload moved on.
      if (idle_bytes_ > limit_ / 2) release_other_sizes(rounded);
    }
    return AlignedBuffer(rounded);
  }

  // Keeps `b` for reuse if there is room, else frees it.
  void give(AlignedBuffer b) {
    if (b.empty()) return;
    MutexLock lock(mu_);
    if (idle_bytes_ + b.size() > limit_) return;
    idle_bytes_ += b.size();
    idle_[b.size()].push_back(std::move(b));
  }

  std::uint64_t idle_bytes() const {
    MutexLock lock(mu_);
    return idle_bytes_;
  }
  std::uint64_t reuses() const { return reuses_.load(std::memory_order_relaxed); }

 private:
  void release_other_sizes(std::size_t keep) KVTIER_REQUIRES(mu_) {
    for (auto& [size, list] : idle_) {
      if (size == keep) continue;
      idle_bytes_ -= size * list.size();
      list.clear();
    }
  }

  const std::uint64_t limit_;
  mutable Mutex mu_;
  std::unordered_map<std::size_t, std::vector<AlignedBuffer>> idle_ KVTIER_GUARDED_BY(mu_);
  std::uint64_t idle_bytes_ KVTIER_GUARDED_BY(mu_) = 0;
  std::atomic<std::uint64_t> reuses_{0};
};

}  // namespace kvtier
