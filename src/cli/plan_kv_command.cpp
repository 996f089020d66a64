// `kvtier plan kv`: KV bytes per token of a model, the KV write rate, DRAM and NVMe per GPU for a
// retention window and a shared-tier outage, and load versus recompute per tier (docs/PLAN.md).
//
//   kvtier plan kv --model <preset | config.json> --prefill-tokens-per-s N [--kv-dtype bf16]
//                  [--gpus-per-node 8] [--nodes 1] [--tp 1] [--prompt-tokens 8192] [--reuse 0.5]
//                  [--retention 1h] [--dram-retention 2m] [--ride-through 15m] [--json] ...
//   kvtier plan kv --list-models
//
// The arithmetic is src/plan/kv_plan.*, the reports src/plan/kv_report.*. Exit codes: 0 ok,
// 2 bad input (a flag, an unknown model, a config.json that lacks a field).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "plan/duration.h"
#include "plan/kv_plan.h"
#include "plan/kv_report.h"
#include "plan/model.h"
#include "plan/units.h"

namespace kvtier::cli {
namespace {

struct KvOptions {
  std::string model;
  std::string kv_dtype;
  bool list_models = false;
  bool json = false;
  std::int64_t tp = 1, gpus_per_node = 8, nodes = 1, prompt_tokens = 8192, chunk_tokens = 256;
  std::optional<double> prefill, prompt_rate;
  double reuse = 0.5;
  std::string dram_retention = "2m", retention = "1h", ride_through = "15m";
  std::string dram_bw = "50 GB/s", nvme_bw = "50 GB/s", network_bw = "400 Gbps";
  std::string nvme_drive = "3.84 TB";
  std::int64_t outbox_capacity_blocks = plan::kDefaultOutboxCapacityBlocks;
};

constexpr auto duration = parse_flag<plan::parse_duration_seconds, double>;
constexpr auto bandwidth = parse_flag<plan::parse_bandwidth, double>;

// The KV dtype: --kv-dtype, else the model's torch_dtype.
Result<plan::KvDtype> kv_dtype_for(const KvOptions& o, const plan::ModelKvLayout& m) {
  if (!o.kv_dtype.empty()) {
    Result<plan::KvDtype> d = plan::parse_kv_dtype(o.kv_dtype);
    if (!d.ok()) return flag_error("--kv-dtype", d.status());
    return d;
  }
  if (!m.default_kv_dtype.empty()) return plan::parse_kv_dtype(m.default_kv_dtype);
  if (!m.config_dtype.empty()) {
    return Status::InvalidArgument(m.name + ": torch_dtype \"" + m.config_dtype +
                                   "\" is not a KV dtype: pass --kv-dtype");
  }
  return Status::InvalidArgument(m.name + ": \"torch_dtype\" is missing: pass --kv-dtype");
}

Result<plan::KvPlanInputs> inputs_from(const KvOptions& o) {
  if (o.model.empty()) return Status::InvalidArgument("--model is required (see --list-models)");
  if (!o.prefill) return Status::InvalidArgument("--prefill-tokens-per-s is required");
  plan::KvPlanInputs in;
  Result<plan::ModelKvLayout> model = plan::resolve_model(o.model);
  if (!model.ok()) return model.status();
  in.model = std::move(model).value();
  Result<plan::KvDtype> dtype = kv_dtype_for(o, in.model);
  if (!dtype.ok()) return dtype.status();
  in.dtype = std::move(dtype).value();
  in.tensor_parallel = o.tp;
  in.gpus_per_node = o.gpus_per_node;
  in.nodes = o.nodes;
  in.prefill_tokens_per_s = *o.prefill;
  in.prompt_tokens_per_s = o.prompt_rate;
  in.prompt_tokens = o.prompt_tokens;
  in.reuse = o.reuse;
  in.chunk_tokens = o.chunk_tokens;
  in.outbox_capacity_blocks = o.outbox_capacity_blocks;
  KVTIER_RETURN_IF_ERROR(duration("--dram-retention", o.dram_retention, in.dram_retention_s));
  KVTIER_RETURN_IF_ERROR(duration("--retention", o.retention, in.retention_s));
  KVTIER_RETURN_IF_ERROR(duration("--ride-through", o.ride_through, in.ride_through_s));
  KVTIER_RETURN_IF_ERROR(bandwidth("--dram-bw", o.dram_bw, in.dram_bytes_per_s_per_gpu));
  KVTIER_RETURN_IF_ERROR(bandwidth("--nvme-bw", o.nvme_bw, in.nvme_bytes_per_s_per_node));
  double network_bytes = 0;
  KVTIER_RETURN_IF_ERROR(bandwidth("--network-bw", o.network_bw, network_bytes));
  in.network_bits_per_s_per_node = network_bytes * 8;
  KVTIER_RETURN_IF_ERROR(
      parse_flag<parse_byte_quantity>("--nvme-drive", o.nvme_drive, in.nvme_drive_bytes));
  return in;
}

int list_models() {
  std::printf("%-18s %-28s %-4s %14s\n", "preset", "Hugging Face repo", "attn", "bf16 B/token");
  for (const plan::ModelPreset& p : plan::model_presets()) {
    Result<plan::ModelKvLayout> m = plan::preset_model(p.name);
    const std::uint64_t bytes = m.ok() ? plan::kv_bytes_per_token(*m, {"bf16", 2}) : 0;
    std::printf("%-18.*s %-28.*s %-4.*s %14s\n", static_cast<int>(p.name.size()), p.name.data(),
                static_cast<int>(p.hf_repo.size()), p.hf_repo.data(), 3,
                plan::attention_kind_name(p.attention).data(),
                plan::format_thousands(bytes).c_str());
  }
  return kExitOk;
}

int run_plan_kv(const KvOptions& o) {
  if (o.list_models) return list_models();
  Result<plan::KvPlanInputs> in = inputs_from(o);
  Result<plan::KvPlan> plan =
      in.ok() ? plan::compute_kv_plan(*in) : Result<plan::KvPlan>(in.status());
  if (!plan.ok()) return command_error("plan kv", plan.status().message(), kExitUsage);
  const std::string out =
      o.json ? plan::render_kv_plan_json(*plan) : plan::render_kv_plan_text(*plan);
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

}  // namespace

void add_plan_kv_command(CLI::App& plan, CommandRunner* run) {
  auto o = std::make_shared<KvOptions>();
  CLI::App* cmd = plan.add_subcommand(
      "kv",
      "KV bytes per token, write rate, DRAM and NVMe per GPU, load versus recompute per tier");
  cmd->add_option("--model", o->model,
                  "a preset (--list-models) or a Hugging Face config.json (or its directory)");
  cmd->add_flag("--list-models", o->list_models, "list the presets and exit");
  cmd->add_option(
      "--kv-dtype", o->kv_dtype,
      "bf16, fp16, fp32, fp8 (fp8_e4m3), fp8_e5m2, int8 (default: the model's torch_dtype)");
  cmd->add_option("--prefill-tokens-per-s", o->prefill,
                  "prompt tokens one GPU computes per second in prefill (required)");
  cmd->add_option(
      "--prompt-tokens-per-s", o->prompt_rate,
      "prompt tokens arriving per GPU per second, cached or not (default: the prefill rate)");
  cmd->add_option("--gpus-per-node", o->gpus_per_node, "GPUs per node (default 8)");
  cmd->add_option("--nodes", o->nodes, "nodes (default 1)");
  cmd->add_option("--tp", o->tp, "tensor-parallel GPUs per model instance (default 1)");
  cmd->add_option("--prompt-tokens", o->prompt_tokens,
                  "prompt length for the TTFT figures (default 8192)");
  cmd->add_option("--reuse", o->reuse,
                  "fraction of prompt tokens found in the cache, 0..1 (default 0.5)");
  cmd->add_option("--chunk-tokens", o->chunk_tokens, "tokens per block (default 256)");
  cmd->add_option("--dram-retention", o->dram_retention,
                  "how long DRAM keeps what was written (default 2m)");
  cmd->add_option("--retention", o->retention,
                  "how long local NVMe keeps what was written (default 1h)");
  cmd->add_option("--ride-through", o->ride_through,
                  "shared-tier outage the local tiers buffer (default 15m)");
  cmd->add_option("--dram-bw", o->dram_bw,
                  "host DRAM to one GPU (default \"50 GB/s\": PCIe Gen5 x16)");
  cmd->add_option("--nvme-bw", o->nvme_bw,
                  "a node's local NVMe read bandwidth (default \"50 GB/s\")");
  cmd->add_option("--network-bw", o->network_bw,
                  "a node's network to the shared tier (default \"400 Gbps\")");
  cmd->add_option("--nvme-drive", o->nvme_drive,
                  "the NVMe drive size to count in (default \"3.84 TB\")");
  cmd->add_option("--outbox-capacity-blocks", o->outbox_capacity_blocks,
                  "[shared] outbox_capacity_blocks (default 1048576)");
  cmd->add_flag("--json", o->json, "print JSON (the same numbers, unrounded) instead of the table");
  cmd->callback([o, run] { *run = [o] { return run_plan_kv(*o); }; });
}

}  // namespace kvtier::cli
