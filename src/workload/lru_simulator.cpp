// Ideal-LRU hit ratio over a request stream (see lru_simulator.h).
#include "workload/lru_simulator.h"

namespace kvtier::workload {

std::size_t LruSimulator::access(std::span<const Key> chain) {
  ++requests_;
  blocks_ += chain.size();
  std::size_t hits = 0;
  while (hits < chain.size() && contains(chain[hits])) ++hits;
  prefix_hits_ += hits;
  if (capacity_ == 0) return hits;
  std::size_t keep = chain.size() < capacity_ ? chain.size() : static_cast<std::size_t>(capacity_);
  for (std::size_t i = keep; i-- > 0;) touch(chain[i]);
  return hits;
}

void LruSimulator::touch(const Key& key) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  if (index_.size() >= capacity_) {
    index_.erase(lru_.back());
    lru_.pop_back();
    ++evictions_;
  }
  lru_.push_front(key);
  index_.emplace(key, lru_.begin());
}

}  // namespace kvtier::workload
