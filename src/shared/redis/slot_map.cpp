// The cluster slot map and the parsers of CLUSTER SLOTS and MOVED/ASK (slot_map.h).
#include "shared/redis/slot_map.h"
#include "sync/mutex.h"

#include <charconv>

namespace kvtier::shared::redis {
namespace {

Status bad_slots(std::string_view what) {
  return Status::InvalidArgument("CLUSTER SLOTS answer: " + std::string(what));
}

bool parse_u16(std::string_view text, std::uint16_t& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// One [first, last, [host, port, ...], ...] entry.
Result<SlotRange> parse_range(const redisReply& r, const NodeAddress& asked) {
  if (r.type != REDIS_REPLY_ARRAY || r.elements < 3) return bad_slots("entry is not an array of 3+");
  const redisReply& first = *r.element[0];
  const redisReply& last = *r.element[1];
  const redisReply& master = *r.element[2];
  if (first.type != REDIS_REPLY_INTEGER || last.type != REDIS_REPLY_INTEGER ||
      first.integer < 0 || last.integer < first.integer || last.integer >= kClusterSlots) {
    return bad_slots("bad slot range");
  }
  if (master.type != REDIS_REPLY_ARRAY || master.elements < 2 ||
      master.element[0]->type != REDIS_REPLY_STRING ||
      master.element[1]->type != REDIS_REPLY_INTEGER || master.element[1]->integer <= 0 ||
      master.element[1]->integer > 65535) {
    return bad_slots("bad master endpoint");
  }
  SlotRange range;
  range.first = static_cast<std::uint16_t>(first.integer);
  range.last = static_cast<std::uint16_t>(last.integer);
  range.master.host.assign(master.element[0]->str, master.element[0]->len);
  range.master.port = static_cast<std::uint16_t>(master.element[1]->integer);
  if (range.master.host.empty()) range.master.host = asked.host;
  return range;
}

}  // namespace

bool SlotMap::loaded() const {
  ReaderLock lock(mu_);
  return loaded_;
}

std::optional<NodeAddress> SlotMap::node_for(std::uint16_t slot) const {
  ReaderLock lock(mu_);
  std::uint16_t i = owner_[slot];
  if (i == kNoNode) return std::nullopt;
  return nodes_[i];
}

std::vector<NodeAddress> SlotMap::masters() const {
  ReaderLock lock(mu_);
  return nodes_;
}

std::uint16_t SlotMap::index_of(const NodeAddress& node) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i] == node) return static_cast<std::uint16_t>(i);
  }
  nodes_.push_back(node);  // at most one node per slot, so never more than kNoNode nodes
  return static_cast<std::uint16_t>(nodes_.size() - 1);
}

void SlotMap::install(const std::vector<SlotRange>& ranges) {
  WriterLock lock(mu_);
  nodes_.clear();
  owner_.fill(kNoNode);
  for (const SlotRange& r : ranges) {
    std::uint16_t i = index_of(r.master);
    for (std::uint32_t s = r.first; s <= r.last; ++s) owner_[s] = i;
  }
  loaded_ = true;
}

void SlotMap::set_slot(std::uint16_t slot, const NodeAddress& node) {
  WriterLock lock(mu_);
  owner_[slot % kClusterSlots] = index_of(node);
}

Result<std::vector<SlotRange>> parse_cluster_slots(const redisReply& reply,
                                                   const NodeAddress& asked) {
  if (reply.type != REDIS_REPLY_ARRAY) return bad_slots("not an array");
  std::vector<SlotRange> ranges;
  for (std::size_t i = 0; i < reply.elements; ++i) {
    Result<SlotRange> range = parse_range(*reply.element[i], asked);
    if (!range.ok()) return range.status();
    if (range->master.host == "?") continue;
    ranges.push_back(std::move(range.value()));
  }
  if (ranges.empty()) return bad_slots("no slot has a reachable master");
  return ranges;
}

std::optional<Redirect> parse_redirect(std::string_view error, const NodeAddress& replied) {
  Redirect r;
  if (error.starts_with("MOVED ")) {
    r.kind = RedirectKind::kMoved;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.kind = RedirectKind::kAsk;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  std::size_t space = error.find(' ');
  if (space == std::string_view::npos || !parse_u16(error.substr(0, space), r.slot) ||
      r.slot >= kClusterSlots) {
    return std::nullopt;
  }
  std::string_view endpoint = error.substr(space + 1);
  // The port follows the last colon, so an IPv6 host (written without brackets) stays whole.
  std::size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || !parse_u16(endpoint.substr(colon + 1), r.node.port) ||
      r.node.port == 0) {
    return std::nullopt;
  }
  std::string_view host = endpoint.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  r.node.host.assign(host);
  if (r.node.host.empty()) r.node.host = replied.host;
  return r;
}

}  // namespace kvtier::shared::redis
