// Replies to statuses for SET, GET, EXISTS and DEL (redis_ops.h).
#include "shared/redis/redis_ops.h"

#include <cstring>

#include "shared/redis/cluster_slot.h"

namespace kvtier::shared::redis {
namespace {

std::string reply_text(const redisReply& reply) {
  if (reply.type == REDIS_REPLY_ERROR || reply.type == REDIS_REPLY_STATUS) {
    return std::string(reply.str, reply.len);
  }
  return "unexpected reply type " + std::to_string(reply.type);
}

Status node_error(const NodeAddress& node, const redisReply& reply) {
  return Status::IOError("redis " + node.text() + ": " + reply_text(reply));
}

bool starts_with(const redisReply& reply, std::string_view prefix) {
  return std::string_view(reply.str, reply.len).starts_with(prefix);
}

}  // namespace

BatchItem make_item(std::string_view prefix, std::size_t index, const BlockId& id) {
  BatchItem item;
  item.index = index;
  item.key = redis_key(prefix, id);
  item.slot = key_slot(item.key);
  return item;
}

// ---- PutOp -------------------------------------------------------------------------------------

PutOp::PutOp(std::span<const SharedPut> items, std::span<Status> out,
             std::chrono::milliseconds ttl, RedisCounters& counters)
    : items_(items), out_(out), counters_(counters) {
  if (ttl.count() > 0) ttl_ms_ = std::to_string(ttl.count());
  headers_.reserve(items.size());
  for (const SharedPut& p : items) headers_.push_back(make_value_header(p.id, p.value));
}

void PutOp::encode(const BatchItem& item, RespPipeline& pipeline) {
  const RedisValueHeader& header = headers_[item.index];
  pipeline.begin(ttl_ms_.empty() ? 3 : 5);
  pipeline.arg("SET");
  pipeline.arg(item.key);
  pipeline.arg_with_payload({reinterpret_cast<const std::byte*>(&header), sizeof(header)},
                            items_[item.index].value);
  if (!ttl_ms_.empty()) {
    pipeline.arg("PX");
    pipeline.arg(ttl_ms_);
  }
}

void PutOp::answer(const BatchItem& item, const redisReply& reply, const NodeAddress& node) {
  if (reply.type == REDIS_REPLY_STATUS) {
    RedisCounters::add(counters_.puts);
    RedisCounters::add(counters_.put_bytes, items_[item.index].value.size());
    out_[item.index] = Status::Ok();
    return;
  }
  RedisCounters::add(counters_.put_errors);
  if (reply.type == REDIS_REPLY_ERROR && starts_with(reply, "OOM")) {
    out_[item.index] = Status::NoSpace("redis " + node.text() + ": " + reply_text(reply));
  } else {
    out_[item.index] = node_error(node, reply);
  }
}

void PutOp::fail(const BatchItem& item, const Status& status) {
  RedisCounters::add(counters_.put_errors);
  out_[item.index] = status;
}

// ---- GetOp -------------------------------------------------------------------------------------

void GetOp::encode(const BatchItem& item, RespPipeline& pipeline) {
  pipeline.command({"GET", item.key});
}

std::size_t GetOp::weight(const BatchItem& item) const {
  return items_[item.index].dst.size() + sizeof(RedisValueHeader);
}

void GetOp::answer(const BatchItem& item, const redisReply& reply, const NodeAddress& node) {
  GetResult& out = out_[item.index];
  out = GetResult{};
  if (reply.type == REDIS_REPLY_STRING) {
    out = found(item, reply);
  } else if (reply.type == REDIS_REPLY_NIL) {
    RedisCounters::add(counters_.misses);
    out.status = Status::NotFound("redis: no such block");
  } else if (reply.type == REDIS_REPLY_ERROR && starts_with(reply, "WRONGTYPE")) {
    // Something that is not a string sits under kvtier's key: not a kvtier block.
    RedisCounters::add(counters_.corrupt_blocks);
    out.status = Status::NotFound("redis: key holds a foreign value");
  } else {
    RedisCounters::add(counters_.get_errors);
    out.status = node_error(node, reply);
  }
}

GetResult GetOp::found(const BatchItem& item, const redisReply& reply) {
  const SharedGet& get = items_[item.index];
  GetResult out;
  Result<std::span<const std::byte>> payload = verify_value(
      get.id, {reinterpret_cast<const std::byte*>(reply.str), reply.len});
  if (!payload.ok()) {
    RedisCounters::add(counters_.corrupt_blocks);
    out.status = Status::NotFound("redis: block failed verification (" +
                                  payload.status().message() + ")");
    return out;
  }
  RedisCounters::add(counters_.hits);
  out.size = payload->size();
  out.tier = Tier::kShared;
  if (payload->size() > get.dst.size()) {
    out.status = Status::BufferTooSmall("redis: block of " + std::to_string(payload->size()) +
                                        " bytes does not fit a buffer of " +
                                        std::to_string(get.dst.size()));
    return out;
  }
  if (!payload->empty()) std::memcpy(get.dst.data(), payload->data(), payload->size());
  return out;
}

void GetOp::fail(const BatchItem& item, const Status& status) {
  RedisCounters::add(counters_.get_errors);
  out_[item.index] = GetResult{status, 0, Tier::kNone};
}

// ---- CountKeysOp -------------------------------------------------------------------------------

void CountKeysOp::encode(const BatchItem& item, RespPipeline& pipeline) {
  if (argument_.empty()) {
    pipeline.command({command_, item.key});
  } else {
    pipeline.command({command_, item.key, argument_});
  }
}

void CountKeysOp::answer(const BatchItem& item, const redisReply& reply, const NodeAddress& node) {
  if (reply.type != REDIS_REPLY_INTEGER) {
    out_[item.index] = node_error(node, reply);
  } else if (reply.integer > 0) {
    out_[item.index] = Status::Ok();
  } else {
    out_[item.index] = Status::NotFound("redis: no such block");
  }
}

}  // namespace kvtier::shared::redis
