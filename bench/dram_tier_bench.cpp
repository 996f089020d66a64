// DRAM tier get vs memcpy, same run, one thread (issue 2: "speed lives in benchmarks").
//
//   dram_tier_bench [--value-bytes B] [--working-set-bytes B] [--rounds N] [--passes P] [--seed N]
//
// Holds `working set / value` distinct values (default 1024 x 1 MiB = 1 GiB, far above any L3)
// in a DramTier (DramTier::create, capacity 25% above the working set so nothing is evicted) and
// the same number of equally sized, 4 KiB-aligned source buffers for the reference. One pass reads
// every value once in a random order into ONE caller buffer of the value's size (4 KiB-aligned,
// warm), either with DramTier::get (index lookup, reference count, S3-FIFO touch, memcpy) or with a
// plain memcpy from the reference buffer of the same position. Both sides use the same order and
// the same destination, so caches and TLBs see the same pattern. Rounds alternate which side goes
// first; each round measures P passes per side and gives a ratio; the summary is the median.
//
// Last line: "RESULT dram_get gb_s=<median> memcpy_gb_s=<median> ratio=<median> goal=0.70".
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "bench_support.h"
#include "dram/dram_tier.h"
#include "kvtier/config.h"
#include "kvtier/key.h"
#include "memory/aligned_buffer.h"

using namespace kvtier::bench;  // die, parse_bytes, keys, median/percentile

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) {
  kvtier::bench::program_name() = "dram_tier_bench";
  std::uint64_t value_bytes = 1 * kvtier::kMiB;
  std::uint64_t working_set = 1 * kvtier::kGiB;
  int rounds = 7, passes = 3;
  std::uint64_t seed = 7;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) die("missing value for " + k);
    std::string v = argv[++i];
    if (k == "--value-bytes") value_bytes = parse_bytes(v);
    else if (k == "--working-set-bytes") working_set = parse_bytes(v);
    else if (k == "--rounds") rounds = std::stoi(v);
    else if (k == "--passes") passes = std::stoi(v);
    else if (k == "--seed") seed = std::stoull(v);
    else die("unknown option " + k + " (see the file header)");
  }
  const std::uint64_t n = working_set / value_bytes;
  if (n < 2) die("the working set must hold at least two values");

  kvtier::DramConfig cfg;
  cfg.capacity_bytes = n * value_bytes + n * value_bytes / 4;
  auto created = kvtier::dram::DramTier::create(cfg);
  if (!created.ok()) die("create: " + created.status().to_string());
  std::unique_ptr<kvtier::dram::DramTier> tier = std::move(created).value();

  // Reference buffers and tier values hold the same bytes.
  std::vector<kvtier::AlignedBuffer> ref;
  ref.reserve(n);
  std::mt19937_64 rng(seed);
  for (std::uint64_t i = 0; i < n; ++i) {
    ref.emplace_back(value_bytes);
    if (ref.back().empty()) die("out of memory");
    auto* w = reinterpret_cast<std::uint64_t*>(ref.back().data());
    for (std::size_t j = 0; j < value_bytes / 8; ++j) w[j] = rng();
    std::vector<kvtier::dram::BlockRef> evicted;
    kvtier::Status s = tier->put({kvtier::kDefaultNamespace, numbered_key(i, 11)},
                                 ref.back().span().first(value_bytes), kvtier::dram::CommitMode::kReplace, false, &evicted);
    if (!s.ok()) die("put " + std::to_string(i) + ": " + s.to_string());
    if (!evicted.empty()) die("the tier evicted a value; raise its capacity");
  }
  std::vector<kvtier::Key> keys(n);
  for (std::uint64_t i = 0; i < n; ++i) keys[i] = numbered_key(i, 11);

  kvtier::AlignedBuffer dst(value_bytes);
  std::memset(dst.data(), 0, dst.size());
  std::span<std::byte> dst_span = dst.span().first(value_bytes);

  std::vector<std::uint64_t> order(n);
  std::iota(order.begin(), order.end(), 0);

  auto pass_get = [&]() {
    for (std::uint64_t i : order) {
      kvtier::GetResult g = tier->get({kvtier::kDefaultNamespace, keys[i]}, dst_span);
      if (!g.status.ok() || g.size != value_bytes) die("get " + std::to_string(i) + ": " + g.status.to_string());
    }
  };
  auto pass_memcpy = [&]() {
    for (std::uint64_t i : order) {
      std::memcpy(dst.data(), ref[i].data(), value_bytes);
      asm volatile("" : : "r"(dst.data()) : "memory");
    }
  };
  auto timed = [&](auto&& pass) {
    auto t0 = Clock::now();
    for (int p = 0; p < passes; ++p) pass();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    return double(passes) * double(n) * double(value_bytes) / 1e9 / secs;
  };

  // Correctness once: the tier returns the reference bytes.
  for (std::uint64_t i = 0; i < n; i += n / 16 + 1) {
    (void)tier->get({kvtier::kDefaultNamespace, keys[i]}, dst_span);
    if (std::memcmp(dst.data(), ref[i].data(), value_bytes) != 0) die("value " + std::to_string(i) + " differs");
  }

  std::printf("dram_tier_bench: %" PRIu64 " values x %" PRIu64 " B = %.2f GiB working set (x2 with the reference), "
              "one thread, random order, %d passes per side per round\n",
              n, value_bytes, double(n * value_bytes) / double(kvtier::kGiB), passes);
  pass_get();  // warm-up: page tables, branch predictors
  pass_memcpy();
  std::vector<double> gets, copies, ratios;
  std::printf("  round   dram get GB/s   memcpy GB/s   ratio\n");
  for (int r = 0; r < rounds; ++r) {
    std::shuffle(order.begin(), order.end(), rng);
    double g, c;
    if (r % 2 == 0) {
      g = timed(pass_get);
      c = timed(pass_memcpy);
    } else {
      c = timed(pass_memcpy);
      g = timed(pass_get);
    }
    gets.push_back(g);
    copies.push_back(c);
    ratios.push_back(g / c);
    std::printf("  %5d   %13.2f   %11.2f   %5.1f%%\n", r + 1, g, c, 100 * g / c);
  }
  double mg = median(gets), mc = median(copies), mr = median(ratios);
  std::printf("dram get %.2f GB/s, memcpy %.2f GB/s (medians), ratio %.1f%% (goal >= 70%%)\n", mg, mc, 100 * mr);
  std::printf("RESULT dram_get gb_s=%.2f memcpy_gb_s=%.2f ratio=%.4f min=%.4f max=%.4f goal=0.70\n", mg, mc, mr,
              *std::min_element(ratios.begin(), ratios.end()), *std::max_element(ratios.begin(), ratios.end()));
  return 0;
}
