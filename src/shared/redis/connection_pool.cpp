// Per-node connection pools (connection_pool.h).
#include "shared/redis/connection_pool.h"
#include "sync/mutex.h"

namespace kvtier::shared::redis {

Lease::~Lease() {
  if (conn_ != nullptr) pool_->give_back(std::move(conn_));
}

Result<std::unique_ptr<RedisConnection>> NodePool::take_or_reserve(Deadline deadline) {
  MutexLock lock(mu_);
  while (true) {
    if (!idle_.empty()) {
      std::unique_ptr<RedisConnection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->idle_and_alive()) return conn;
      --open_;  // closed by the server (restart, idle timeout): drop it, look again
      continue;
    }
    if (open_ < options_.max_connections) {
      ++open_;
      return std::unique_ptr<RedisConnection>();
    }
    if (returned_.wait_until(lock.native(), deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.max_connections) {
      return Status::IOError("redis " + node_.text() + ": all " +
                             std::to_string(options_.max_connections) +
                             " connections busy until the deadline");
    }
  }
}

Result<Lease> NodePool::checkout(Deadline deadline) {
  Result<std::unique_ptr<RedisConnection>> taken = take_or_reserve(deadline);
  if (!taken.ok()) return taken.status();
  if (taken.value() != nullptr) return Lease(this, std::move(taken.value()));
  // A slot is reserved: connect without holding the lock.
  Result<std::unique_ptr<RedisConnection>> opened = RedisConnection::open(
      node_, options_.connect_timeout, options_.password, deadline, counters_);
  if (!opened.ok()) {
    release_slot();
    return opened.status();
  }
  return Lease(this, std::move(opened.value()));
}

void NodePool::release_slot() {
  {
    MutexLock lock(mu_);
    --open_;
  }
  returned_.notify_one();
}

void NodePool::give_back(std::unique_ptr<RedisConnection> conn) {
  {
    MutexLock lock(mu_);
    if (conn->broken()) {
      --open_;
    } else {
      idle_.push_back(std::move(conn));
    }
  }
  returned_.notify_one();
  // A broken connection is destroyed here, outside the lock (closing a socket is a syscall).
}

NodePool& NodeRegistry::pool(const NodeAddress& node) {
  MutexLock lock(mu_);
  std::unique_ptr<NodePool>& p = pools_[node];
  if (p == nullptr) p = std::make_unique<NodePool>(node, options_, counters_);
  return *p;
}

}  // namespace kvtier::shared::redis
