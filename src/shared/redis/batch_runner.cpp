// Routing, pipelining and redirects of one batch (batch_runner.h).
#include "shared/redis/batch_runner.h"

#include <map>

#include "shared/redis/slot_map.h"

namespace kvtier::shared::redis {

// The items of one round that go to one node.
// Invariant: items[0, next) are answered, failed or redirected; [next, window_end) are sent and
// await replies; once status is not OK every item from `next` on has failed with it.
struct BatchRunner::NodeWork {
  NodePool* pool = nullptr;
  std::vector<BatchItem> items;
  std::optional<Lease> lease;
  Status status;
  std::size_t next = 0;
  std::size_t window_end = 0;
};

void BatchRunner::run(BatchOp& op, std::vector<BatchItem> items, Deadline deadline) const {
  // Terminates: every item in `pending` after a round was redirected once more, and an item
  // redirected more than kMaxRedirects times fails instead.
  std::vector<BatchItem> pending = std::move(items);
  while (!pending.empty()) {
    std::vector<NodeWork> work = route(op, pending, deadline);
    pending = run_round(op, work, deadline);
  }
}

std::vector<BatchRunner::NodeWork> BatchRunner::route(BatchOp& op, std::vector<BatchItem>& items,
                                                      Deadline deadline) const {
  if (topology_ != nullptr) {
    Status loaded = topology_->wait_until_loaded(deadline);
    if (!loaded.ok()) {
      for (const BatchItem& item : items) op.fail(item, loaded);
      return {};
    }
  }
  std::map<NodeAddress, std::vector<BatchItem>> groups;  // ordered: see NodeAddress
  for (BatchItem& item : items) {
    std::optional<NodeAddress> node = standalone_;
    if (topology_ != nullptr) node = item.ask ? item.ask : topology_->node_for(item.slot);
    if (!node) {
      op.fail(item, Status::IOError("redis cluster: slot " + std::to_string(item.slot) +
                                    " has no known master"));
      topology_->request_refresh();
      continue;
    }
    groups[*node].push_back(std::move(item));
  }
  std::vector<NodeWork> work;
  work.reserve(groups.size());
  for (auto& [node, group] : groups) {
    NodeWork& w = work.emplace_back();
    w.pool = &registry_.pool(node);
    w.items = std::move(group);
  }
  return work;
}

std::vector<BatchItem> BatchRunner::run_round(BatchOp& op, std::vector<NodeWork>& work,
                                              Deadline deadline) const {
  // Connections are taken in address order and held for the round (no lock-order cycles).
  for (NodeWork& w : work) {
    Result<Lease> lease = w.pool->checkout(deadline);
    if (!lease.ok()) {
      fail_rest(op, w, lease.status());
      continue;
    }
    w.lease.emplace(std::move(lease.value()));
  }
  std::vector<BatchItem> redirected;
  bool more = true;
  while (more) {
    for (NodeWork& w : work) {
      if (w.status.ok() && w.next < w.items.size()) send_window(op, w, deadline);
    }
    for (NodeWork& w : work) {
      if (w.status.ok() && w.next < w.window_end) read_window(op, w, redirected, deadline);
    }
    more = false;
    for (NodeWork& w : work) more = more || (w.status.ok() && w.next < w.items.size());
  }
  return redirected;
}

void BatchRunner::send_window(BatchOp& op, NodeWork& w, Deadline deadline) const {
  RespPipeline pipeline;
  std::size_t bytes = 0;
  std::size_t end = w.next;
  while (end < w.items.size() && (end == w.next || bytes < kWindowBytes)) {
    const BatchItem& item = w.items[end++];
    if (item.ask) pipeline.command({"ASKING"});
    op.encode(item, pipeline);
    bytes += op.weight(item);
  }
  Status sent = (*w.lease)->send(pipeline, deadline);
  if (!sent.ok()) {
    fail_rest(op, w, sent);
    return;
  }
  w.window_end = end;
}

void BatchRunner::read_window(BatchOp& op, NodeWork& w, std::vector<BatchItem>& redirected,
                              Deadline deadline) const {
  const NodeAddress& node = w.pool->node();
  while (w.next < w.window_end) {
    BatchItem& item = w.items[w.next];
    if (item.ask) {
      // ASKING's own +OK; an error here shows again in the command's reply.
      Result<ReplyPtr> asking = (*w.lease)->read_reply(deadline);
      if (!asking.ok()) return fail_rest(op, w, asking.status());
    }
    Result<ReplyPtr> reply = (*w.lease)->read_reply(deadline);
    if (!reply.ok()) return fail_rest(op, w, reply.status());
    ++w.next;
    if (!redirect(op, item, *reply.value(), node, redirected)) op.answer(item, *reply.value(), node);
  }
}

bool BatchRunner::redirect(BatchOp& op, BatchItem& item, const redisReply& reply,
                           const NodeAddress& node, std::vector<BatchItem>& redirected) const {
  if (topology_ == nullptr || reply.type != REDIS_REPLY_ERROR) return false;
  std::string_view text(reply.str, reply.len);
  std::optional<Redirect> r = parse_redirect(text, node);
  if (!r) return false;
  if (r->kind == RedirectKind::kMoved) {
    RedisCounters::add(counters_.moved_redirects);
    topology_->on_moved(r->slot, r->node);
    item.ask.reset();
  } else {
    RedisCounters::add(counters_.ask_redirects);
    item.ask = r->node;
  }
  if (++item.redirects > kMaxRedirects) {
    op.fail(item, Status::IOError("redis cluster: redirected more than " +
                                  std::to_string(kMaxRedirects) + " times; last: " +
                                  std::string(text)));
  } else {
    redirected.push_back(std::move(item));
  }
  return true;
}

void BatchRunner::fail_rest(BatchOp& op, NodeWork& w, const Status& status) const {
  w.status = status;
  for (std::size_t i = w.next; i < w.items.size(); ++i) op.fail(w.items[i], status);
  w.next = w.items.size();
  // The node may have failed over or left: let the refresher look.
  if (topology_ != nullptr) topology_->request_refresh();
}

}  // namespace kvtier::shared::redis
