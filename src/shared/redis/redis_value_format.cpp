// Building and checking the Redis value header (redis_value_format.h, docs/SHARED_REDIS.md).
#include "shared/redis/redis_value_format.h"

#include <cstdio>
#include <cstring>

#include "integrity/checksum.h"

namespace kvtier::shared::redis {
namespace {

std::uint64_t header_checksum(const RedisValueHeader& h) {
  return block_checksum({reinterpret_cast<const std::byte*>(&h),
                         offsetof(RedisValueHeader, header_checksum)});
}

Status corrupt(std::string_view what) {
  return Status::Corruption("redis value: " + std::string(what));
}

}  // namespace

std::string redis_key(std::string_view prefix, const BlockId& id) {
  char ns[10];
  std::snprintf(ns, sizeof(ns), "%08x:", static_cast<unsigned>(id.ns));
  std::string out;
  out.reserve(prefix.size() + 9 + 32);
  out.append(prefix).append(ns).append(id.key.hex());
  return out;
}

RedisValueHeader make_value_header(const BlockId& id, std::span<const std::byte> value) {
  RedisValueHeader h{};
  h.magic = kRedisValueMagic;
  h.format_version = kRedisFormatVersion;
  h.header_size = sizeof(RedisValueHeader);
  h.ns = id.ns;
  std::memcpy(h.key, id.key.bytes.data(), sizeof(h.key));
  h.value_size = value.size();
  h.value_checksum = block_checksum(value);
  h.header_checksum = header_checksum(h);
  return h;
}

Result<std::span<const std::byte>> verify_value(const BlockId& id,
                                                std::span<const std::byte> stored) {
  if (stored.size() < sizeof(RedisValueHeader)) return corrupt("shorter than its header");
  RedisValueHeader h;
  std::memcpy(&h, stored.data(), sizeof(h));  // the reply buffer need not be aligned
  if (h.magic != kRedisValueMagic) return corrupt("bad magic (not a kvtier value)");
  if (h.format_version != kRedisFormatVersion) {
    return corrupt("unknown format version " + std::to_string(h.format_version));
  }
  if (h.header_size != sizeof(RedisValueHeader)) return corrupt("bad header size");
  if (h.header_checksum != header_checksum(h)) return corrupt("header checksum mismatch");
  if (h.ns != id.ns || std::memcmp(h.key, id.key.bytes.data(), sizeof(h.key)) != 0) {
    return corrupt("stored under another namespace or key");
  }
  std::span<const std::byte> payload = stored.subspan(sizeof(RedisValueHeader));
  if (h.value_size != payload.size()) return corrupt("size differs from the header's");
  if (block_checksum(payload) != h.value_checksum) return corrupt("payload checksum mismatch");
  return payload;
}

}  // namespace kvtier::shared::redis
