// SplitMix64: the workloads' PRNG. Tiny and fully specified, so the same seed gives the same
// stream on every machine (std:: distributions differ between standard libraries).
//
// Thread-safety: a value type; one per generator.
#pragma once

#include <cstdint>
#include <vector>

namespace kvtier::workload {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next_u64() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double next_unit() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi], inclusive.
  std::uint32_t uniform(std::uint32_t lo, std::uint32_t hi) {
    return lo + static_cast<std::uint32_t>(next_u64() % (std::uint64_t{hi} - lo + 1));
  }
  void append_tokens(std::vector<std::uint32_t>& out, std::uint32_t n, std::uint32_t vocabulary) {
    for (std::uint32_t i = 0; i < n; ++i) out.push_back(static_cast<std::uint32_t>(next_u64() % vocabulary));
  }

 private:
  std::uint64_t state_;
};

}  // namespace kvtier::workload
