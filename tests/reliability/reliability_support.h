// Shared pieces of the reliability tests (crash loop, disk faults, soak): blocks whose bytes are
// derived from their number (bench/stamped_value.h, so any torn, stale or misplaced read shows up),
// a client on a daemon's Unix socket, one daemon metric, and environment knobs.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../../bench/stamped_value.h"
#include "kvtier/client.h"
#include "scrape/prometheus_parse.h"
#include "support/daemon_process.h"

namespace kvtier::testing {

// Block number n: key numbered_key(n, salt), one of three sizes (a 4 KiB multiple and two that
// leave a partial last page on NVMe), pattern of that size stamped with n.
class NumberedBlocks {
 public:
  explicit NumberedBlocks(std::uint64_t salt) : salt_(salt) {}

  static std::uint64_t size_of(std::uint64_t n) {
    constexpr std::uint64_t kSizes[] = {64 * 1024, 96 * 1024 + 24, 128 * 1024 - 8};
    return kSizes[n % 3];
  }
  Key key(std::uint64_t n) const { return bench::numbered_key(n, salt_); }
  std::vector<std::byte> value(std::uint64_t n) {
    std::vector<std::byte> v = pattern(size_of(n));
    bench::stamp(v.data(), v.size(), n);
    return v;
  }
  // True when `bytes` are exactly block n's value.
  bool intact(std::uint64_t n, std::span<const std::byte> bytes) {
    return bytes.size() == size_of(n) &&
           bench::value_intact(bytes.data(), bytes.size(), n, pattern(bytes.size()));
  }
  static std::uint64_t largest() { return 128 * 1024; }

 private:
  const std::vector<std::byte>& pattern(std::uint64_t size) {
    auto it = patterns_.find(size);
    if (it == patterns_.end()) it = patterns_.emplace(size, bench::make_pattern(size)).first;
    return it->second;
  }
  std::uint64_t salt_;
  std::map<std::uint64_t, std::vector<std::byte>> patterns_;
};

inline std::unique_ptr<Client> connect_unix(const DaemonProcess& d, const char* name) {
  ClientOptions o;
  o.address = d.unix_address();
  o.client_name = name;
  o.timeout = std::chrono::seconds(30);
  Result<std::unique_ptr<Client>> c = Client::connect(o);
  return c.ok() ? std::move(c).value() : nullptr;
}

// A metric of the daemon summed over its label sets; nullopt when STATS fails.
inline std::optional<double> daemon_metric(Client& c, std::string_view name) {
  Result<std::string> text = c.stats();
  if (!text.ok()) return std::nullopt;
  Result<ParsedMetrics> parsed = parse_prometheus_text(*text);
  if (!parsed.ok()) return std::nullopt;
  return parsed->sum(name);
}

inline std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

}  // namespace kvtier::testing
