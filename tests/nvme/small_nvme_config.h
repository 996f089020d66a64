// The NVMe tier as its tests run it: 1 MiB regions (nine 100 KiB entries fill one) on a file of
// `regions` regions, small enough that tests fill, seal and reclaim regions quickly.
#pragma once

#include "kvtier/config.h"
#include "kvtier/types.h"
#include "memory/aligned_buffer.h"

namespace kvtier::testing {

inline NvmeConfig small_nvme_config(std::uint64_t regions = 12) {
  NvmeConfig c;
  c.region_size = 1 * kMiB;
  c.default_file_bytes = kPageSize + regions * c.region_size;
  c.write_io_bytes = 256 * kKiB;
  c.io_depth = 4;
  c.index_shards = 4;
  return c;
}

}  // namespace kvtier::testing
