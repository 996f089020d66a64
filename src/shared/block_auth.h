// BlockAuth: per-tenant authentication of shared-tier blocks. A namespace configured with a key
// (a tenant's shared_key_file, docs/CONFIG.md) has every block it uploads sealed with a trailer
// appended to the value: an HMAC-SHA256 under that key of the block's namespace, key, size and
// bytes. A block of that namespace read back is served only when its trailer verifies under the
// same key: one written by a node without the key (a node configured with the same tenant name
// but its own key, or none), or moved from another key, is refused, counted, and a miss. The
// backend sees the trailer as part of the value, so every backend (filesystem, Redis, object
// stores) carries it unchanged. Namespaces without a key are stored as before, unsealed.
//
// What it does not stop: a writer of the medium deleting blocks, or putting back an older block of
// the same key that a holder of the key wrote (docs/SHARED_TIER.md, "Block authentication").
//
// Layout (little-endian, after the value; docs/SHARED_FS_FORMAT.md):
//   u32 magic "KVTA" | u16 version (1) | u16 reserved (0) | u32 key_id | u32 reserved (0) |
//   u8[32] tag = HMAC-SHA256(key, "kvtier shared block 1\0" | u32 ns | key[16] | u64 value_size | value)
// key_id: the first 4 bytes of SHA-256 of the key, to tell "sealed under another key" from
// "damaged" in the counters; it is not secret and decides nothing.
//
// Thread-safety: const after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "integrity/block_mac.h"
#include "kvtier/key.h"

namespace kvtier::shared {

class BlockAuth {
 public:
  static constexpr std::size_t kTrailerBytes = 48;
  // Keys shorter than this are refused by the config (a key is a secret, not a password).
  static constexpr std::size_t kMinKeyBytes = 32;

  explicit BlockAuth(const std::map<NamespaceId, std::string>& keys);

  // Bytes a stored block of `ns` has beyond its value: kTrailerBytes when ns has a key, else 0.
  std::size_t overhead(NamespaceId ns) const { return keys_.count(ns) != 0 ? kTrailerBytes : 0; }

  // Writes the trailer of `value` stored under `id` into `trailer` (kTrailerBytes).
  // REQUIRES: overhead(id.ns) > 0.
  void seal(const BlockId& id, std::span<const std::byte> value, std::span<std::byte> trailer) const;

  enum class Verdict : std::uint8_t {
    kOk,          // sealed under this namespace's key (or the namespace has none)
    kUnsealed,    // no trailer: written without a key
    kOtherKey,    // sealed under another key
    kBadTag,      // this key's id, but the tag does not verify: damaged, or forged
  };
  // Judges `stored` (the value followed by its trailer) as read back for `id`.
  // REQUIRES: overhead(id.ns) > 0.
  Verdict open(const BlockId& id, std::span<const std::byte> stored) const;
  // Whether `stored` ends in what looks like a trailer (magic and version): a sealed block read
  // for a namespace this node has no key for, which must not be served with its seal as if it
  // were bytes of the value. (An unsealed value ends so by chance once in 2^48.)
  static bool looks_sealed(std::span<const std::byte> stored);

 private:
  struct Key {
    std::unique_ptr<BlockMac> mac;
    std::uint32_t key_id;
  };
  std::map<NamespaceId, Key> keys_;
};

}  // namespace kvtier::shared
