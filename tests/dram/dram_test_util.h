// Helpers shared by the DRAM tier tests: deterministic keys and values, tier creation, counters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dram/block.h"
#include "dram/dram_tier.h"
#include "kvtier/config.h"
#include "kvtier/key.h"

namespace kvtier::dram::testing {

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// A uniformly distributed key, as real (SHA-256) keys are.
inline Key test_key(std::uint64_t i) {
  Key k;
  const std::uint64_t a = splitmix64(i);
  const std::uint64_t b = splitmix64(a);
  std::memcpy(k.bytes.data(), &a, 8);
  std::memcpy(k.bytes.data() + 8, &b, 8);
  return k;
}

inline BlockId bid(std::uint64_t i, NamespaceId ns = kDefaultNamespace) {
  return BlockId{ns, test_key(i)};
}

// Deterministic bytes derived from (seed, position).
inline std::byte pattern_byte(std::uint64_t seed, std::size_t pos) {
  return static_cast<std::byte>((splitmix64(seed) >> ((pos % 8) * 8)) + pos * 7);
}

inline std::vector<std::byte> pattern(std::uint64_t seed, std::size_t size) {
  std::vector<std::byte> v(size);
  for (std::size_t i = 0; i < size; ++i) v[i] = pattern_byte(seed, i);
  return v;
}

inline bool matches_pattern(std::uint64_t seed, std::span<const std::byte> bytes) {
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != pattern_byte(seed, i)) return false;
  }
  return true;
}

// A capacity that holds exactly `blocks` values of `value_size` bytes (what each really costs).
constexpr std::uint64_t room_for(std::uint64_t blocks, std::uint64_t value_size) {
  return blocks * block_charge(value_size);
}

inline DramConfig small_config(std::uint64_t capacity, std::uint32_t shards = 4) {
  DramConfig c;
  c.capacity_bytes = capacity;
  c.shards = shards;
  return c;
}

inline std::unique_ptr<DramTier> make_tier(const DramConfig& config) {
  auto r = DramTier::create(config);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return nullptr;
  return std::move(r).value();
}

inline std::map<std::string, double> counters(DramTier& tier) {
  std::map<std::string, double> out;
  tier.visit_counters([&](std::string_view name, double value, CounterKind) {
    out[std::string(name)] = value;
  });
  return out;
}

inline Status put_pattern(DramTier& tier, const BlockId& id, std::uint64_t seed, std::size_t size,
                          std::vector<BlockRef>* evicted = nullptr, bool clean = false) {
  const std::vector<std::byte> v = pattern(seed, size);
  return tier.put(id, v, CommitMode::kReplace, clean, evicted);
}

}  // namespace kvtier::dram::testing
