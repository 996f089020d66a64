// ClusterTopology: the slot map of a Redis Cluster, kept current by one background thread that
// asks CLUSTER SLOTS of any reachable node (known masters first, then the configured seeds)
// whenever a call asks it to: at first use, after a MOVED, after a node stopped answering.
// Calls never wait for a refresh except while no map is known at all, and then at most until
// their own deadline; refreshes are at least kMinRefreshInterval apart, so a dead node does not
// turn every call into a round of CLUSTER SLOTS.
//
// Thread-safety: thread-safe. No lock is held across network I/O.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "kvtier/status.h"
#include "shared/redis/connection_pool.h"
#include "shared/redis/redis_counters.h"
#include "shared/redis/slot_map.h"
#include "sync/mutex.h"

namespace kvtier::shared::redis {

class ClusterTopology {
 public:
  static constexpr std::chrono::milliseconds kMinRefreshInterval{100};

  // `registry` and `counters` must outlive this object. Starts the refresher, which makes a first
  // attempt right away (without blocking the caller).
  ClusterTopology(std::vector<NodeAddress> seeds, NodeRegistry& registry, RedisCounters& counters,
                  std::chrono::milliseconds connect_timeout);
  ~ClusterTopology();  // stops and joins the refresher
  ClusterTopology(const ClusterTopology&) = delete;
  ClusterTopology& operator=(const ClusterTopology&) = delete;

  // OK when a map is known. Otherwise asks for a refresh and waits until a map is installed, an
  // attempt fails (IOError saying why) or the deadline passes (IOError).
  Status wait_until_loaded(Deadline deadline);
  std::optional<NodeAddress> node_for(std::uint16_t slot) const { return map_.node_for(slot); }
  std::vector<NodeAddress> masters() const { return map_.masters(); }
  // A MOVED redirect: routes `slot` to `node` at once and asks for a full refresh.
  void on_moved(std::uint16_t slot, const NodeAddress& node);
  // Asks the refresher for an attempt (cheap; coalesces with a pending request).
  void request_refresh();

 private:
  void run();
  // One attempt: CLUSTER SLOTS of each candidate in turn until one answers.
  Status refresh_once();
  Status refresh_from(const NodeAddress& node);
  std::vector<NodeAddress> candidates() const;

  const std::vector<NodeAddress> seeds_;
  NodeRegistry& registry_;
  RedisCounters& counters_;
  const std::chrono::milliseconds connect_timeout_;
  SlotMap map_;

  Mutex mu_;
  std::condition_variable wake_;       // the refresher waits on it
  std::condition_variable attempted_;  // callers of wait_until_loaded wait on it
  bool stop_ KVTIER_GUARDED_BY(mu_) = false;
  bool requested_ KVTIER_GUARDED_BY(mu_) = true;  // the first attempt is due at start
  std::uint64_t attempts_ KVTIER_GUARDED_BY(mu_) = 0;  // finished attempts
  Status last_failure_ KVTIER_GUARDED_BY(mu_);
  std::thread thread_;                 // last member: starts after the state it uses
};

}  // namespace kvtier::shared::redis
