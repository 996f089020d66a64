// Little-endian loads and stores: every integer on the kvtier wire is little-endian
// (docs/PROTOCOL.md). Written with shifts so the codec is correct on any host; compilers turn
// these into single moves on little-endian machines.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvtier::protocol {

template <typename T>
inline void store_le(std::byte* out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out[i] = static_cast<std::byte>(static_cast<std::uint64_t>(v) >> (8 * i));
  }
}

template <typename T>
inline T load_le(const std::byte* in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<std::uint64_t>(std::to_integer<std::uint8_t>(in[i])) << (8 * i);
  }
  return static_cast<T>(v);
}

}  // namespace kvtier::protocol
