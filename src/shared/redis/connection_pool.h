// NodePool: the connections to one node, at most `max_connections` open at once, opened lazily
// and reused while healthy. NodeRegistry: one NodePool per node address, created on first use.
//
// Invariants: open_ counts the idle connections plus those checked out; a connection is either
// idle (in idle_) or owned by exactly one Lease; a broken connection is never put back.
//
// Thread-safety: both classes are thread-safe. The pool's mutex is held only to take or return a
// connection, never across network I/O (connecting happens after a slot is reserved).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kvtier/status.h"
#include "shared/redis/redis_connection.h"
#include "shared/redis/redis_counters.h"
#include "sync/mutex.h"

namespace kvtier::shared::redis {

struct PoolOptions {
  std::uint32_t max_connections = 4;
  std::chrono::milliseconds connect_timeout{200};
  std::string password;
};

class NodePool;

// A checked-out connection; returns it to its pool (or discards it, when broken) on destruction.
class Lease {
 public:
  Lease(NodePool* pool, std::unique_ptr<RedisConnection> conn)
      : pool_(pool), conn_(std::move(conn)) {}
  Lease(Lease&&) = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease();
  RedisConnection& operator*() const { return *conn_; }
  RedisConnection* operator->() const { return conn_.get(); }

 private:
  NodePool* pool_;
  std::unique_ptr<RedisConnection> conn_;
};

class NodePool {
 public:
  NodePool(NodeAddress node, PoolOptions options, RedisCounters& counters)
      : node_(std::move(node)), options_(std::move(options)), counters_(counters) {}
  NodePool(const NodePool&) = delete;
  NodePool& operator=(const NodePool&) = delete;

  // An idle live connection, else a new one when fewer than max_connections are open, else waits
  // for one to come back. IOError when the connect fails or the deadline passes first.
  Result<Lease> checkout(Deadline deadline);
  const NodeAddress& node() const { return node_; }

 private:
  friend class Lease;
  void give_back(std::unique_ptr<RedisConnection> conn);
  // Takes an idle connection or reserves a slot for a new one (nullptr then); waits as needed.
  Result<std::unique_ptr<RedisConnection>> take_or_reserve(Deadline deadline);
  void release_slot();

  const NodeAddress node_;
  const PoolOptions options_;
  RedisCounters& counters_;

  Mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<RedisConnection>> idle_ KVTIER_GUARDED_BY(mu_);
  std::uint32_t open_ KVTIER_GUARDED_BY(mu_) = 0;
};

class NodeRegistry {
 public:
  NodeRegistry(PoolOptions options, RedisCounters& counters)
      : options_(std::move(options)), counters_(counters) {}
  // The pool of `node`; the reference stays valid for the registry's lifetime.
  NodePool& pool(const NodeAddress& node);

 private:
  const PoolOptions options_;
  RedisCounters& counters_;
  Mutex mu_;
  // Pools are never removed: a cluster has few nodes, and a Lease may point at any of them.
  std::map<NodeAddress, std::unique_ptr<NodePool>> pools_ KVTIER_GUARDED_BY(mu_);
};

}  // namespace kvtier::shared::redis
