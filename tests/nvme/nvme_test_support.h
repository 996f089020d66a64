// What the NVMe tier's tests share: the tier as they configure it, and a crash of an open tier.
#pragma once

#include <memory>
#include <string>

#include "kvtier/config.h"
#include "kvtier/types.h"
#include "memory/aligned_buffer.h"
#include "nvme/nvme_tier.h"
#include "support/child_process.h"

namespace kvtier::testing {

// 1 MiB regions (nine 100 KiB entries fill one) on a file of `regions` regions, small enough that
// tests fill, seal and reclaim regions quickly.

inline NvmeConfig small_nvme_config(std::uint64_t regions = 12) {
  NvmeConfig c;
  c.region_size = 1 * kMiB;
  c.default_file_bytes = kPageSize + regions * c.region_size;
  c.write_io_bytes = 256 * kKiB;
  c.io_depth = 4;
  c.index_shards = 4;
  return c;
}

// Opens the tier on `dir` in a forked child, runs fn(tier) there and SIGKILLs the child once fn
// has answered, with the tier still open: a crash at that point. Returns fn's answer (or why the
// tier did not open, or "child failed").
template <typename Fn>
std::string crash_after(const NvmeConfig& c, const std::string& dir, Fn fn) {
  std::unique_ptr<nvme::NvmeTier> child_tier;  // the child's copy lives until the kill
  return in_child_then_sigkill([&]() -> std::string {
    Result<std::unique_ptr<nvme::NvmeTier>> t = nvme::NvmeTier::open(c, dir);
    if (!t.ok()) return t.status().to_string();
    child_tier = std::move(t).value();
    return fn(*child_tier);
  });
}

}  // namespace kvtier::testing
