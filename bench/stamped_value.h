// Benchmark values that prove what came back: a fixed random pattern with the value's number
// stamped at three places (offsets 0, size/2 and size-8). stamped() is the cheap check a timed
// get can afford; value_intact() compares every byte. Benchmarks only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bench_support.h"

namespace kvtier::bench {

constexpr std::uint64_t kStampMagic = 0x6b76746965720000ull;  // "kvtier" in the high bytes

// The pattern every value of `size` bytes starts from (the same in every program and run).
inline std::vector<std::byte> make_pattern(std::uint64_t size) {
  std::vector<std::byte> p(size);
  std::uint64_t state = 12345;
  for (std::uint64_t i = 0; i + 8 <= size; i += 8) {
    std::uint64_t w = splitmix(state);
    std::memcpy(p.data() + i, &w, 8);
  }
  return p;
}

inline std::uint64_t stamp_offset(std::uint64_t size, int which) {
  return which == 0 ? 0 : which == 1 ? (size / 2) & ~7ull : size - 8;
}

// REQUIRES: size >= 24 (three stamps that do not overlap).
inline void stamp(std::byte* value, std::uint64_t size, std::uint64_t number) {
  std::uint64_t w = kStampMagic ^ number;
  for (int k = 0; k < 3; ++k) std::memcpy(value + stamp_offset(size, k), &w, 8);
}

inline bool stamped(const std::byte* value, std::uint64_t size, std::uint64_t number) {
  std::uint64_t want = kStampMagic ^ number;
  for (int k = 0; k < 3; ++k) {
    std::uint64_t w;
    std::memcpy(&w, value + stamp_offset(size, k), 8);
    if (w != want) return false;
  }
  return true;
}

// The full check: stamps, and every other byte equal to the pattern.
inline bool value_intact(const std::byte* value, std::uint64_t size, std::uint64_t number,
                         const std::vector<std::byte>& pattern) {
  if (!stamped(value, size, number)) return false;
  std::uint64_t a = 8, b = stamp_offset(size, 1), c = b + 8, d = size - 8;
  return std::memcmp(value + a, pattern.data() + a, b - a) == 0 &&
         std::memcmp(value + c, pattern.data() + c, d - c) == 0;
}

}  // namespace kvtier::bench
