// RedisConnection: one hiredis connection to one node, used by one call at a time, with every
// wait bounded by the call's deadline. Requests go out with sendmsg() from RespPipeline segments
// (resp_pipeline.h says why not hiredis's own writer); replies are parsed by hiredis's reader.
//
// Invariant: once any send or read fails (timeout, error, EOF, protocol error) the connection is
// broken() for good: replies may still be in flight, so its stream position is unknown and the
// pool must discard it.
//
// Thread-safety: not thread-safe; a pool hands it to one caller at a time.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <compare>
#include <cstdint>
#include <memory>
#include <string>

#include "kvtier/status.h"
#include "shared/redis/redis_counters.h"
#include "shared/redis/resp_pipeline.h"
#include "shared/shared_backend.h"

namespace kvtier::shared::redis {

// Where a node listens. Ordered, so that a call taking connections to several nodes always takes
// them in the same order (no two calls can wait on each other's pools).
struct NodeAddress {
  std::string host;
  std::uint16_t port = 0;
  // "host:port", or "[host]:port" for an IPv6 literal.
  std::string text() const;
  friend auto operator<=>(const NodeAddress&, const NodeAddress&) = default;
};

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

enum class ConnectionFailure : std::uint8_t {
  kNone,
  kTimeout,  // the deadline passed while waiting on the socket
  kIO,       // an error, EOF or a protocol error
};

class RedisConnection {
 public:
  // Connects within min(connect_timeout, what is left of deadline) and sends AUTH when password
  // is not empty. IOError naming the node otherwise (counted as a connect error). Host names are
  // resolved by hiredis with a blocking getaddrinfo, which the deadline cannot bound: configure
  // addresses where that matters. `counters` must outlive the connection (it counts timeouts).
  static Result<std::unique_ptr<RedisConnection>> open(const NodeAddress& node,
                                                       std::chrono::milliseconds connect_timeout,
                                                       const std::string& password,
                                                       Deadline deadline, RedisCounters& counters);

  // Sends every command of `pipeline`. A deadline that has already passed fails without sending
  // anything and leaves the connection usable.
  Status send(const RespPipeline& pipeline, Deadline deadline);
  // Waits for the next reply (never a null reply on OK).
  Result<ReplyPtr> read_reply(Deadline deadline);
  // One command and its reply.
  Result<ReplyPtr> call(const RespPipeline& pipeline, Deadline deadline);

  // False when the peer closed the connection or left unread bytes on an idle one: a pooled
  // connection whose server restarted is found this way before it fails a call.
  bool idle_and_alive() const;

  bool broken() const { return failure_ != ConnectionFailure::kNone; }
  ConnectionFailure failure() const { return failure_; }
  const NodeAddress& node() const { return node_; }

 private:
  RedisConnection(NodeAddress node, ContextPtr context, RedisCounters& counters)
      : node_(std::move(node)), context_(std::move(context)), counters_(counters) {}
  // Sets the socket timeouts to what is left of `deadline`; false when nothing is left.
  bool arm_timeout(Deadline deadline);
  Status fail(ConnectionFailure kind, const std::string& what);

  NodeAddress node_;
  ContextPtr context_;
  RedisCounters& counters_;
  ConnectionFailure failure_ = ConnectionFailure::kNone;
  // When arm_timeout last set the socket timeouts, and for which deadline. Within
  // kRearmInterval of that, for the same deadline, it skips the two setsockopt calls (a burst of
  // 16 KiB reads of a large value): a wait then ends at most kRearmInterval past the deadline.
  Clock::time_point armed_at_{};
  Deadline armed_for_{};
};

}  // namespace kvtier::shared::redis
