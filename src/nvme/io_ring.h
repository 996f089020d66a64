// IoRing: batches of O_DIRECT reads and writes through io_uring, several in flight at once.
// RingPool hands rings to threads so any thread can run a batch without sharing a ring.
//
// Thread-safety: an IoRing is used by one thread at a time (RingPool enforces that); RingPool is
// safe for concurrent use.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "kvtier/status.h"
#include "sync/mutex.h"

namespace kvtier::nvme {

// One positioned read or write of up to three buffers (e.g. a header bounce page, the caller's
// buffer and a tail bounce page). Every buffer and length must be 4 KiB-aligned for O_DIRECT.
struct IoRequest {
  int fd = -1;
  std::uint64_t offset = 0;
  bool write = false;
  iovec iov[3] = {};
  int iov_count = 0;
  // Out: bytes transferred (== total length on success) or -errno (-ECANCELED if never run).
  std::int64_t result = 0;

  std::uint64_t length() const;
};

class IoRing {
 public:
  static Result<std::unique_ptr<IoRing>> create(unsigned queue_entries);
  ~IoRing();
  IoRing(const IoRing&) = delete;
  IoRing& operator=(const IoRing&) = delete;

  // Runs every request, keeping up to `depth` in flight, and fills in each result. Short transfers
  // are resumed where they stopped; EINTR/EAGAIN are retried. Returns the first failure (as a
  // Status naming the offset) or OK; each request's result says which ones failed.
  // `on_done(i)`, when given, is called (on this thread) as soon as requests[i] has finished,
  // successfully or not, while later requests are still in flight.
  Status run(std::span<IoRequest> requests, unsigned depth,
             const std::function<void(std::size_t)>& on_done = {});

  // True after a failure that left completions undeliverable; such a ring is not reused.
  bool broken() const { return broken_; }

 private:
  void drain(unsigned in_flight);
  explicit IoRing(unsigned queue_entries);
  struct Ring;
  std::unique_ptr<Ring> ring_;
  unsigned queue_entries_;
  bool broken_ = false;
};

class RingPool {
 public:
  explicit RingPool(unsigned queue_entries) : queue_entries_(queue_entries) {}

  // Returns the ring to the pool when destroyed.
  class Lease {
   public:
    Lease(RingPool* pool, std::unique_ptr<IoRing> ring) : pool_(pool), ring_(std::move(ring)) {}
    ~Lease();
    Lease(Lease&&) = default;
    IoRing* operator->() const { return ring_.get(); }

   private:
    RingPool* pool_;
    std::unique_ptr<IoRing> ring_;
  };

  Result<Lease> acquire();
  // IoRing::run on a leased ring. When no ring can be had, every request fails with -EIO (and
  // on_done is called for each) and the reason is returned.
  Status run(std::span<IoRequest> requests, unsigned depth,
             const std::function<void(std::size_t)>& on_done = {});

 private:
  unsigned queue_entries_;
  Mutex mu_;
  std::vector<std::unique_ptr<IoRing>> free_ KVTIER_GUARDED_BY(mu_);
};

}  // namespace kvtier::nvme
