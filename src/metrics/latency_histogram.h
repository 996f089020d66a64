// LatencyHistogram: request latencies counted into fixed buckets on hot paths, for the daemon's
// kvtier_request_seconds histograms, `kvtier stat` and benchmarks.
//
// Buckets follow the 1-2-5 series from 1 us to 100 s (1 us, 2 us, 5 us, 10 us, ..., 50 s, 100 s)
// plus an overflow bucket (+Inf): 26 buckets, a ratio of 2 to 2.5 between neighbours. The bounds
// are round numbers of seconds, so the exposition's le labels read as people write them ("0.002")
// and every scrape, every process and every op use the same ones (Prometheus can only aggregate
// histograms whose bounds match). A bucket counts latencies <= its upper bound.
//
// Quantiles are estimates: the rank is located in its bucket and interpolated linearly between
// the bucket's bounds, as Prometheus' histogram_quantile() does, so `kvtier stat` shows what a
// dashboard shows. The error is at most the bucket's width (a true p99 of 3 ms reads as some value
// in (2 ms, 5 ms]).
//
// Thread-safety: record() is lock-free (one relaxed fetch_add on a bucket and one on the sum) and
// safe from any number of threads; snapshot() may run concurrently with record(). A snapshot is
// not a synchronization point: a record() racing it may be counted in the bucket but not yet in
// the sum. Its count is always the sum of its buckets, so the exposition stays self-consistent.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace kvtier {

class LatencyHistogram {
 public:
  // Finite upper bounds, then the +Inf bucket.
  static constexpr std::size_t kFiniteBuckets = 25;
  static constexpr std::size_t kBuckets = kFiniteBuckets + 1;

  // Upper bounds in nanoseconds: 1-2-5 per decade from 1 us to 100 s.
  static constexpr std::array<std::int64_t, kFiniteBuckets> kUpperBoundsNs = [] {
    std::array<std::int64_t, kFiniteBuckets> b{};
    std::int64_t decade = 1000;  // 1 us
    for (std::size_t i = 0; i < kFiniteBuckets; ++i) {
      const std::int64_t steps[3] = {1, 2, 5};
      b[i] = decade * steps[i % 3];
      if (i % 3 == 2) decade *= 10;
    }
    return b;
  }();

  struct Snapshot {
    // counts[i]: latencies in bucket i (not cumulative); counts[kFiniteBuckets] is +Inf.
    std::array<std::uint64_t, kBuckets> counts{};
    std::uint64_t count = 0;       // the sum of counts
    std::uint64_t sum_ns = 0;      // the sum of every recorded latency
    double sum_seconds() const { return static_cast<double>(sum_ns) / 1e9; }
    // Upper bound of bucket i in seconds (+Inf for the last).
    static double upper_bound_seconds(std::size_t i);
    // The q-quantile (0 <= q <= 1) in seconds; NaN when nothing was recorded. A rank that falls
    // into the +Inf bucket reads as the largest finite bound (100 s).
    double quantile(double q) const;
    // This snapshot minus an earlier one of the same histogram (latencies recorded in between).
    Snapshot since(const Snapshot& earlier) const;
  };

  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  // Negative durations (a clock that stepped back) count as 0.
  void record(std::chrono::nanoseconds latency) {
    std::int64_t ns = latency.count() < 0 ? 0 : latency.count();
    buckets_[bucket_index(ns)].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
  }

  Snapshot snapshot() const;

  // The bucket a latency of `ns` nanoseconds falls into (the first bound >= ns).
  static std::size_t bucket_index(std::int64_t ns);

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

// The q-quantile of a histogram given as Prometheus states one: ascending upper bounds (the last
// may be +Inf) and the cumulative count of observations <= each. Linear interpolation inside the
// bucket, the first bucket's lower bound being 0 (latencies are never negative), a rank in the
// +Inf bucket reading as the largest finite bound. NaN when the total is 0, when q is outside
// [0, 1] or NaN, or when the inputs are malformed (sizes differ, bounds not ascending).
double quantile_from_cumulative(std::span<const double> upper_bounds,
                                std::span<const double> cumulative, double q);

}  // namespace kvtier
