// The background-refreshed cluster slot map (cluster_topology.h).
#include "shared/redis/cluster_topology.h"
#include "sync/mutex.h"

#include <algorithm>

namespace kvtier::shared::redis {

ClusterTopology::ClusterTopology(std::vector<NodeAddress> seeds, NodeRegistry& registry,
                                 RedisCounters& counters,
                                 std::chrono::milliseconds connect_timeout)
    : seeds_(std::move(seeds)),
      registry_(registry),
      counters_(counters),
      connect_timeout_(connect_timeout),
      thread_([this] { run(); }) {}

ClusterTopology::~ClusterTopology() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  attempted_.notify_all();
  thread_.join();
}

void ClusterTopology::request_refresh() {
  {
    MutexLock lock(mu_);
    requested_ = true;
  }
  wake_.notify_one();
}

void ClusterTopology::on_moved(std::uint16_t slot, const NodeAddress& node) {
  map_.set_slot(slot, node);
  request_refresh();
}

Status ClusterTopology::wait_until_loaded(Deadline deadline) {
  if (map_.loaded()) return Status::Ok();
  MutexLock lock(mu_);
  // The next attempt to finish ran (at least partly) after this request.
  std::uint64_t target = attempts_ + 1;
  requested_ = true;
  wake_.notify_one();
  attempted_.wait_until(lock.native(), deadline,
                        [&]() KVTIER_REQUIRES(mu_) {
                          return stop_ || attempts_ >= target || map_.loaded();
                        });
  if (map_.loaded()) return Status::Ok();
  if (attempts_ >= target) return last_failure_;
  return Status::IOError("redis cluster: slot map unknown (no CLUSTER SLOTS answer by the deadline)");
}

void ClusterTopology::run() {
  MutexLock lock(mu_);
  while (true) {
    wake_.wait(lock.native(), [&]() KVTIER_REQUIRES(mu_) { return stop_ || requested_; });
    if (stop_) return;
    requested_ = false;
    lock.unlock();
    Status s = refresh_once();
    lock.lock();
    ++attempts_;
    if (!s.ok()) last_failure_ = s;
    attempted_.notify_all();
    // Rate limit: requests made meanwhile are served after the interval.
    if (wake_.wait_for(lock.native(), kMinRefreshInterval, [&]() KVTIER_REQUIRES(mu_) { return stop_; })) return;
  }
}

std::vector<NodeAddress> ClusterTopology::candidates() const {
  std::vector<NodeAddress> out = map_.masters();
  for (const NodeAddress& s : seeds_) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

Status ClusterTopology::refresh_once() {
  Status last = Status::IOError("redis cluster: no node to ask for CLUSTER SLOTS");
  for (const NodeAddress& node : candidates()) {
    {
      MutexLock lock(mu_);
      if (stop_) return Status::Closed("redis cluster: shutting down");
    }
    last = refresh_from(node);
    if (last.ok()) return last;
  }
  return Status::IOError("redis cluster: no node answered CLUSTER SLOTS; last: " + last.message());
}

Status ClusterTopology::refresh_from(const NodeAddress& node) {
  // Each candidate gets its own budget: one dead node must not use up the others' time.
  Deadline deadline = Clock::now() + connect_timeout_ + std::chrono::milliseconds(500);
  Result<Lease> lease = registry_.pool(node).checkout(deadline);
  if (!lease.ok()) return lease.status();
  RespPipeline cmd;
  cmd.command({"CLUSTER", "SLOTS"});
  Result<ReplyPtr> reply = (*lease)->call(cmd, deadline);
  if (!reply.ok()) return reply.status();
  if (reply.value()->type == REDIS_REPLY_ERROR) {
    return Status::IOError("redis " + node.text() + ": CLUSTER SLOTS: " + reply.value()->str);
  }
  Result<std::vector<SlotRange>> ranges = parse_cluster_slots(*reply.value(), node);
  if (!ranges.ok()) return Status::IOError("redis " + node.text() + ": " + ranges.status().message());
  map_.install(ranges.value());
  RedisCounters::add(counters_.topology_refreshes);
  return Status::Ok();
}

}  // namespace kvtier::shared::redis
