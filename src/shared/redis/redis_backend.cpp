// The Redis / Valkey / Redis Cluster backend of the shared tier (shared_backend.h,
// docs/SHARED_REDIS.md): blocks stored as one string value each, batches pipelined per node.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "integrity/check.h"
#include "net/host_port.h"
#include "shared/redis/batch_runner.h"
#include "shared/redis/cluster_topology.h"
#include "shared/redis/connection_pool.h"
#include "shared/redis/redis_counters.h"
#include "shared/redis/redis_ops.h"
#include "shared/shared_backend.h"

namespace kvtier::shared {
namespace redis {
namespace {

// Thread-safety: every method may be called from many threads at once; state shared between
// calls is the registry's pools, the topology and the counters, each thread-safe.
class RedisBackend final : public SharedBackend {
 public:
  RedisBackend(RedisBackendConfig config, std::vector<NodeAddress> nodes);

  std::string describe() const override;
  void put_many(std::span<const SharedPut> items, std::span<Status> out,
                Deadline deadline) override;
  void get_many(std::span<const SharedGet> items, std::span<GetResult> out,
                Deadline deadline) override;
  void keep_many(std::span<const BlockId> ids, std::span<Status> out,
                 Deadline deadline) override;
  void contains_many(std::span<const BlockId> ids, std::span<Status> out,
                     Deadline deadline) override;
  Status remove(const BlockId& id, Deadline deadline) override;
  Status ping(Deadline deadline) override;
  void visit_counters(const CounterVisitor& visitor) const override { counters_.visit(visitor); }

 private:
  const RedisBackendConfig config_;
  const std::vector<NodeAddress> nodes_;  // the configured nodes, parsed
  // Declaration order is destruction order reversed: the topology's thread and the runner use
  // the registry and the counters, so those come first.
  RedisCounters counters_;
  NodeRegistry registry_;
  std::unique_ptr<ClusterTopology> topology_;  // null unless config_.cluster
  BatchRunner runner_;
};

PoolOptions pool_options(const RedisBackendConfig& c) {
  return {c.connections_per_node, c.connect_timeout, c.password};
}

RedisBackend::RedisBackend(RedisBackendConfig config, std::vector<NodeAddress> nodes)
    : config_(std::move(config)),
      nodes_(std::move(nodes)),
      registry_(pool_options(config_), counters_),
      topology_(config_.cluster ? std::make_unique<ClusterTopology>(nodes_, registry_, counters_,
                                                                    config_.connect_timeout)
                                : nullptr),
      runner_(registry_, topology_.get(), nodes_.front(), counters_) {}

std::string RedisBackend::describe() const {
  std::string out = config_.cluster ? "redis-cluster:" : "redis:";
  for (std::size_t i = 0; i < nodes_.size(); ++i) out += (i ? "," : "") + nodes_[i].text();
  return out;
}

void RedisBackend::put_many(std::span<const SharedPut> items, std::span<Status> out,
                            Deadline deadline) {
  KVTIER_CHECK(out.size() >= items.size());
  PutOp op(items, out, config_.ttl, counters_);
  std::vector<BatchItem> batch;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].value.size() > kMaxRedisValueBytes) {
      RedisCounters::add(counters_.put_errors);
      out[i] = Status::TooLarge("redis: a value of " + std::to_string(items[i].value.size()) +
                                " bytes exceeds the backend's limit of " +
                                std::to_string(kMaxRedisValueBytes));
      continue;
    }
    batch.push_back(make_item(config_.key_prefix, i, items[i].id));
  }
  runner_.run(op, std::move(batch), deadline);
}

void RedisBackend::get_many(std::span<const SharedGet> items, std::span<GetResult> out,
                            Deadline deadline) {
  KVTIER_CHECK(out.size() >= items.size());
  RedisCounters::add(counters_.gets, items.size());
  GetOp op(items, out, counters_);
  runner_.run(op, make_items(config_.key_prefix, items, [](const SharedGet& g) { return g.id; }),
              deadline);
}

void RedisBackend::contains_many(std::span<const BlockId> ids, std::span<Status> out,
                                 Deadline deadline) {
  KVTIER_CHECK(out.size() >= ids.size());
  CountKeysOp op("EXISTS", out);
  runner_.run(op, make_items(config_.key_prefix, ids), deadline);
}

// PEXPIRE restarts the key's expiry and answers whether it exists, in one round trip (without a
// TTL there is no expiry to restart: EXISTS). The value's framing is a get's to check.
void RedisBackend::keep_many(std::span<const BlockId> ids, std::span<Status> out,
                             Deadline deadline) {
  KVTIER_CHECK(out.size() >= ids.size());
  const bool expires = config_.ttl.count() > 0;
  CountKeysOp op(expires ? "PEXPIRE" : "EXISTS", out,
                 expires ? std::to_string(config_.ttl.count()) : std::string());
  runner_.run(op, make_items(config_.key_prefix, ids), deadline);
}

Status RedisBackend::remove(const BlockId& id, Deadline deadline) {
  Status out;
  CountKeysOp op("DEL", {&out, 1});
  runner_.run(op, make_items(config_.key_prefix, std::span(&id, 1)), deadline);
  return out;
}

// Standalone: PING the server. Cluster: PING every known master (sent to all, then all read);
// OK only when every one answers. A cluster with a master down fails most calls anyway (with
// cluster-require-full-coverage, the default, it answers CLUSTERDOWN everywhere), and a probe
// that passed while a master is down would close the circuit breaker onto calls that fail.
Status RedisBackend::ping(Deadline deadline) {
  std::vector<NodeAddress> targets = {nodes_.front()};
  if (topology_ != nullptr) {
    KVTIER_RETURN_IF_ERROR(topology_->wait_until_loaded(deadline));
    targets = topology_->masters();
  }
  std::sort(targets.begin(), targets.end());  // lease order: see NodeAddress
  RespPipeline cmd;
  cmd.command({"PING"});
  // Every PING that went out has its reply read (or its connection broken by the read), so no
  // connection returns to its pool with a reply still in flight.
  std::vector<std::optional<Lease>> sent(targets.size());
  Status first_failure;
  auto note = [&](const Status& s) {
    if (!s.ok() && first_failure.ok()) first_failure = s;
  };
  for (std::size_t i = 0; i < targets.size(); ++i) {
    Result<Lease> lease = registry_.pool(targets[i]).checkout(deadline);
    if (!lease.ok()) {
      note(lease.status());
      continue;
    }
    Status s = (*lease)->send(cmd, deadline);
    note(s);
    if (s.ok()) sent[i].emplace(std::move(lease.value()));
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (!sent[i]) continue;
    Result<ReplyPtr> reply = (*sent[i])->read_reply(deadline);
    if (!reply.ok()) {
      note(reply.status());
    } else if (reply.value()->type != REDIS_REPLY_STATUS) {
      const char* text = reply.value()->str != nullptr ? reply.value()->str : "unexpected reply";
      note(Status::IOError("redis " + targets[i].text() + ": PING: " + text));
    }
  }
  if (!first_failure.ok() && topology_ != nullptr) topology_->request_refresh();
  return first_failure;
}

}  // namespace
}  // namespace redis

Result<std::unique_ptr<SharedBackend>> open_redis_backend(const RedisBackendConfig& config) {
  KVTIER_RETURN_IF_ERROR(config.validate());
  std::vector<redis::NodeAddress> nodes;
  for (const std::string& text : config.nodes) {
    Result<net::HostPort> hp = net::parse_host_port(text);  // validated above
    nodes.push_back({hp->host, hp->port});
  }
  return std::unique_ptr<SharedBackend>(
      std::make_unique<redis::RedisBackend>(config, std::move(nodes)));
}

}  // namespace kvtier::shared
