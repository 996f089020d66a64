// LatencyHistogram: bucket bounds, snapshots, quantile estimates against exact order statistics,
// and concurrent record() from many threads losing nothing.
#include "metrics/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace kvtier {
namespace {

using std::chrono::nanoseconds;
using Snapshot = LatencyHistogram::Snapshot;

TEST(LatencyHistogram, BoundsAreTheOneTwoFiveSeriesFromOneMicrosecondToOneHundredSeconds) {
  EXPECT_EQ(Snapshot::upper_bound_seconds(0), 1e-6);
  EXPECT_EQ(Snapshot::upper_bound_seconds(1), 2e-6);
  EXPECT_EQ(Snapshot::upper_bound_seconds(2), 5e-6);
  EXPECT_EQ(Snapshot::upper_bound_seconds(3), 1e-5);
  EXPECT_EQ(Snapshot::upper_bound_seconds(10), 0.002);
  EXPECT_EQ(Snapshot::upper_bound_seconds(LatencyHistogram::kFiniteBuckets - 1), 100.0);
  EXPECT_TRUE(std::isinf(Snapshot::upper_bound_seconds(LatencyHistogram::kFiniteBuckets)));
  for (std::size_t i = 1; i < LatencyHistogram::kFiniteBuckets; ++i) {
    EXPECT_LT(LatencyHistogram::kUpperBoundsNs[i - 1], LatencyHistogram::kUpperBoundsNs[i]);
  }
}

TEST(LatencyHistogram, ABucketHoldsLatenciesUpToAndIncludingItsBound) {
  EXPECT_EQ(LatencyHistogram::bucket_index(0), 0u);
  EXPECT_EQ(LatencyHistogram::bucket_index(1000), 0u);
  EXPECT_EQ(LatencyHistogram::bucket_index(1001), 1u);
  EXPECT_EQ(LatencyHistogram::bucket_index(2000), 1u);
  EXPECT_EQ(LatencyHistogram::bucket_index(2001), 2u);
  EXPECT_EQ(LatencyHistogram::bucket_index(100'000'000'000), LatencyHistogram::kFiniteBuckets - 1);
  EXPECT_EQ(LatencyHistogram::bucket_index(100'000'000'001), LatencyHistogram::kFiniteBuckets);
  EXPECT_EQ(LatencyHistogram::bucket_index(std::numeric_limits<std::int64_t>::max()),
            LatencyHistogram::kFiniteBuckets);
}

TEST(LatencyHistogram, SnapshotCountsAndSums) {
  LatencyHistogram h;
  EXPECT_EQ(h.snapshot().count, 0u);
  EXPECT_TRUE(std::isnan(h.snapshot().quantile(0.5)));
  h.record(nanoseconds(1500));
  h.record(nanoseconds(1500));
  h.record(std::chrono::milliseconds(3));
  h.record(nanoseconds(-5));  // a clock that stepped back counts as 0
  Snapshot s = h.snapshot();
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.sum_ns, 3'003'000u);
  EXPECT_DOUBLE_EQ(s.sum_seconds(), 0.003003);
  EXPECT_EQ(s.counts[0], 1u);
  EXPECT_EQ(s.counts[1], 2u);
  EXPECT_EQ(s.counts[LatencyHistogram::bucket_index(3'000'000)], 1u);
}

TEST(LatencyHistogram, QuantileInterpolatesInsideTheBucket) {
  LatencyHistogram h;
  for (int i = 0; i < 100; ++i) h.record(std::chrono::microseconds(1500));  // all in (1 ms, 2 ms]
  Snapshot s = h.snapshot();
  EXPECT_NEAR(s.quantile(0.5), 0.0015, 1e-12);
  EXPECT_NEAR(s.quantile(1.0), 0.002, 1e-12);
  EXPECT_NEAR(s.quantile(0.0), 0.001, 1e-12);  // the lower edge of the first non-empty bucket
  EXPECT_TRUE(std::isnan(s.quantile(-0.1)));
  EXPECT_TRUE(std::isnan(s.quantile(1.1)));
  EXPECT_TRUE(std::isnan(s.quantile(std::numeric_limits<double>::quiet_NaN())));
}

TEST(LatencyHistogram, ARankInTheOverflowBucketReadsAsTheLargestBound) {
  LatencyHistogram h;
  h.record(std::chrono::seconds(1));
  for (int i = 0; i < 9; ++i) h.record(std::chrono::seconds(500));
  EXPECT_EQ(h.snapshot().quantile(0.99), 100.0);
  EXPECT_LE(h.snapshot().quantile(0.05), 1.0);
}

// The estimate lies in the bucket of the true order statistic, for a spread of latencies over
// many decades (log-uniform from 1 us to 10 s).
TEST(LatencyHistogram, QuantilesLieInTheBucketOfTheTrueValue) {
  LatencyHistogram h;
  std::vector<std::int64_t> values;
  std::uint64_t seed = 7;
  for (int i = 0; i < 10000; ++i) {
    double u = static_cast<double>(kvtier::testing::splitmix64(seed) >> 11) / 9007199254740992.0;
    auto ns = static_cast<std::int64_t>(1000.0 * std::pow(10.0, 7.0 * u));
    values.push_back(ns);
    h.record(nanoseconds(ns));
  }
  std::sort(values.begin(), values.end());
  Snapshot s = h.snapshot();
  for (double q : {0.01, 0.25, 0.5, 0.9, 0.99, 0.999}) {
    std::int64_t truth = values[static_cast<std::size_t>(std::ceil(q * 10000)) - 1];
    std::size_t b = LatencyHistogram::bucket_index(truth);
    double lower = b == 0 ? 0 : Snapshot::upper_bound_seconds(b - 1);
    double estimate = s.quantile(q);
    EXPECT_GE(estimate, lower) << "q=" << q;
    EXPECT_LE(estimate, Snapshot::upper_bound_seconds(b)) << "q=" << q;
  }
}

TEST(LatencyHistogram, SinceIsWhatWasRecordedInBetween) {
  LatencyHistogram h;
  h.record(std::chrono::microseconds(10));
  Snapshot before = h.snapshot();
  h.record(std::chrono::milliseconds(10));
  h.record(std::chrono::milliseconds(10));
  Snapshot d = h.snapshot().since(before);
  EXPECT_EQ(d.count, 2u);
  EXPECT_EQ(d.sum_ns, 20'000'000u);
  EXPECT_NEAR(d.quantile(0.5), 0.0075, 1e-12);  // inside (5 ms, 10 ms], not pulled down by 10 us
  // Not of the same histogram (a bucket went down): it never wraps around to 2^64.
  Snapshot reversed = before.since(h.snapshot());
  EXPECT_LE(reversed.count, before.count);
}

TEST(LatencyHistogram, ConcurrentRecordsAreAllCounted) {
  LatencyHistogram h;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < kPerThread; ++i) h.record(nanoseconds(1000 * (1 + (i + t) % 5000)));
    });
  }
  // Snapshots taken while the writers run stay self-consistent.
  for (int i = 0; i < 100; ++i) {
    Snapshot s = h.snapshot();
    std::uint64_t total = 0;
    for (std::uint64_t c : s.counts) total += c;
    EXPECT_EQ(total, s.count);
  }
  for (auto& t : threads) t.join();
  Snapshot s = h.snapshot();
  EXPECT_EQ(s.count, static_cast<std::uint64_t>(kThreads) * kPerThread);
  std::uint64_t want_sum = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) want_sum += 1000ull * (1 + (i + t) % 5000);
  }
  EXPECT_EQ(s.sum_ns, want_sum);
}

TEST(QuantileFromCumulative, RefusesMalformedInput) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> bounds{0.1, 1, inf}, cum{1, 3, 4};
  EXPECT_NEAR(quantile_from_cumulative(bounds, cum, 0.5), 0.55, 1e-12);
  EXPECT_EQ(quantile_from_cumulative(bounds, cum, 1.0), 1.0);
  std::vector<double> short_cum{1, 3};
  EXPECT_TRUE(std::isnan(quantile_from_cumulative(bounds, short_cum, 0.5)));
  std::vector<double> falling{3, 1, 4};
  EXPECT_TRUE(std::isnan(quantile_from_cumulative(bounds, falling, 0.5)));
  std::vector<double> unsorted{1, 0.1, inf};
  EXPECT_TRUE(std::isnan(quantile_from_cumulative(unsorted, cum, 0.5)));
  std::vector<double> zeros{0, 0, 0};
  EXPECT_TRUE(std::isnan(quantile_from_cumulative(bounds, zeros, 0.5)));
  std::vector<double> only_inf{inf}, one{5};
  EXPECT_TRUE(std::isnan(quantile_from_cumulative(only_inf, one, 0.5)));
  EXPECT_TRUE(std::isnan(quantile_from_cumulative({}, {}, 0.5)));
  std::vector<double> nan_cum{1, std::numeric_limits<double>::quiet_NaN(), 4};
  EXPECT_TRUE(std::isnan(quantile_from_cumulative(bounds, nan_cum, 0.5)));
}

}  // namespace
}  // namespace kvtier
