// Helpers of the Store tests: a small store on real files, opened or failed.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "dram/block.h"
#include "engine/serving_store.h"
#include "memory/aligned_buffer.h"

namespace kvtier::testing {

// DRAM holds 8 blocks of 64 KiB; NVMe 12 regions of 1 MiB.
inline StoreConfig small_store(const std::string& dir) {
  StoreConfig c;
  c.data_dir = dir;
  c.dram.capacity_bytes = 8 * dram::block_charge(64 * kKiB);
  c.dram.shards = 4;
  c.nvme.region_size = 1 * kMiB;
  c.nvme.default_file_bytes = kPageSize + 12 * kMiB;
  c.nvme.write_io_bytes = 256 * kKiB;
  c.nvme.io_depth = 4;
  c.nvme.index_shards = 4;
  return c;
}

// The store, or null after a test failure that says why.
inline std::unique_ptr<engine::ServingStore> open_store(const StoreConfig& c) {
  Result<std::unique_ptr<engine::ServingStore>> s = engine::ServingStore::open(c);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s.ok() ? std::move(s).value() : nullptr;
}

}  // namespace kvtier::testing
