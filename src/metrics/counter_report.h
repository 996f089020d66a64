// How a component hands one counter to a CounterVisitor: the one place that turns a running total
// or a level into the visitor's (name, double, kind).
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "kvtier/types.h"

namespace kvtier {

inline void report_count(const CounterVisitor& v, std::string_view name, std::uint64_t total) {
  v(name, static_cast<double>(total), CounterKind::kCount);
}

// Totals are kept in relaxed atomics: a report is a snapshot, not a synchronization point.
inline void report_count(const CounterVisitor& v, std::string_view name,
                         const std::atomic<std::uint64_t>& total) {
  report_count(v, name, total.load(std::memory_order_relaxed));
}

inline void report_gauge(const CounterVisitor& v, std::string_view name, double level) {
  v(name, level, CounterKind::kGauge);
}

}  // namespace kvtier
