// BatchRunner: runs one batch of single-key commands against a Redis server or a Redis Cluster.
// Items are grouped by node; each node's commands are pipelined on one connection (all sent,
// then all replies read), and every node's pipeline is sent before any is read, so a batch costs
// about one round trip whatever the number of nodes. In cluster mode a MOVED reply re-routes the
// item (and updates the slot map), an ASK reply sends it once to the named node after ASKING,
// and an item redirected more than kMaxRedirects times fails with IOError.
//
// Pipelines are cut into windows of about kWindowBytes of values, so a batch of large GETs does
// not make the server queue gigabytes of replies for one connection.
//
// Thread-safety: a BatchRunner is immutable after construction; run() may be called from many
// threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kvtier/status.h"
#include "shared/redis/cluster_topology.h"
#include "shared/redis/connection_pool.h"
#include "shared/redis/redis_connection.h"
#include "shared/redis/resp_pipeline.h"

namespace kvtier::shared::redis {

inline constexpr std::uint32_t kMaxRedirects = 5;
inline constexpr std::size_t kWindowBytes = 64u << 20;

// One command of a batch, as routed and retried.
struct BatchItem {
  std::size_t index = 0;  // position in the caller's spans
  std::string key;        // the Redis key
  std::uint16_t slot = 0;
  std::uint32_t redirects = 0;
  std::optional<NodeAddress> ask;  // the next attempt goes here, preceded by ASKING
};

// What a batch does with each item. Each item gets exactly one answer() or fail().
class BatchOp {
 public:
  virtual ~BatchOp() = default;
  // Appends the item's command (exactly one) to `pipeline`.
  virtual void encode(const BatchItem& item, RespPipeline& pipeline) = 0;
  // Value bytes the command sends or its reply returns (0 for small ones).
  virtual std::size_t weight(const BatchItem& item) const = 0;
  // The node's reply, possibly an error reply, never a redirect.
  virtual void answer(const BatchItem& item, const redisReply& reply, const NodeAddress& node) = 0;
  // No reply: no route, no connection, a broken connection, or too many redirects.
  virtual void fail(const BatchItem& item, const Status& status) = 0;
};

class BatchRunner {
 public:
  // Standalone: every item goes to `standalone`. Cluster: `topology` routes (not null).
  // Both referenced objects must outlive the runner.
  BatchRunner(NodeRegistry& registry, ClusterTopology* topology, NodeAddress standalone,
              RedisCounters& counters)
      : registry_(registry), topology_(topology), standalone_(std::move(standalone)),
        counters_(counters) {}

  void run(BatchOp& op, std::vector<BatchItem> items, Deadline deadline) const;

 private:
  struct NodeWork;
  // Groups `items` by target node (ordered by address); items without a route fail.
  std::vector<NodeWork> route(BatchOp& op, std::vector<BatchItem>& items, Deadline deadline) const;
  // One attempt of every item; returns the redirected items.
  std::vector<BatchItem> run_round(BatchOp& op, std::vector<NodeWork>& work, Deadline deadline) const;
  void send_window(BatchOp& op, NodeWork& w, Deadline deadline) const;
  void read_window(BatchOp& op, NodeWork& w, std::vector<BatchItem>& redirected,
                   Deadline deadline) const;
  // Handles one reply; true when the item was redirected (and appended to `redirected`).
  bool redirect(BatchOp& op, BatchItem& item, const redisReply& reply, const NodeAddress& node,
                std::vector<BatchItem>& redirected) const;
  void fail_rest(BatchOp& op, NodeWork& w, const Status& status) const;

  NodeRegistry& registry_;
  ClusterTopology* const topology_;
  const NodeAddress standalone_;
  RedisCounters& counters_;
};

}  // namespace kvtier::shared::redis
