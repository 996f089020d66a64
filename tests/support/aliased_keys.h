// Keys that collided under the NVMe index of 727dc88, for the tests that prove they no longer do.
// That index placed (ns, key) by key XOR an unkeyed mask of the namespace and compared only a
// 48-bit tag of the result, so for any key of namespace `from` a tenant in namespace `to` could
// compute a key with the same tag and shard (namespace ids are predictable) and see, read and drop
// the other's entry (issue 23, finding 1).
#pragma once

#include <cstdint>
#include <cstring>

#include "kvtier/key.h"

namespace kvtier::testing {

// splitmix64's finalizer, as 727dc88's index used it.
inline std::uint64_t mix64_727dc88(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The key of namespace `to` that 727dc88's index confused with (from, k).
inline Key alias_727dc88(const Key& k, NamespaceId from, NamespaceId to) {
  constexpr std::uint64_t kHigh = std::uint64_t{1} << 32;
  std::uint64_t w0, w1;
  std::memcpy(&w0, k.bytes.data(), 8);
  std::memcpy(&w1, k.bytes.data() + 8, 8);
  w0 ^= mix64_727dc88(from) ^ mix64_727dc88(to);
  w1 ^= mix64_727dc88(from + kHigh) ^ mix64_727dc88(to + kHigh);
  Key out;
  std::memcpy(out.bytes.data(), &w0, 8);
  std::memcpy(out.bytes.data() + 8, &w1, 8);
  return out;
}

}  // namespace kvtier::testing
