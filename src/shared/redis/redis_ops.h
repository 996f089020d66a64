// The BatchOps of the Redis backend: SET (put), GET (get), EXISTS (contains) and DEL (remove),
// each turning replies into the SharedBackend contract's statuses and counting outcomes.
//
// Thread-safety: an op belongs to one call (one thread); only the counters are shared.
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "kvtier/types.h"
#include "shared/redis/batch_runner.h"
#include "shared/redis/redis_counters.h"
#include "shared/redis/redis_value_format.h"
#include "shared/shared_backend.h"

namespace kvtier::shared::redis {

// The batch item (Redis key and slot) of `id`, at `index` of the caller's spans.
BatchItem make_item(std::string_view prefix, std::size_t index, const BlockId& id);

// One item per element of `items`, whose BlockId `id_of` returns (items of ids: the id).
template <typename T, typename IdOf = std::identity>
std::vector<BatchItem> make_items(std::string_view prefix, std::span<T> items, IdOf id_of = {}) {
  std::vector<BatchItem> out;
  out.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) out.push_back(make_item(prefix, i, id_of(items[i])));
  return out;
}

// SET <key> <header + value> [PX <ttl>]. The value is sent from the caller's buffer; only the
// 64-byte header is built here.
class PutOp final : public BatchOp {
 public:
  PutOp(std::span<const SharedPut> items, std::span<Status> out, std::chrono::milliseconds ttl,
        RedisCounters& counters);
  void encode(const BatchItem& item, RespPipeline& pipeline) override;
  std::size_t weight(const BatchItem& item) const override { return items_[item.index].value.size(); }
  void answer(const BatchItem& item, const redisReply& reply, const NodeAddress& node) override;
  void fail(const BatchItem& item, const Status& status) override;

 private:
  std::span<const SharedPut> items_;
  std::span<Status> out_;
  std::string ttl_ms_;  // empty: no expiry
  RedisCounters& counters_;
  std::vector<RedisValueHeader> headers_;  // headers_[i] for items_[i]
};

// GET <key>, verified, copied into the caller's buffer.
//
// hiredis builds each reply as its own string (read into its reader buffer, then copied into a
// reply object), and the payload is copied once more into dst after verification: two copies
// per block beyond the socket read. Verifying before copying keeps dst free of bad bytes, and the
// reply object is private to this call, so what was verified is what is copied.
class GetOp final : public BatchOp {
 public:
  GetOp(std::span<const SharedGet> items, std::span<GetResult> out, RedisCounters& counters)
      : items_(items), out_(out), counters_(counters) {}
  void encode(const BatchItem& item, RespPipeline& pipeline) override;
  std::size_t weight(const BatchItem& item) const override;
  void answer(const BatchItem& item, const redisReply& reply, const NodeAddress& node) override;
  void fail(const BatchItem& item, const Status& status) override;

 private:
  GetResult found(const BatchItem& item, const redisReply& reply);
  std::span<const SharedGet> items_;
  std::span<GetResult> out_;
  RedisCounters& counters_;
};

// A command whose integer reply counts keys: EXISTS (contains_many) or DEL (remove).
// out[i] = OK when the reply is >= 1, NotFound when 0.
class CountKeysOp final : public BatchOp {
 public:
  // `command key [argument]` per key; a reply above 0 is OK, 0 NotFound.
  CountKeysOp(const char* command, std::span<Status> out, std::string argument = "")
      : command_(command), argument_(std::move(argument)), out_(out) {}
  void encode(const BatchItem& item, RespPipeline& pipeline) override;
  std::size_t weight(const BatchItem&) const override { return 0; }
  void answer(const BatchItem& item, const redisReply& reply, const NodeAddress& node) override;
  void fail(const BatchItem& item, const Status& status) override { out_[item.index] = status; }

 private:
  const char* command_;
  std::string argument_;
  std::span<Status> out_;
};

}  // namespace kvtier::shared::redis
