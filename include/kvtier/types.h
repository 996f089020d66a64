// The types the Store and the Client share: byte units, batch items and results, where a block
// was found, prefix matches, per-namespace usage and counters. A program that only talks to
// kvtierd includes kvtier/client.h, which brings these and not the engine's Store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "kvtier/key.h"
#include "kvtier/status.h"

namespace kvtier {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

enum class Tier : std::uint8_t { kNone = 0, kDram = 1, kNvme = 2, kShared = 3 };

enum class CounterKind : std::uint8_t {
  kCount,  // a running total (Prometheus counter)
  kGauge,  // a current value (Prometheus gauge)
};
// Receives one counter: a stable, prefixed snake_case name ("dram_hits"), its value and kind.
using CounterVisitor = std::function<void(std::string_view name, double value, CounterKind kind)>;

struct PrefixMatch {
  std::size_t cached = 0;   // leading chunks cached in some tier
  std::size_t in_dram = 0;  // of those, found in DRAM
  std::size_t in_nvme = 0;  // of those, found only on NVMe
  std::size_t in_shared = 0;  // of those, found only in the shared tier
};

struct PutItem {
  Key key;
  std::span<const std::byte> value;
};

// How a put is stored. durable: answered only once the value is durable (Store::persist), so a
// crash, SIGKILL or power loss after the answer does not lose it.
struct PutOptions {
  bool durable = false;
};

struct GetItem {
  Key key;
  std::span<std::byte> dst;  // receives the value
};

struct GetResult {
  Status status;          // OK, NotFound, BufferTooSmall, ...
  std::size_t size = 0;   // value size when OK or BufferTooSmall
  Tier tier = Tier::kNone;  // where it was found
};

struct NamespaceUsage {
  std::uint64_t blocks = 0;
  std::uint64_t bytes = 0;          // value bytes
  std::uint64_t charged_bytes = 0;  // what its blocks cost the tier: DRAM charges (page-rounded
                                    // buffers and metadata), NVMe entries (a header page and
                                    // page-padded values); what tenant quotas count
  std::uint64_t pinned_bytes = 0;   // DRAM: what its pinned blocks are charged (0 elsewhere)
};

}  // namespace kvtier
