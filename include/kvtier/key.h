// Block keys: 128-bit, deterministic, seed-free identifiers of KV-cache chunks. The byte layout and
// test vectors are specified in docs/KEYS.md; every client (C++, C, Python) must reproduce them.
//
// Thread-safety: all functions are pure; KeyChain is a value type (one per thread or guarded).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/export.h"
#include "kvtier/status.h"

namespace kvtier {

// A 128-bit key: the first 16 bytes of a SHA-256 digest (docs/KEYS.md says why SHA-256).
struct KVTIER_API Key {
  std::array<std::uint8_t, 16> bytes{};

  // The bytes 0..7 and 8..15 as little-endian integers. Keys are uniformly distributed, so these
  // words are what in-memory indexes hash on.
  std::uint64_t word0() const;
  std::uint64_t word1() const;
  // 32 lower-case hex digits, bytes in order.
  std::string hex() const;
  // Parses 32 hex digits (either case).
  static Result<Key> from_hex(std::string_view hex);

  friend bool operator==(const Key&, const Key&) = default;
};

// A tenant's partition of the store (assigned by the daemon). Blocks of different namespaces never
// alias, even under the same Key. Embedded users pass kDefaultNamespace.
using NamespaceId = std::uint32_t;
inline constexpr NamespaceId kDefaultNamespace = 0;

// What every tier stores a block under.
struct BlockId {
  NamespaceId ns = kDefaultNamespace;
  Key key;
  friend bool operator==(const BlockId&, const BlockId&) = default;
};

struct KeyHash {
  std::size_t operator()(const Key& k) const { return static_cast<std::size_t>(k.word0()); }
  std::size_t operator()(const BlockId& b) const {
    return static_cast<std::size_t>(b.key.word0() ^ (b.ns * 0x9E3779B97F4A7C15ull));
  }
};

// What a KV block depends on besides the tokens. Two layouts that differ in any field produce
// unrelated keys, so a block can never be read back into a model or layout it does not fit.
struct KVTIER_API ModelLayout {
  std::string model_id;            // e.g. "meta-llama/Llama-3.1-8B-Instruct@<revision>"
  std::string kv_dtype;            // e.g. "bf16", "fp8_e4m3"
  std::uint32_t num_layers = 0;
  std::uint32_t num_kv_heads = 0;
  std::uint32_t head_dim = 0;
  std::uint32_t tp_rank = 0;
  std::uint32_t tp_world_size = 1;
  std::uint32_t chunk_tokens = 0;  // tokens per chunk (block)
  std::uint32_t layout_version = 1;  // the engine's block layout; bump when the bytes change
  std::string extra;               // anything else the KV depends on (LoRA adapter id, ...); may be empty

  // Clear error when a field is missing or out of range.
  Status validate() const;
};

// key_0: the namespace key of a layout. InvalidArgument when the layout does not validate.
KVTIER_API Result<Key> namespace_key(const ModelLayout& layout);

// key_i = first16(SHA-256(key_{i-1} || tokens as little-endian u32)).
KVTIER_API Key chain_key(const Key& previous, std::span<const std::uint32_t> tokens);

// Keys of every *full* chunk of `tokens` (a trailing partial chunk has no key), chained from
// `ns_key`. chunk_tokens must be > 0.
KVTIER_API std::vector<Key> chunk_keys(const Key& ns_key, std::span<const std::uint32_t> tokens,
                                       std::uint32_t chunk_tokens);

}  // namespace kvtier
