// nvme::Index micro-benchmarks: insert cost and bytes per entry, lookup latency, and the latency of
// probing a 4,096-key prefix chain against a 1 M-entry index.
#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "nvme/index.h"

namespace kvtier::nvme {
namespace {

// This runs on shared machines; with --benchmark_repetitions the minimum is the figure that
// other processes disturb least.
double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

constexpr std::size_t kEntries = 1'000'000;
constexpr std::size_t kChain = 4096;

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform keys, as SHA-256 keys are.
std::vector<Key> make_keys(std::size_t n, std::uint64_t seed) {
  std::vector<Key> keys(n);
  for (Key& k : keys) {
    const std::uint64_t a = splitmix(seed), b = splitmix(seed);
    std::memcpy(k.bytes.data(), &a, 8);
    std::memcpy(k.bytes.data() + 8, &b, 8);
  }
  return keys;
}

const std::vector<Key>& present_keys() {
  static const std::vector<Key> keys = make_keys(kEntries, 1);
  return keys;
}

// One 1 M-entry index per shard count, built once and shared by the read benchmarks.
Index& filled_index(std::uint32_t shards) {
  static std::unique_ptr<Index> cache[2048];
  auto& slot = cache[shards];
  if (!slot) {
    slot = std::make_unique<Index>(shards);
    const auto& keys = present_keys();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      (void)slot->insert(BlockId{kDefaultNamespace, keys[i]}, Location{i, 4096, 0});
    }
  }
  return *slot;
}

// Insert 1 M entries into an empty index (growth included).
void BM_Insert1M(benchmark::State& state) {
  const auto shards = static_cast<std::uint32_t>(state.range(0));
  const auto& keys = present_keys();
  double bytes_per_entry = 0;
  for (auto _ : state) {
    Index index(shards);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      (void)index.insert(BlockId{kDefaultNamespace, keys[i]}, Location{i, 4096, 0});
    }
    bytes_per_entry = static_cast<double>(index.memory_bytes()) / static_cast<double>(index.size());
    benchmark::DoNotOptimize(index);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * keys.size()));
  state.counters["bytes_per_entry"] = bytes_per_entry;
  state.counters["ns_per_insert"] =
      benchmark::Counter(static_cast<double>(state.iterations() * keys.size()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Insert1M)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->Iterations(3);

// Single lookups of random present (or absent) keys; reported time is per lookup.
void BM_Lookup(benchmark::State& state) {
  const auto shards = static_cast<std::uint32_t>(state.range(0));
  const bool hit = state.range(1) != 0;
  Index& index = filled_index(shards);
  // Keys in random order, read sequentially: the table access is random, the key fetch is not.
  std::vector<Key> keys = hit ? present_keys() : make_keys(kEntries, 99);
  std::uint64_t rng = 7;
  for (std::size_t i = keys.size() - 1; i > 0; --i)
    std::swap(keys[i], keys[splitmix(rng) % (i + 1)]);
  std::size_t found = 0, i = 0;
  for (auto _ : state) {
    found += index.lookup(BlockId{kDefaultNamespace, keys[i]}, false).has_value();
    if (++i == keys.size()) i = 0;
  }
  benchmark::DoNotOptimize(found);
  state.SetLabel(hit ? "hit" : "miss");
}
BENCHMARK(BM_Lookup)->Args({64, 1})->Args({64, 0})->Args({256, 1})->ComputeStatistics("min",
                                                                                      min_of);

// probe() of a 4,096-key chain whose keys are all present, scattered over a 1 M-entry index.
// Reported time is per chain.
void BM_ProbeChain4096(benchmark::State& state) {
  const auto shards = static_cast<std::uint32_t>(state.range(0));
  Index& index = filled_index(shards);
  const auto& all = present_keys();
  // Many different chains so the caches do not keep one chain's slots warm across iterations.
  constexpr std::size_t kChains = 64;
  std::vector<std::vector<Key>> chains(kChains);
  std::uint64_t rng = 11;
  for (auto& c : chains) {
    c.resize(kChain);
    for (Key& k : c) k = all[splitmix(rng) % all.size()];
  }
  std::vector<std::uint8_t> found(kChain);
  std::size_t i = 0, present = 0;
  for (auto _ : state) {
    index.probe(kDefaultNamespace, chains[i++ % kChains], found);
    present += found[0] + found[kChain - 1];
  }
  benchmark::DoNotOptimize(present);
  state.counters["ns_per_key"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kChain),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ProbeChain4096)
    ->Arg(1)
    ->Arg(16)
    ->Arg(64)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond)
    ->ComputeStatistics("min", min_of);

}  // namespace
}  // namespace kvtier::nvme

BENCHMARK_MAIN();
