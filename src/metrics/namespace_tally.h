// NamespaceTally: blocks, bytes and charged bytes per NamespaceId, kept by a tier so quotas and
// per-tenant usage can be answered without a scan. The tier says what a value of a size costs it
// (charge_of); DRAM keeps its own tally under its eviction lock.
//
// Thread-safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>
#include <utility>

#include "kvtier/key.h"
#include "kvtier/types.h"
#include "sync/mutex.h"

namespace kvtier {

class NamespaceTally {
 public:
  using ChargeOf = std::uint64_t (*)(std::uint64_t value_size);
  explicit NamespaceTally(ChargeOf charge_of) : charge_of_(charge_of) {}

  void add(NamespaceId ns, std::uint64_t bytes) {
    MutexLock lock(mu_);
    NamespaceUsage& u = usage_[ns];
    u.blocks += 1;
    u.bytes += bytes;
    u.charged_bytes += charge_of_(bytes);
  }
  void sub(NamespaceId ns, std::uint64_t bytes) {
    MutexLock lock(mu_);
    auto it = usage_.find(ns);
    if (it == usage_.end()) return;
    it->second.blocks -= it->second.blocks ? 1 : 0;
    it->second.bytes -= std::min(it->second.bytes, bytes);
    it->second.charged_bytes -= std::min(it->second.charged_bytes, charge_of_(bytes));
    if (it->second.blocks == 0) usage_.erase(it);
  }
  NamespaceUsage get(NamespaceId ns) const {
    MutexLock lock(mu_);
    auto it = usage_.find(ns);
    return it == usage_.end() ? NamespaceUsage{} : it->second;
  }
  // Every namespace's usage, for persisting; restore() replaces the content with such a list.
  std::vector<std::pair<NamespaceId, NamespaceUsage>> snapshot() const {
    MutexLock lock(mu_);
    return {usage_.begin(), usage_.end()};
  }
  void restore(const std::vector<std::pair<NamespaceId, NamespaceUsage>>& list) {
    MutexLock lock(mu_);
    usage_ = {list.begin(), list.end()};
  }
  void clear() {
    MutexLock lock(mu_);
    usage_.clear();
  }

 private:
  const ChargeOf charge_of_;
  mutable Mutex mu_;
  std::unordered_map<NamespaceId, NamespaceUsage> usage_ KVTIER_GUARDED_BY(mu_);
};

}  // namespace kvtier
