// LatencyHistogram: bucket lookup, snapshots and quantile estimation (see latency_histogram.h).
#include "metrics/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kvtier {

std::size_t LatencyHistogram::bucket_index(std::int64_t ns) {
  // 25 bounds: a binary search is five comparisons, cheaper than the atomic that follows.
  auto it = std::lower_bound(kUpperBoundsNs.begin(), kUpperBoundsNs.end(), ns);
  return static_cast<std::size_t>(it - kUpperBoundsNs.begin());
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot s;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    s.counts[i] = buckets_[i].load(std::memory_order_relaxed);
    s.count += s.counts[i];
  }
  s.sum_ns = sum_ns_.load(std::memory_order_relaxed);
  return s;
}

double LatencyHistogram::Snapshot::upper_bound_seconds(std::size_t i) {
  if (i >= kFiniteBuckets) return std::numeric_limits<double>::infinity();
  // An exact quotient of two integers: the double nearest the round number (1e-06, not 9.99e-07).
  return static_cast<double>(kUpperBoundsNs[i]) / 1e9;
}

double LatencyHistogram::Snapshot::quantile(double q) const {
  std::array<double, kBuckets> bounds{};
  std::array<double, kBuckets> cumulative{};
  double running = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    bounds[i] = upper_bound_seconds(i);
    running += static_cast<double>(counts[i]);
    cumulative[i] = running;
  }
  return quantile_from_cumulative(bounds, cumulative, q);
}

LatencyHistogram::Snapshot LatencyHistogram::Snapshot::since(const Snapshot& earlier) const {
  // Counters only grow, so a smaller later value means the two are not of the same histogram
  // (or it was recreated): count such a bucket from zero rather than wrap around.
  auto minus = [](std::uint64_t now, std::uint64_t then) { return now >= then ? now - then : now; };
  Snapshot d;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    d.counts[i] = minus(counts[i], earlier.counts[i]);
    d.count += d.counts[i];
  }
  d.sum_ns = minus(sum_ns, earlier.sum_ns);
  return d;
}

double quantile_from_cumulative(std::span<const double> upper_bounds,
                                std::span<const double> cumulative, double q) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::size_t n = upper_bounds.size();
  if (n == 0 || cumulative.size() != n || !(q >= 0 && q <= 1)) return nan;
  for (std::size_t i = 0; i < n; ++i) {
    if (std::isnan(upper_bounds[i]) || !(cumulative[i] >= 0) || std::isinf(cumulative[i])) return nan;
    if (i > 0 && (upper_bounds[i] <= upper_bounds[i - 1] || cumulative[i] < cumulative[i - 1])) {
      return nan;
    }
  }
  const double total = cumulative[n - 1];
  if (total <= 0) return nan;
  // The largest finite bound: where a rank in the +Inf bucket is reported.
  auto largest_finite = [&]() {
    for (std::size_t i = n; i-- > 0;) {
      if (std::isfinite(upper_bounds[i])) return upper_bounds[i];
    }
    return nan;
  };
  const double rank = q * total;
  // The first bucket whose cumulative count reaches the rank (holding at least one observation
  // when the rank is 0, so q = 0 is the lower edge of the first non-empty bucket).
  std::size_t i = 0;
  while (i < n && (rank > 0 ? cumulative[i] < rank : cumulative[i] <= 0)) ++i;
  if (i == n) i = n - 1;  // rounding: rank a hair above total
  if (std::isinf(upper_bounds[i])) return largest_finite();
  const double lower = i == 0 ? std::min(0.0, upper_bounds[0]) : upper_bounds[i - 1];
  const double before = i == 0 ? 0 : cumulative[i - 1];
  const double in_bucket = cumulative[i] - before;
  if (in_bucket <= 0) return upper_bounds[i];
  const double fraction = std::clamp((rank - before) / in_bucket, 0.0, 1.0);
  if (std::isinf(lower)) return upper_bounds[i];  // a -Inf first bound: no width to interpolate
  return lower + (upper_bounds[i] - lower) * fraction;
}

}  // namespace kvtier
