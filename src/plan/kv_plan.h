// `kvtier plan kv`: from a model's KV layout and a deployment's load, how fast KV is written, how
// much DRAM and NVMe each GPU needs to hold it, and whether loading a cached prefix beats
// recomputing it on each tier. Every formula is in docs/PLAN.md ("kvtier plan kv"), with a worked
// example that tests/plan/kv_plan_test.cpp checks.
//
// Units: bytes, bytes per second, seconds, tokens (decimal prefixes only in the reports).
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kvtier/status.h"
#include "plan/model.h"

namespace kvtier::plan {

// Defaults, each an assumption a planner should replace with their hardware's figures.
// Host DRAM to one GPU: PCIe Gen5 x16 carries 64 GB/s raw per direction; pinned host-to-device
// copies reach about 50 GB/s.
inline constexpr double kDefaultDramBytesPerSPerGpu = 50e9;
// A node's local NVMe: 8 PCIe Gen4 drives (the data-cache drives of a DGX H100-class node) at
// about 6.25 GB/s sequential read each.
inline constexpr double kDefaultNvmeBytesPerSPerNode = 50e9;
// A node's network to the shared tier: two 200 Gb/s storage ports.
inline constexpr double kDefaultNetworkBitsPerSPerNode = 400e9;
// The NVMe drive the drive count is given in: 3.84 TB (DGX H100/B200 data-cache drives).
inline constexpr double kDefaultNvmeDriveBytes = 3.84e12;
// [shared] outbox_capacity_blocks' default (docs/CONFIG.md).
inline constexpr std::int64_t kDefaultOutboxCapacityBlocks = 1'048'576;

struct KvPlanInputs {
  ModelKvLayout model;
  KvDtype dtype;
  // Counts are signed so a negative one from the command line is reported, not wrapped.
  std::int64_t tensor_parallel = 1;  // GPUs per model instance that split its KV heads
  std::int64_t gpus_per_node = 8;
  std::int64_t nodes = 1;
  // Prompt tokens one GPU computes per second in prefill (an instance's prefill rate divided by
  // tensor_parallel). Required: > 0.
  double prefill_tokens_per_s = 0;
  // Prompt tokens arriving per GPU per second, cached or not. Default: prefill_tokens_per_s (the
  // load the GPUs were sized for without a cache).
  std::optional<double> prompt_tokens_per_s;
  std::int64_t prompt_tokens = 8192;  // the prompt length the TTFT figures are for
  double reuse = 0.5;                 // fraction of prompt tokens found in the cache, 0..1
  std::int64_t chunk_tokens = 256;    // tokens per block (docs/KEYS.md)
  double dram_retention_s = 120;      // how long DRAM holds what was written
  double retention_s = 3600;          // how long local NVMe holds what was written
  double ride_through_s = 900;        // shared-tier outage the local tiers must buffer
  double dram_bytes_per_s_per_gpu = kDefaultDramBytesPerSPerGpu;
  double nvme_bytes_per_s_per_node = kDefaultNvmeBytesPerSPerNode;
  double network_bits_per_s_per_node = kDefaultNetworkBitsPerSPerNode;
  double nvme_drive_bytes = kDefaultNvmeDriveBytes;
  std::int64_t outbox_capacity_blocks = kDefaultOutboxCapacityBlocks;

  // InvalidArgument naming the `kvtier plan kv` flag of the first bad field.
  Status validate() const;
};

// Loading a cached prefix from one tier instead of recomputing it.
struct TierLoad {
  std::string tier;                   // "dram", "nvme", "shared"
  double bytes_per_s_per_gpu = 0;     // bandwidth one GPU gets when every GPU of the node loads
  double vs_break_even = 0;           // bytes_per_s_per_gpu / break_even_bytes_per_s_per_gpu
  bool load_beats_recompute = false;  // vs_break_even > 1
  double load_s = 0;                  // the prompt's cached prefix, from this tier
  double ttft_s = 0;                  // load_s + the uncached rest computed
  double ttft_saved_s = 0;            // recompute_s - load_s (negative: loading is slower)
};

struct KvPlan {
  KvPlanInputs in;
  double prompt_tokens_per_s_per_gpu = 0;  // in.prompt_tokens_per_s or in.prefill_tokens_per_s

  // KV size.
  std::uint64_t bytes_per_token = 0;         // the model's KV per token (model.h's formula)
  std::uint64_t rank_bytes_per_token = 0;    // what one tensor-parallel rank holds per token
  std::uint64_t stored_bytes_per_token = 0;  // summed over the ranks (copies included)
  std::uint64_t bytes_per_chunk = 0;         // bytes_per_token x chunk_tokens
  std::uint64_t block_bytes = 0;             // one rank's block: rank_bytes_per_token x chunk

  // Rates (per GPU; per node = x gpus_per_node; cluster = x nodes more).
  double new_tokens_per_s_per_gpu = 0;   // prompt tokens/s x (1 - reuse)
  double write_bytes_per_s_per_gpu = 0;  // new tokens/s x stored_bytes_per_token
  double write_bytes_per_s_per_node = 0;
  double write_bytes_per_s_cluster = 0;
  double load_bytes_per_s_per_gpu = 0;  // prompt tokens/s x reuse x stored_bytes_per_token
  double load_bytes_per_s_per_node = 0;
  double prefill_busy = 0;           // new tokens/s / prefill tokens/s (> 1: overloaded)
  double blocks_per_s_per_node = 0;  // write_bytes_per_s_per_node / block_bytes

  // Capacity.
  double dram_bytes_per_gpu = 0;  // write rate x dram_retention
  double dram_bytes_per_node = 0;
  double nvme_retention_bytes_per_gpu = 0;     // write rate x retention
  double nvme_ride_through_bytes_per_gpu = 0;  // write rate x ride_through
  double nvme_bytes_per_gpu = 0;               // the larger of the two
  double nvme_bytes_per_node = 0;
  double nvme_drives_per_gpu = 0;         // nvme_bytes_per_gpu / drive size
  std::int64_t nvme_drives_per_node = 0;  // nvme_bytes_per_node / drive size, rounded up
  double outbox_blocks_per_node = 0;      // blocks written during the ride-through
  double backlog_bytes_per_node = 0;      // bytes to upload when the shared tier is back
  std::optional<double> catch_up_s;       // backlog / (network - write rate); none: never
  double write_share_of_nvme = 0;         // node write rate / NVMe bandwidth
  double write_share_of_network = 0;      // node write rate / network bandwidth

  // Load versus recompute.
  double break_even_bytes_per_s_per_gpu = 0;  // prefill tokens/s x stored_bytes_per_token
  std::int64_t prefix_tokens = 0;             // reuse x prompt_tokens, in whole chunks
  double recompute_s = 0;                     // prefix_tokens / (prefill x tensor_parallel)
  double ttft_no_cache_s = 0;                 // prompt_tokens / (prefill x tensor_parallel)
  std::vector<TierLoad> tiers;                // dram, nvme, shared

  std::vector<std::string> warnings;  // the plan does not fit its own inputs (overload, ...)
};

// InvalidArgument (from validate(), or a tensor-parallel size that does not fit the KV heads).
Result<KvPlan> compute_kv_plan(const KvPlanInputs& in);

}  // namespace kvtier::plan
