// LruSimulator: the hit ratio an ideal LRU cache of `capacity` blocks would reach on a request
// stream, to set beside kvtier's measured hit ratio. "Ideal": one flat LRU list, no tiers, no
// fragmentation, no concurrency, every block the same size.
//
// A request hits the leading blocks of its chain that are cached (a block is only usable with
// its whole prefix, as LOOKUP counts). Then the whole chain is touched from its last block to its
// first, so a chain's head is the most recently used and its tail is evicted first (evicting a
// head would strand the rest of the chain). A chain longer than the capacity keeps only its first
// `capacity` blocks.
//
// Thread-safety: not thread-safe; one simulator per stream.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>

#include "kvtier/key.h"

namespace kvtier::workload {

class LruSimulator {
 public:
  explicit LruSimulator(std::uint64_t capacity_blocks) : capacity_(capacity_blocks) {}

  // Serves one request; returns its prefix hit count (leading chain blocks that were cached).
  std::size_t access(std::span<const Key> chain);

  std::uint64_t requests() const { return requests_; }
  std::uint64_t blocks() const { return blocks_; }            // chain blocks asked for
  std::uint64_t prefix_hits() const { return prefix_hits_; }  // of those, served from cache
  std::uint64_t evictions() const { return evictions_; }
  std::size_t size() const { return index_.size(); }
  bool contains(const Key& key) const { return index_.count(key) != 0; }
  // prefix_hits / blocks; 0 before any block was asked for.
  double hit_ratio() const { return blocks_ == 0 ? 0.0 : static_cast<double>(prefix_hits_) / blocks_; }

 private:
  void touch(const Key& key);

  std::uint64_t capacity_;
  std::list<Key> lru_;  // front = most recently used
  std::unordered_map<Key, std::list<Key>::iterator, KeyHash> index_;
  std::uint64_t requests_ = 0;
  std::uint64_t blocks_ = 0;
  std::uint64_t prefix_hits_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace kvtier::workload
