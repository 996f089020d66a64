// Redis Cluster key slots: CRC16 (XMODEM) of the key, or of its {hash tag}, mod 16384, exactly as
// the Redis Cluster specification defines them, so kvtier routes a key where the cluster keeps it.
//
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace kvtier::shared::redis {

inline constexpr std::uint16_t kClusterSlots = 16384;

// CRC16-CCITT in its XMODEM form: polynomial 0x1021, initial value 0, no reflection, no final
// XOR. crc16_xmodem("123456789") == 0x31C3 (the specification's test vector).
std::uint16_t crc16_xmodem(std::string_view data);

// The slot of `key`. When the key holds a '{' followed later by a '}' with at least one byte
// between them, only the bytes between the first '{' and the first '}' after it are hashed (the
// hash tag); otherwise the whole key is.
std::uint16_t key_slot(std::string_view key);

}  // namespace kvtier::shared::redis
