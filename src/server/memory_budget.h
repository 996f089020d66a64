// MemoryBudget: the daemon-wide bound on the memory clients' requests hold outside the tiers
// (server.max_inflight_bytes): the values of PUT and PUT_MANY from their header until they are
// stored, and the data of GET and GET_MANY responses from when they are read until they are sent.
// Without it, six withheld 200 MiB PUTs or eight unread GET_MANY responses of 320 MiB each held
// gigabytes (issue 25, item 3). docs/ARCHITECTURE.md ("Memory") counts it in the RSS bound.
//
// A request that finds no room waits without reading (back-pressure), and is refused with Busy
// once it has waited kMemoryWait; one larger than the whole budget is refused at once.
//
// What a tenant holds, its values arriving and its responses together, is also within its
// share: half of the budget (or a buffer of max_value_bytes, if more), counted across its
// connections (ServerContext::TenantCounters): one tenant's withheld bodies and unread
// responses cannot take it all.
//
// The last eighth of the budget (the reserve) is for small requests alone (one that, with what its
// connection already holds, holds at most kSmallHoldBytes): clients holding large values or
// responses cannot keep a small GET or PUT of another client from running. Small requests
// pipelined unread on many connections can still take it (each connection at most
// kSmallHoldBytes of it); docs/RELIABILITY.md says so.
//
// What is counted, as the memory it takes (aligned_buffer_footprint: page rounding and slack, so
// a 1-byte value costs more than a page): a frame's data from its header, its response's frames (an estimate taken at
// the header: meta_len + 256 bytes, or a whole meta for STATS, set to the real size once built)
// and the response's data (taken by the handler as it reads) until sent.
//
// Invariant: used() is the sum of the live MemoryHolds' bytes. It exceeds limit() only by what
// responses outgrew their estimates (force_add: GET and GET_MANY frames, bounded by their
// request's meta), and holds larger than kSmallHoldBytes together stay within limit() less
// the reserve but for the same.
// Thread-safety: try_take and give are safe from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <utility>

#include "memory/aligned_buffer.h"

namespace kvtier::server {

// How long a request waits for room before it is refused: long enough to ride out a burst of
// large responses being sent, short enough that a client learns of an overload before its own
// timeouts fire.
inline constexpr std::chrono::milliseconds kMemoryWait{2'000};
// A request holding at most this much may use the reserve: a small value or a KV block of a
// small model, and a PING-sized share of the budget.
inline constexpr std::uint64_t kSmallHoldBytes = 1024 * 1024;

class MemoryBudget {
 public:
  explicit MemoryBudget(std::uint64_t limit) : limit_(limit), reserve_(limit / 8) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Takes `n` bytes if they fit beside what is held, leaving the reserve free unless `small`;
  // all or nothing.
  bool try_take(std::uint64_t n, bool small) {
    const std::uint64_t ceiling = small ? limit_ : limit_ - reserve_;
    std::uint64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (used > ceiling || n > ceiling - used) return false;
    } while (!used_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    return true;
  }
  void give(std::uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  // Takes `n` whether or not they fit: for bytes already held when they are counted (a response
  // a little larger than its estimate). Whoever does it bounds `n` (memory_budget users below).
  void force_take(std::uint64_t n) { used_.fetch_add(n, std::memory_order_relaxed); }

  std::uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  std::uint64_t limit() const { return limit_; }
  // The most one hold can ever get (a large one leaves the reserve).
  std::uint64_t largest_hold() const { return std::max(limit_ - reserve_, kSmallHoldBytes); }
  bool has_room() const { return used() < limit_; }
  // What one tenant's arriving values may hold together: half the budget, or one buffer of the
  // largest value if that is more.
  std::uint64_t tenant_share(std::uint64_t max_value_bytes) const {
    return std::min(std::max(limit_ / 2, aligned_buffer_footprint(max_value_bytes)),
                    largest_hold());
  }

 private:
  const std::uint64_t limit_;
  const std::uint64_t reserve_;
  std::atomic<std::uint64_t> used_{0};
};

// Bytes taken from a MemoryBudget, given back when the hold is released or destroyed.
class MemoryHold {
 public:
  MemoryHold() = default;
  ~MemoryHold() { release(); }
  MemoryHold(MemoryHold&& o) noexcept { *this = std::move(o); }
  MemoryHold& operator=(MemoryHold&& o) noexcept {
    if (this != &o) {
      release();
      budget_ = std::exchange(o.budget_, nullptr);
      share_ = std::exchange(o.share_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  MemoryHold(const MemoryHold&) = delete;
  MemoryHold& operator=(const MemoryHold&) = delete;

  // Takes `n` more bytes from `budget` (the same budget as before, if any), from its reserve
  // too for a small request, and within a share: `*share` (what its owner holds, e.g. a
  // tenant's values arriving) stays within `share_limit`. The share is given back with the bytes.
  // REQUIRES: the hold has no share or this one.
  bool try_add_shared(MemoryBudget& budget, std::uint64_t n, bool small,
                      std::atomic<std::uint64_t>* share, std::uint64_t share_limit) {
    std::uint64_t held = share->load(std::memory_order_relaxed);
    do {
      if (held > share_limit || n > share_limit - held) return false;
    } while (!share->compare_exchange_weak(held, held + n, std::memory_order_relaxed));
    if (!budget.try_take(n, small)) {
      share->fetch_sub(n, std::memory_order_relaxed);
      return false;
    }
    budget_ = &budget;
    if (share_ == nullptr && bytes_ > 0) share->fetch_add(bytes_, std::memory_order_relaxed);
    share_ = share;
    bytes_ += n;
    return true;
  }
  // Takes `n` more from `budget` even past its limit (MemoryBudget::force_take), and from the
  // share, if any.
  void force_add(MemoryBudget& budget, std::uint64_t n) {
    budget.force_take(n);
    budget_ = &budget;
    bytes_ += n;
    if (share_ != nullptr) share_->fetch_add(n, std::memory_order_relaxed);
  }
  // Gives back all but `keep` bytes.
  void shrink_to(std::uint64_t keep) {
    if (keep >= bytes_) return;
    budget_->give(bytes_ - keep);
    if (share_ != nullptr) share_->fetch_sub(bytes_ - keep, std::memory_order_relaxed);
    bytes_ = keep;
  }
  void release() { shrink_to(0); }
  // Moves what `other` holds into this hold (both of one budget). When one of them counts in a
  // share and the other does not (a response queued before HELLO), the share takes the other's
  // bytes too: after it, the share counts all of this hold.
  void absorb(MemoryHold&& other) {
    if (other.bytes_ == 0) return;
    budget_ = other.budget_;
    if (other.share_ != share_) {
      if (other.share_ != nullptr) other.share_->fetch_sub(other.bytes_, std::memory_order_relaxed);
      if (share_ == nullptr) share_ = other.share_;
      share_->fetch_add(share_ == other.share_ ? bytes_ + other.bytes_ : other.bytes_,
                        std::memory_order_relaxed);
    }
    bytes_ += std::exchange(other.bytes_, 0);
    other.share_ = nullptr;
  }
  std::uint64_t bytes() const { return bytes_; }

 private:
  MemoryBudget* budget_ = nullptr;
  std::atomic<std::uint64_t>* share_ = nullptr;  // try_add_shared's share, given back with bytes_
  std::uint64_t bytes_ = 0;
};

}  // namespace kvtier::server
