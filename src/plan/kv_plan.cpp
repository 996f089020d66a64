// compute_kv_plan: the formulas of docs/PLAN.md ("kvtier plan kv"). See kv_plan.h.
#include "plan/kv_plan.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "coding/printf_string.h"

namespace kvtier::plan {
namespace {

std::string number(double v) { return printf_string("%g", v); }

Status must(bool ok, const char* flag, const char* rule, double got) {
  if (ok) return Status::Ok();
  return Status::InvalidArgument(std::string(flag) + " must be " + rule + ", got " + number(got));
}

bool positive(double v) { return std::isfinite(v) && v > 0; }
bool non_negative(double v) { return std::isfinite(v) && v >= 0; }

// KV bytes per token one tensor-parallel rank holds. GQA splits the KV heads across ranks; with
// more ranks than KV heads each rank holds one head (copies). MLA's latent is not split by head,
// so every rank holds all of it (engines that shard MLA by data parallelism use tensor_parallel 1).
Result<std::uint64_t> rank_bytes_per_token(const ModelKvLayout& m, const KvDtype& d,
                                           std::int64_t tp_signed) {
  if (m.attention == AttentionKind::kMla) return kv_bytes_per_token(m, d);
  const auto tp = static_cast<std::uint64_t>(tp_signed);
  const std::uint64_t heads = m.num_kv_heads;
  if (heads % tp != 0 && tp % heads != 0) {
    return Status::InvalidArgument("--tp " + std::to_string(tp) + " does not fit the model's " +
                                   std::to_string(heads) +
                                   " KV heads: one must be a multiple of the other");
  }
  const std::uint64_t heads_per_rank = std::max<std::uint64_t>(1, heads / tp);
  return 2ull * m.num_layers * heads_per_rank * m.head_dim * d.bytes;
}

// Rounds up, forgiving the last bits of a quotient that is a whole number on paper.
std::int64_t ceil_count(double v) { return static_cast<std::int64_t>(std::ceil(v * (1 - 1e-12))); }

}  // namespace

Status KvPlanInputs::validate() const {
  if (model.num_layers == 0 || model.elements_per_token_per_layer() == 0) {
    return Status::InvalidArgument("--model: the model has no KV layout (layers or heads are 0)");
  }
  if (dtype.bytes == 0) {
    return Status::InvalidArgument("--kv-dtype: none given, and the model names no dtype");
  }
  KVTIER_RETURN_IF_ERROR(must(tensor_parallel >= 1, "--tp", ">= 1", double(tensor_parallel)));
  KVTIER_RETURN_IF_ERROR(
      must(gpus_per_node >= 1, "--gpus-per-node", ">= 1", double(gpus_per_node)));
  KVTIER_RETURN_IF_ERROR(must(nodes >= 1, "--nodes", ">= 1", double(nodes)));
  KVTIER_RETURN_IF_ERROR(
      must(positive(prefill_tokens_per_s), "--prefill-tokens-per-s", "> 0", prefill_tokens_per_s));
  if (prompt_tokens_per_s) {
    KVTIER_RETURN_IF_ERROR(
        must(positive(*prompt_tokens_per_s), "--prompt-tokens-per-s", "> 0", *prompt_tokens_per_s));
  }
  KVTIER_RETURN_IF_ERROR(
      must(prompt_tokens >= 1, "--prompt-tokens", ">= 1", double(prompt_tokens)));
  KVTIER_RETURN_IF_ERROR(
      must(std::isfinite(reuse) && reuse >= 0 && reuse <= 1, "--reuse", "between 0 and 1", reuse));
  KVTIER_RETURN_IF_ERROR(must(chunk_tokens >= 1, "--chunk-tokens", ">= 1", double(chunk_tokens)));
  KVTIER_RETURN_IF_ERROR(
      must(non_negative(dram_retention_s), "--dram-retention", ">= 0 s", dram_retention_s));
  KVTIER_RETURN_IF_ERROR(must(non_negative(retention_s), "--retention", ">= 0 s", retention_s));
  KVTIER_RETURN_IF_ERROR(
      must(non_negative(ride_through_s), "--ride-through", ">= 0 s", ride_through_s));
  KVTIER_RETURN_IF_ERROR(
      must(positive(dram_bytes_per_s_per_gpu), "--dram-bw", "> 0 B/s", dram_bytes_per_s_per_gpu));
  KVTIER_RETURN_IF_ERROR(
      must(positive(nvme_bytes_per_s_per_node), "--nvme-bw", "> 0 B/s", nvme_bytes_per_s_per_node));
  KVTIER_RETURN_IF_ERROR(must(positive(network_bits_per_s_per_node), "--network-bw", "> 0 bit/s",
                              network_bits_per_s_per_node));
  KVTIER_RETURN_IF_ERROR(
      must(positive(nvme_drive_bytes), "--nvme-drive", "> 0 B", nvme_drive_bytes));
  KVTIER_RETURN_IF_ERROR(must(outbox_capacity_blocks >= 1, "--outbox-capacity-blocks", ">= 1",
                              double(outbox_capacity_blocks)));
  return Status::Ok();
}

Result<KvPlan> compute_kv_plan(const KvPlanInputs& in) {
  KVTIER_RETURN_IF_ERROR(in.validate());
  KvPlan p;
  p.in = in;
  const auto tp = static_cast<double>(in.tensor_parallel);
  const auto gpus = static_cast<double>(in.gpus_per_node);
  const auto chunk = static_cast<std::uint64_t>(in.chunk_tokens);

  // KV size.
  p.bytes_per_token = kv_bytes_per_token(in.model, in.dtype);
  Result<std::uint64_t> rank = rank_bytes_per_token(in.model, in.dtype, in.tensor_parallel);
  if (!rank.ok()) return rank.status();
  p.rank_bytes_per_token = *rank;
  p.stored_bytes_per_token =
      p.rank_bytes_per_token * static_cast<std::uint64_t>(in.tensor_parallel);
  p.bytes_per_chunk = p.bytes_per_token * chunk;
  p.block_bytes = p.rank_bytes_per_token * chunk;
  const auto stored = static_cast<double>(p.stored_bytes_per_token);

  // Rates: what is not found in the cache is computed, and what is computed is written.
  p.prompt_tokens_per_s_per_gpu = in.prompt_tokens_per_s.value_or(in.prefill_tokens_per_s);
  p.new_tokens_per_s_per_gpu = p.prompt_tokens_per_s_per_gpu * (1 - in.reuse);
  p.write_bytes_per_s_per_gpu = p.new_tokens_per_s_per_gpu * stored;
  p.write_bytes_per_s_per_node = p.write_bytes_per_s_per_gpu * gpus;
  p.write_bytes_per_s_cluster = p.write_bytes_per_s_per_node * static_cast<double>(in.nodes);
  p.load_bytes_per_s_per_gpu = p.prompt_tokens_per_s_per_gpu * in.reuse * stored;
  p.load_bytes_per_s_per_node = p.load_bytes_per_s_per_gpu * gpus;
  p.prefill_busy = p.new_tokens_per_s_per_gpu / in.prefill_tokens_per_s;
  p.blocks_per_s_per_node = p.write_bytes_per_s_per_node / static_cast<double>(p.block_bytes);

  // Capacity: a tier that keeps what was written for T seconds holds write rate x T. The outbox
  // records which blocks to upload, not their bytes (docs/SHARED_TIER.md), so an outage's writes
  // must stay on local NVMe until uploaded: the same bytes as retention when the outage is shorter.
  p.dram_bytes_per_gpu = p.write_bytes_per_s_per_gpu * in.dram_retention_s;
  p.dram_bytes_per_node = p.dram_bytes_per_gpu * gpus;
  p.nvme_retention_bytes_per_gpu = p.write_bytes_per_s_per_gpu * in.retention_s;
  p.nvme_ride_through_bytes_per_gpu = p.write_bytes_per_s_per_gpu * in.ride_through_s;
  p.nvme_bytes_per_gpu =
      std::max(p.nvme_retention_bytes_per_gpu, p.nvme_ride_through_bytes_per_gpu);
  p.nvme_bytes_per_node = p.nvme_bytes_per_gpu * gpus;
  p.nvme_drives_per_gpu = p.nvme_bytes_per_gpu / in.nvme_drive_bytes;
  p.nvme_drives_per_node = ceil_count(p.nvme_bytes_per_node / in.nvme_drive_bytes);
  p.outbox_blocks_per_node = p.blocks_per_s_per_node * in.ride_through_s;
  p.backlog_bytes_per_node = p.write_bytes_per_s_per_node * in.ride_through_s;
  const double network_bytes_per_s = in.network_bits_per_s_per_node / 8;
  const double drain = network_bytes_per_s - p.write_bytes_per_s_per_node;
  if (p.backlog_bytes_per_node == 0) {
    p.catch_up_s = 0.0;
  } else if (drain > 0) {
    p.catch_up_s = p.backlog_bytes_per_node / drain;
  }
  p.write_share_of_nvme = p.write_bytes_per_s_per_node / in.nvme_bytes_per_s_per_node;
  p.write_share_of_network = p.write_bytes_per_s_per_node / network_bytes_per_s;

  // Load versus recompute. An instance of tensor_parallel GPUs computes prefill_tokens_per_s x tp
  // tokens per second; each of its GPUs loads its own rank's bytes at the same time. Recompute
  // time N / (P x tp) equals load time N x rank_bytes / bandwidth at bandwidth P x stored_bytes.
  const double instance_prefill = in.prefill_tokens_per_s * tp;
  p.break_even_bytes_per_s_per_gpu = in.prefill_tokens_per_s * stored;
  const auto cached = static_cast<std::int64_t>(
      std::floor(in.reuse * static_cast<double>(in.prompt_tokens) + 1e-9));
  p.prefix_tokens = cached / in.chunk_tokens * in.chunk_tokens;  // only whole chunks have keys
  p.recompute_s = static_cast<double>(p.prefix_tokens) / instance_prefill;
  p.ttft_no_cache_s = static_cast<double>(in.prompt_tokens) / instance_prefill;
  const double rest_s = static_cast<double>(in.prompt_tokens - p.prefix_tokens) / instance_prefill;
  // NVMe and network bandwidth are the node's, shared by its GPUs; every byte still crosses the
  // GPU's own PCIe link, so no tier gives a GPU more than the DRAM (PCIe) figure.
  const double pcie = in.dram_bytes_per_s_per_gpu;
  const std::pair<const char*, double> tiers[] = {
      {"dram", pcie},
      {"nvme", std::min(in.nvme_bytes_per_s_per_node / gpus, pcie)},
      {"shared", std::min(network_bytes_per_s / gpus, pcie)},
  };
  for (const auto& [name, bandwidth] : tiers) {
    TierLoad t;
    t.tier = name;
    t.bytes_per_s_per_gpu = bandwidth;
    t.vs_break_even = bandwidth / p.break_even_bytes_per_s_per_gpu;
    t.load_beats_recompute = t.vs_break_even > 1;
    t.load_s = static_cast<double>(p.prefix_tokens) * static_cast<double>(p.rank_bytes_per_token) /
               bandwidth;
    t.ttft_s = t.load_s + rest_s;
    t.ttft_saved_s = p.recompute_s - t.load_s;
    p.tiers.push_back(t);
  }

  // Where the inputs contradict themselves, say so.
  if (p.prefill_busy > 1) {
    p.warnings.push_back("the uncached prompt tokens need " + number(p.prefill_busy) +
                         "x the GPUs' prefill throughput: the GPUs cannot keep up");
  }
  if (p.write_share_of_nvme > 1) {
    p.warnings.push_back(
        "a node writes KV faster than its NVMe bandwidth (--nvme-bw): "
        "NVMe cannot keep everything written");
  }
  if (!p.catch_up_s) {
    p.warnings.push_back(
        "a node writes KV at least as fast as its network uploads "
        "(--network-bw): the shared tier's outbox never drains");
  }
  if (p.outbox_blocks_per_node > static_cast<double>(in.outbox_capacity_blocks)) {
    p.warnings.push_back("the ride-through writes " +
                         printf_string("%.0f", std::ceil(p.outbox_blocks_per_node)) +
                         " blocks per node, more than the outbox holds (" +
                         std::to_string(in.outbox_capacity_blocks) +
                         "): raise [shared] outbox_capacity_blocks");
  }
  return p;
}

}  // namespace kvtier::plan
