// io_uring batches: submit up to `depth` requests, reap completions, resubmit short or
// interrupted ones, until every request has finished.
#include "nvme/io_ring.h"
#include "sync/mutex.h"

#include <liburing.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace kvtier::nvme {

std::uint64_t IoRequest::length() const {
  std::uint64_t n = 0;
  for (int i = 0; i < iov_count; ++i) n += iov[i].iov_len;
  return n;
}

struct IoRing::Ring {
  io_uring ring{};
  bool initialized = false;  // io_uring_queue_exit only after a successful init (it closes the fd)
};

IoRing::IoRing(unsigned queue_entries) : ring_(std::make_unique<Ring>()), queue_entries_(queue_entries) {}

IoRing::~IoRing() {
  if (ring_->initialized) io_uring_queue_exit(&ring_->ring);
}

Result<std::unique_ptr<IoRing>> IoRing::create(unsigned queue_entries) {
  std::unique_ptr<IoRing> r(new IoRing(queue_entries));
  int rc = io_uring_queue_init(queue_entries, &r->ring_->ring, 0);
  if (rc < 0) return Status::FromErrno("io_uring_queue_init", -rc);
  r->ring_->initialized = true;
  return r;
}

namespace {

// Progress of one request whose transfer may come back short and need resuming.
struct Pending {
  IoRequest* req;
  std::uint64_t done = 0;  // bytes transferred so far
  iovec iov[3];            // the remaining part of req->iov
  int iov_count = 0;
};

// Points p.iov at the bytes of p.req that are not transferred yet.
void remaining_iov(Pending& p) {
  std::uint64_t skip = p.done;
  p.iov_count = 0;
  for (int i = 0; i < p.req->iov_count; ++i) {
    iovec v = p.req->iov[i];
    if (skip >= v.iov_len) {
      skip -= v.iov_len;
      continue;
    }
    v.iov_base = static_cast<char*>(v.iov_base) + skip;
    v.iov_len -= skip;
    skip = 0;
    p.iov[p.iov_count++] = v;
  }
}

void prep(io_uring_sqe* sqe, Pending& p) {
  remaining_iov(p);
  std::uint64_t off = p.req->offset + p.done;
  if (p.req->write) {
    io_uring_prep_writev(sqe, p.req->fd, p.iov, p.iov_count, off);
  } else {
    io_uring_prep_readv(sqe, p.req->fd, p.iov, p.iov_count, off);
  }
  io_uring_sqe_set_data(sqe, &p);
}

}  // namespace

Status IoRing::run(std::span<IoRequest> requests, unsigned depth,
                   const std::function<void(std::size_t)>& on_done) {
  if (depth == 0) depth = 1;
  if (depth > queue_entries_) depth = queue_entries_;
  std::vector<Pending> pending(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    pending[i].req = &requests[i];
    requests[i].result = -ECANCELED;  // until it completes
  }
  io_uring* ring = &ring_->ring;
  std::size_t next = 0, finished = 0;
  unsigned in_flight = 0;
  Status first_error;
  std::vector<Pending*> resubmit;
  std::vector<std::size_t> done_now;          // finished in this round, not yet reported
  std::vector<bool> reported(requests.size());
  // Fills the queue: resumed requests first, then new ones.
  auto fill = [&] {
    while (in_flight < depth && (!resubmit.empty() || next < requests.size())) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (!sqe) break;
      Pending* p;
      if (!resubmit.empty()) {
        p = resubmit.back();
        resubmit.pop_back();
      } else {
        p = &pending[next++];
      }
      prep(sqe, *p);
      ++in_flight;
    }
  };
  auto report = [&](std::size_t i) {
    reported[i] = true;
    if (on_done) on_done(i);
  };
  while (finished < requests.size()) {
    fill();
    int rc = io_uring_submit_and_wait(ring, 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      // Requests already in the kernel still point at the callers' buffers and at `pending`:
      // wait them out before returning, so nothing completes into freed memory later.
      // (SQEs still waiting in the submission queue never reached the kernel.)
      drain(in_flight - std::min(in_flight, io_uring_sq_ready(ring)));
      broken_ = true;  // the unsubmitted entries stay queued: this ring must not be reused
      for (std::size_t i = 0; i < requests.size(); ++i) {
        if (!reported[i]) report(i);  // -ECANCELED unless it had completed
      }
      return Status::FromErrno("io_uring_submit", -rc);
    }
    io_uring_cqe* cqe;
    unsigned head, reaped = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
      ++reaped;
      --in_flight;
      Pending* p = static_cast<Pending*>(io_uring_cqe_get_data(cqe));
      int res = cqe->res;
      std::uint64_t total = p->req->length();
      if (res == -EINTR || res == -EAGAIN) {
        resubmit.push_back(p);
      } else if (res < 0) {
        p->req->result = res;
        ++finished;
        done_now.push_back(static_cast<std::size_t>(p - pending.data()));
        if (first_error.ok()) {
          first_error = Status::FromErrno(
              std::string(p->req->write ? "write" : "read") + " at offset " +
                  std::to_string(p->req->offset + p->done),
              -res);
        }
      } else if (res == 0 && p->done < total) {
        // End of file before the request was satisfied: the device is smaller than we think.
        p->req->result = -EIO;
        ++finished;
        done_now.push_back(static_cast<std::size_t>(p - pending.data()));
        if (first_error.ok()) {
          first_error = Status::IOError("short " + std::string(p->req->write ? "write" : "read") +
                                        " at offset " + std::to_string(p->req->offset + p->done));
        }
      } else {
        p->done += static_cast<std::uint64_t>(res);
        if (p->done < total) {
          resubmit.push_back(p);
        } else {
          p->req->result = static_cast<std::int64_t>(p->done);
          ++finished;
          done_now.push_back(static_cast<std::size_t>(p - pending.data()));
        }
      }
    }
    io_uring_cq_advance(ring, reaped);
    if (!done_now.empty()) {
      // Put the next requests in flight before the caller works on the finished ones, so the
      // device is busy meanwhile.
      fill();
      if (in_flight > 0) (void)io_uring_submit(ring);
      for (std::size_t i : done_now) report(i);
      done_now.clear();
    }
  }
  return first_error;
}

void IoRing::drain(unsigned in_flight) {
  io_uring* ring = &ring_->ring;
  while (in_flight > 0) {
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_wait_cqe(ring, &cqe);
    if (rc == -EINTR) continue;
    if (rc < 0) {
      // The ring itself is broken; it cannot deliver the completions. Keep it from being reused.
      broken_ = true;
      return;
    }
    io_uring_cqe_seen(ring, cqe);
    --in_flight;
  }
}

RingPool::Lease::~Lease() {
  if (!ring_ || ring_->broken()) return;  // a broken ring is dropped, not pooled
  MutexLock lock(pool_->mu_);
  pool_->free_.push_back(std::move(ring_));
}

Result<RingPool::Lease> RingPool::acquire() {
  {
    MutexLock lock(mu_);
    if (!free_.empty()) {
      std::unique_ptr<IoRing> r = std::move(free_.back());
      free_.pop_back();
      return Lease(this, std::move(r));
    }
  }
  Result<std::unique_ptr<IoRing>> r = IoRing::create(queue_entries_);
  if (!r.ok()) return r.status();
  return Lease(this, std::move(r).value());
}

Status RingPool::run(std::span<IoRequest> requests, unsigned depth,
                     const std::function<void(std::size_t)>& on_done) {
  Result<Lease> ring = acquire();
  if (ring.ok()) return (*ring)->run(requests, depth, on_done);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    requests[i].result = -EIO;
    if (on_done) on_done(i);
  }
  return ring.status();
}

}  // namespace kvtier::nvme
