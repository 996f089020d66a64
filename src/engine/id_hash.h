// id_hash: the keyed hash that places a BlockId in the engine's in-memory indexes (the DRAM tier's
// BlockIndex and the NVMe tier's Index).
//
// Clients choose keys freely and namespace ids are predictable (0 for the default tenant, FNV-1a of
// a tenant's name), so an unkeyed hash lets a client aim keys at one shard and one home slot and
// turn every probe of a linear-probing table into a scan of a long cluster (hash flooding), or aim
// them at another tenant's slots. The hash here is SipHash-1-3 (Aumasson and Bernstein; the
// variant Rust's HashMap and Redis's dict use for the same reason) over the namespace and the key,
// under a 128-bit key drawn from getrandom() once per process: placement cannot be predicted from
// outside, and it is never persisted (an index image stores whole ids and re-hashes them).
//
// Placement only: the indexes compare the whole (namespace, key) of every candidate slot, so a
// collision of this hash costs a longer probe, never another block.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "kvtier/key.h"

namespace kvtier {

using SipKey = std::array<std::uint64_t, 2>;

// SipHash with `C` compression and `D` finalization rounds over arbitrary bytes (the reference
// definition; id_hash() is the same function specialised to a 20-byte message).
template <int C, int D>
std::uint64_t siphash(const SipKey& key, std::span<const std::byte> message);

// The key id_hash() uses in this process (random, fixed for the process's lifetime).
const SipKey& id_hash_key();

// SipHash-1-3 under `key` of the 20 bytes key[0..15] || ns (little-endian u32).
std::uint64_t id_hash_with(const SipKey& key, const BlockId& id);

// id_hash_with(id_hash_key(), id).
inline std::uint64_t id_hash(const BlockId& id) { return id_hash_with(id_hash_key(), id); }

// out[i] = id_hash({ns, keys[i]}) for every key: the batch form the index probes use (a LOOKUP
// hashes thousands of keys). Eight at a time with AVX-512 where the CPU has it (the same function,
// lane by lane), one at a time otherwise. REQUIRES: out.size() >= keys.size().
void id_hash_many(NamespaceId ns, std::span<const Key> keys, std::span<std::uint64_t> out);

// For unordered containers keyed by BlockId that hold client-chosen ids (KeyHash is unkeyed).
struct KeyedIdHash {
  std::size_t operator()(const BlockId& id) const { return static_cast<std::size_t>(id_hash(id)); }
};

}  // namespace kvtier
