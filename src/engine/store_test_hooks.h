// Test seams of the tiered store: points where a test can hold one thread so that a race between
// a block's versions happens deterministically (an eviction whose demotion waits while the block
// is put again; an NVMe read whose promotion waits while the block is replaced). Production code
// never installs hooks: each seam costs one atomic load.
#pragma once

#include <atomic>
#include <functional>

#include "kvtier/key.h"

namespace kvtier::engine {

struct StoreTestHooks {
  // A block evicted from DRAM, before its demotion takes the block's stripe.
  std::function<void(const BlockId&)> before_demote;
  // A copy read from NVMe or the shared tier, before its promotion takes the block's stripe.
  std::function<void(const BlockId&)> before_promote;
};

// The installed hooks (null: none). A test installs them before the store is used and removes
// them (nullptr) after every thread that may call them is done.
inline std::atomic<StoreTestHooks*>& store_test_hooks() {
  static std::atomic<StoreTestHooks*> hooks{nullptr};
  return hooks;
}

}  // namespace kvtier::engine
