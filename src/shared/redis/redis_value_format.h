// How a block is stored in Redis: the key name and the value layout. docs/SHARED_REDIS.md
// describes the same format for people; change both together and bump kRedisFormatVersion on any
// change to RedisValueHeader.
//
// Key:   <key_prefix><ns as 8 lower-case hex>:<key as 32 lower-case hex>
// Value: [RedisValueHeader, 64 bytes][payload, value_size bytes]
// All integers are little-endian (the only byte order kvtier builds for; see the static_assert).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kvtier/key.h"
#include "kvtier/status.h"

namespace kvtier::shared::redis {

static_assert(std::endian::native == std::endian::little, "the Redis value format is little-endian");

inline constexpr std::uint16_t kRedisFormatVersion = 1;
// "KVTR" read as a little-endian u32: identifies a kvtier value among whatever else the server
// holds under the same prefix.
inline constexpr std::uint32_t kRedisValueMagic = 0x5254564bu;

struct RedisValueHeader {
  std::uint32_t magic;            // kRedisValueMagic
  std::uint16_t format_version;   // kRedisFormatVersion
  std::uint16_t header_size;      // sizeof(RedisValueHeader); lets a reader skip a longer header
  std::uint32_t ns;               // NamespaceId
  std::uint32_t reserved0;        // 0
  std::uint8_t key[16];           // Key::bytes
  std::uint64_t value_size;       // payload bytes after the header
  std::uint64_t value_checksum;   // block_checksum (XXH3-64) of the payload
  std::uint64_t reserved1;        // 0
  std::uint64_t header_checksum;  // block_checksum of the bytes above
};
static_assert(sizeof(RedisValueHeader) == 64, "RedisValueHeader is pinned; bump kRedisFormatVersion");

// Redis refuses bulk strings above proto-max-bulk-len (512 MiB by default); kvtier stays below it
// whatever the server's setting, header included.
inline constexpr std::uint64_t kMaxRedisValueBytes = 512ull * 1024 * 1024 - sizeof(RedisValueHeader);

// The Redis key of `id` under `prefix`.
std::string redis_key(std::string_view prefix, const BlockId& id);

// The header stored in front of `value` for `id` (checksums computed here).
RedisValueHeader make_value_header(const BlockId& id, std::span<const std::byte> value);

// Checks a stored value (header + payload, as GET returned it) against `id`: OK with the payload
// when magic, version, header checksum, namespace, key, size and payload checksum all hold;
// Corruption naming the first check that failed otherwise.
Result<std::span<const std::byte>> verify_value(const BlockId& id, std::span<const std::byte> stored);

}  // namespace kvtier::shared::redis
