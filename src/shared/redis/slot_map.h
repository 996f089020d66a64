// SlotMap: which master serves each of the 16384 Redis Cluster slots, as last learned from
// CLUSTER SLOTS or from a MOVED redirect. Plus the parsers of those two answers.
//
// Thread-safety: SlotMap is thread-safe (a shared mutex; lookups take it shared). The parsers are
// pure functions.
#pragma once

#include <hiredis/hiredis.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "kvtier/status.h"
#include "shared/redis/cluster_slot.h"
#include "shared/redis/redis_connection.h"
#include "sync/mutex.h"

namespace kvtier::shared::redis {

struct SlotRange {
  std::uint16_t first = 0;  // inclusive
  std::uint16_t last = 0;   // inclusive
  NodeAddress master;
};

class SlotMap {
 public:
  SlotMap() { owner_.fill(kNoNode); }
  // True once a CLUSTER SLOTS answer has been installed.
  bool loaded() const;
  // The master of `slot`; nullopt when no answer named one.
  std::optional<NodeAddress> node_for(std::uint16_t slot) const;
  // Every master named by the installed answer and by later redirects.
  std::vector<NodeAddress> masters() const;
  // Replaces the whole map (slots in no range have no master).
  void install(const std::vector<SlotRange>& ranges);
  // A MOVED redirect: `slot` is now served by `node`.
  void set_slot(std::uint16_t slot, const NodeAddress& node);

 private:
  static constexpr std::uint16_t kNoNode = 0xFFFF;
  std::uint16_t index_of(const NodeAddress& node) KVTIER_REQUIRES(mu_);

  mutable SharedMutex mu_;
  bool loaded_ KVTIER_GUARDED_BY(mu_) = false;
  std::vector<NodeAddress> nodes_ KVTIER_GUARDED_BY(mu_);
  std::array<std::uint16_t, kClusterSlots> owner_ KVTIER_GUARDED_BY(mu_);  // index into nodes_
};

// Parses a CLUSTER SLOTS answer: [[first, last, [host, port, ...], replicas...], ...]. A master
// whose host is empty is `asked` (the node that answered, per the specification); one whose host
// is "?" (unknown endpoint) is skipped. InvalidArgument on any other shape.
Result<std::vector<SlotRange>> parse_cluster_slots(const redisReply& reply, const NodeAddress& asked);

enum class RedirectKind : std::uint8_t { kMoved, kAsk };
struct Redirect {
  RedirectKind kind = RedirectKind::kMoved;
  std::uint16_t slot = 0;
  NodeAddress node;
};
// Parses "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" (the host may be empty,
// meaning the node that replied: `replied`). nullopt for any other error text.
std::optional<Redirect> parse_redirect(std::string_view error, const NodeAddress& replied);

}  // namespace kvtier::shared::redis
