// Little-endian loads and stores: the one codec of every integer kvtier writes down, on the wire
// (docs/PROTOCOL.md), in the NVMe index checkpoint (docs/NVME_FORMAT.md) and into hashes of ids.
// On a little-endian host a fixed-size load or store is one memcpy (a single move); elsewhere the
// shifts make it right. (GCC 12 does not fold the byte loop into a move by itself.)
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace kvtier {

template <typename T>
inline void store_le(std::byte* out, T v) {
  static_assert(std::is_unsigned_v<T>, "little-endian fields are unsigned integers");
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(out, &v, sizeof(T));
    return;
  }
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out[i] = static_cast<std::byte>(static_cast<std::uint64_t>(v) >> (8 * i));
  }
}

template <typename T>
inline T load_le(const std::byte* in) {
  static_assert(std::is_unsigned_v<T>, "little-endian fields are unsigned integers");
  if constexpr (std::endian::native == std::endian::little) {
    T v;
    std::memcpy(&v, in, sizeof(T));
    return v;
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<std::uint64_t>(std::to_integer<std::uint8_t>(in[i])) << (8 * i);
  }
  return static_cast<T>(v);
}

// Appends v's sizeof(T) bytes, little-endian.
template <typename T>
inline void append_le(std::vector<std::byte>& out, T v) {
  std::byte b[sizeof(T)];
  store_le(b, v);
  out.insert(out.end(), b, b + sizeof(T));
}

// The first n (at most 8) bytes at `in` as a little-endian integer: a tail shorter than a word.
inline std::uint64_t load_le_n(const std::byte* in, std::size_t n) {
  if (n == 8) return load_le<std::uint64_t>(in);
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    v |= static_cast<std::uint64_t>(std::to_integer<std::uint8_t>(in[i])) << (8 * i);
  }
  return v;
}

}  // namespace kvtier
