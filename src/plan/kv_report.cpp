// render_kv_plan_text / render_kv_plan_json: see kv_report.h.
#include "plan/kv_report.h"

#include <cmath>
#include <cstdarg>

#include <nlohmann/json.hpp>

#include "coding/printf_string.h"
#include "plan/duration.h"
#include "plan/units.h"

namespace kvtier::plan {
namespace {

using nlohmann::json;

// printf appended to `out` (the table is columns of fixed width).
[[gnu::format(printf, 2, 3)]] void add(std::string& out, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  out += vprintf_string(fmt, args);
  va_end(args);
}

std::string percent(double share) {
  return printf_string(share < 0.1 && share > 0 ? "%.1f%%" : "%.0f%%", share * 100);
}

std::string sig3(double v) {
  const double a = std::fabs(v);
  return printf_string("%.*f", a < 9.995 ? 2 : a < 99.95 ? 1 : 0, v);
}

std::string gbit(double bits_per_s) { return printf_string("%g Gbit/s", bits_per_s / 1e9); }

std::string tier_title(const std::string& tier) {
  if (tier == "dram") return "DRAM";
  if (tier == "nvme") return "local NVMe";
  return "shared tier";
}

void kv_section(std::string& out, const KvPlan& p) {
  const KvPlanInputs& in = p.in;
  add(out, "KV size\n");
  add(out, "  %-22s %14s B  %s x %u B (%s)\n", "per token",
      format_thousands(p.bytes_per_token).c_str(), in.model.formula().c_str(), in.dtype.bytes,
      in.dtype.name.c_str());
  add(out, "  %-22s %14s B  %s, %lld tokens\n", "per chunk",
      format_thousands(p.bytes_per_chunk).c_str(), format_bytes(p.bytes_per_chunk).c_str(),
      static_cast<long long>(in.chunk_tokens));
  if (in.tensor_parallel > 1) {
    add(out, "  %-22s %14s B  one rank's block: %s\n", "per token per TP rank",
        format_thousands(p.rank_bytes_per_token).c_str(), format_bytes(p.block_bytes).c_str());
    add(out, "  %-22s %14s B  all %lld ranks%s\n", "stored per token",
        format_thousands(p.stored_bytes_per_token).c_str(),
        static_cast<long long>(in.tensor_parallel),
        p.stored_bytes_per_token > p.bytes_per_token ? " (ranks hold copies)" : "");
  }
}

void rates_section(std::string& out, const KvPlan& p) {
  const double g = static_cast<double>(p.in.gpus_per_node);
  const double n = static_cast<double>(p.in.nodes);
  add(out, "\n%-20s %11s %13s %13s\n", "Rates", "per GPU", "per node", "cluster");
  auto row = [&](const char* label, double per_gpu, bool bytes) {
    auto f = [&](double v) { return bytes ? format_bandwidth(v) : format_thousands(v); };
    add(out, "  %-18s %11s %13s %13s\n", label, f(per_gpu).c_str(), f(per_gpu * g).c_str(),
        f(per_gpu * g * n).c_str());
  };
  row("prompt tokens/s", p.prompt_tokens_per_s_per_gpu, false);
  row("new tokens/s", p.new_tokens_per_s_per_gpu, false);
  row("KV written", p.write_bytes_per_s_per_gpu, true);
  row("KV loaded", p.load_bytes_per_s_per_gpu, true);
  add(out, "  prefill busy: %s of the prefill throughput computes the uncached tokens\n",
      percent(p.prefill_busy).c_str());
}

void storage_section(std::string& out, const KvPlan& p) {
  const KvPlanInputs& in = p.in;
  add(out, "\n%-26s %11s %13s\n", "Local storage", "per GPU", "per node");
  auto row = [&](const std::string& label, double per_gpu, double per_node) {
    add(out, "  %-24s %11s %13s\n", label.c_str(), format_bytes(per_gpu).c_str(),
        format_bytes(per_node).c_str());
  };
  const double g = static_cast<double>(in.gpus_per_node);
  row("DRAM (" + format_duration_compact(in.dram_retention_s) + ")", p.dram_bytes_per_gpu,
      p.dram_bytes_per_node);
  row("NVMe retention (" + format_duration_compact(in.retention_s) + ")",
      p.nvme_retention_bytes_per_gpu, p.nvme_retention_bytes_per_gpu * g);
  row("NVMe ride-through (" + format_duration_compact(in.ride_through_s) + ")",
      p.nvme_ride_through_bytes_per_gpu, p.nvme_ride_through_bytes_per_gpu * g);
  row("NVMe needed", p.nvme_bytes_per_gpu, p.nvme_bytes_per_node);
  add(out, "  %-24s %11s %13lld\n", ("NVMe drives of " + format_bytes(in.nvme_drive_bytes)).c_str(),
      sig3(p.nvme_drives_per_gpu).c_str(), static_cast<long long>(p.nvme_drives_per_node));
  add(out, "  ratio: 1 GPU : %s DRAM : %s NVMe\n", format_bytes(p.dram_bytes_per_gpu).c_str(),
      format_bytes(p.nvme_bytes_per_gpu).c_str());
}

void outage_section(std::string& out, const KvPlan& p) {
  const KvPlanInputs& in = p.in;
  add(out, "\nShared-tier outage (%s)\n", format_duration_compact(in.ride_through_s).c_str());
  add(out, "  outbox: %s blocks per node of %s (capacity %s)\n",
      format_thousands(std::ceil(p.outbox_blocks_per_node)).c_str(),
      format_bytes(p.block_bytes).c_str(), format_thousands(in.outbox_capacity_blocks).c_str());
  add(out, "  backlog: %s per node, uploaded %s after the tier returns (%s less the writes)\n",
      format_bytes(p.backlog_bytes_per_node).c_str(),
      p.catch_up_s ? ("in " + format_duration_compact(*p.catch_up_s)).c_str() : "never",
      gbit(in.network_bits_per_s_per_node).c_str());
  add(out, "  a node's writes use %s of its NVMe (%s) and %s of its network (%s)\n",
      percent(p.write_share_of_nvme).c_str(),
      format_bandwidth(in.nvme_bytes_per_s_per_node).c_str(),
      percent(p.write_share_of_network).c_str(), gbit(in.network_bits_per_s_per_node).c_str());
}

void load_section(std::string& out, const KvPlan& p) {
  const KvPlanInputs& in = p.in;
  add(out, "\nLoad versus recompute: break-even %s per GPU (%s tokens/s x %s B)\n",
      format_bandwidth(p.break_even_bytes_per_s_per_gpu).c_str(),
      format_thousands(in.prefill_tokens_per_s).c_str(),
      format_thousands(p.stored_bytes_per_token).c_str());
  add(out, "  cached prefix %s of %s tokens: recompute %s, TTFT without cache %s\n",
      format_thousands(p.prefix_tokens).c_str(), format_thousands(in.prompt_tokens).c_str(),
      format_duration_compact(p.recompute_s).c_str(),
      format_duration_compact(p.ttft_no_cache_s).c_str());
  add(out, "  %-12s %12s %13s %9s %9s %9s  %s\n", "tier", "per GPU", "x break-even", "load", "TTFT",
      "saved", "faster");
  for (const TierLoad& t : p.tiers) {
    add(out, "  %-12s %12s %13s %9s %9s %9s  %s\n", tier_title(t.tier).c_str(),
        format_bandwidth(t.bytes_per_s_per_gpu).c_str(), sig3(t.vs_break_even).c_str(),
        format_duration_compact(t.load_s).c_str(), format_duration_compact(t.ttft_s).c_str(),
        format_duration_compact(t.ttft_saved_s).c_str(),
        t.load_beats_recompute ? "load" : "recompute");
  }
}

}  // namespace

std::string render_kv_plan_text(const KvPlan& p) {
  const KvPlanInputs& in = p.in;
  std::string out;
  add(out, "kvtier plan kv: %s, %s KV\n", in.model.name.c_str(), in.dtype.name.c_str());
  add(out, "  figures: %s\n", in.model.source.c_str());
  add(out,
      "  %lld node(s) x %lld GPUs, TP %lld; prefill %s tokens/s per GPU; prompts of %s tokens, "
      "%s reused\n",
      static_cast<long long>(in.nodes), static_cast<long long>(in.gpus_per_node),
      static_cast<long long>(in.tensor_parallel), format_thousands(in.prefill_tokens_per_s).c_str(),
      format_thousands(in.prompt_tokens).c_str(), percent(in.reuse).c_str());
  add(out, "\n");
  kv_section(out, p);
  rates_section(out, p);
  storage_section(out, p);
  outage_section(out, p);
  load_section(out, p);
  for (const std::string& w : p.warnings) add(out, "\nwarning: %s", w.c_str());
  if (!p.warnings.empty()) out += "\n";
  return out;
}

std::string render_kv_plan_json(const KvPlan& p) {
  const KvPlanInputs& in = p.in;
  const ModelKvLayout& m = in.model;
  json j;
  j["model"] = {{"name", m.name},
                {"source", m.source},
                {"attention", std::string(attention_kind_name(m.attention))},
                {"num_layers", m.num_layers},
                {"num_kv_heads", m.num_kv_heads},
                {"head_dim", m.head_dim},
                {"kv_lora_rank", m.kv_lora_rank},
                {"qk_rope_head_dim", m.qk_rope_head_dim},
                {"formula", m.formula()},
                {"kv_dtype", in.dtype.name},
                {"dtype_bytes", in.dtype.bytes}};
  j["inputs"] = {{"tensor_parallel", in.tensor_parallel},
                 {"gpus_per_node", in.gpus_per_node},
                 {"nodes", in.nodes},
                 {"prefill_tokens_per_s", in.prefill_tokens_per_s},
                 {"prompt_tokens_per_s", p.prompt_tokens_per_s_per_gpu},
                 {"prompt_tokens", in.prompt_tokens},
                 {"reuse", in.reuse},
                 {"chunk_tokens", in.chunk_tokens},
                 {"dram_retention_s", in.dram_retention_s},
                 {"retention_s", in.retention_s},
                 {"ride_through_s", in.ride_through_s},
                 {"dram_bytes_per_s_per_gpu", in.dram_bytes_per_s_per_gpu},
                 {"nvme_bytes_per_s_per_node", in.nvme_bytes_per_s_per_node},
                 {"network_bits_per_s_per_node", in.network_bits_per_s_per_node},
                 {"nvme_drive_bytes", in.nvme_drive_bytes},
                 {"outbox_capacity_blocks", in.outbox_capacity_blocks}};
  j["kv"] = {{"bytes_per_token", p.bytes_per_token},
             {"rank_bytes_per_token", p.rank_bytes_per_token},
             {"stored_bytes_per_token", p.stored_bytes_per_token},
             {"bytes_per_chunk", p.bytes_per_chunk},
             {"block_bytes", p.block_bytes}};
  j["rates"] = {{"prompt_tokens_per_s_per_gpu", p.prompt_tokens_per_s_per_gpu},
                {"new_tokens_per_s_per_gpu", p.new_tokens_per_s_per_gpu},
                {"write_bytes_per_s_per_gpu", p.write_bytes_per_s_per_gpu},
                {"write_bytes_per_s_per_node", p.write_bytes_per_s_per_node},
                {"write_bytes_per_s_cluster", p.write_bytes_per_s_cluster},
                {"load_bytes_per_s_per_gpu", p.load_bytes_per_s_per_gpu},
                {"load_bytes_per_s_per_node", p.load_bytes_per_s_per_node},
                {"prefill_busy", p.prefill_busy},
                {"blocks_per_s_per_node", p.blocks_per_s_per_node}};
  j["capacity"] = {{"dram_bytes_per_gpu", p.dram_bytes_per_gpu},
                   {"dram_bytes_per_node", p.dram_bytes_per_node},
                   {"nvme_retention_bytes_per_gpu", p.nvme_retention_bytes_per_gpu},
                   {"nvme_ride_through_bytes_per_gpu", p.nvme_ride_through_bytes_per_gpu},
                   {"nvme_bytes_per_gpu", p.nvme_bytes_per_gpu},
                   {"nvme_bytes_per_node", p.nvme_bytes_per_node},
                   {"nvme_drives_per_gpu", p.nvme_drives_per_gpu},
                   {"nvme_drives_per_node", p.nvme_drives_per_node},
                   {"outbox_blocks_per_node", p.outbox_blocks_per_node},
                   {"backlog_bytes_per_node", p.backlog_bytes_per_node},
                   {"catch_up_s", p.catch_up_s ? json(*p.catch_up_s) : json(nullptr)},
                   {"write_share_of_nvme", p.write_share_of_nvme},
                   {"write_share_of_network", p.write_share_of_network}};
  json tiers = json::array();
  for (const TierLoad& t : p.tiers) {
    tiers.push_back({{"tier", t.tier},
                     {"bytes_per_s_per_gpu", t.bytes_per_s_per_gpu},
                     {"vs_break_even", t.vs_break_even},
                     {"load_beats_recompute", t.load_beats_recompute},
                     {"load_s", t.load_s},
                     {"ttft_s", t.ttft_s},
                     {"ttft_saved_s", t.ttft_saved_s}});
  }
  j["load_vs_recompute"] = {{"break_even_bytes_per_s_per_gpu", p.break_even_bytes_per_s_per_gpu},
                            {"prefix_tokens", p.prefix_tokens},
                            {"recompute_s", p.recompute_s},
                            {"ttft_no_cache_s", p.ttft_no_cache_s},
                            {"tiers", tiers}};
  j["warnings"] = p.warnings;
  return j.dump(2) + "\n";
}

}  // namespace kvtier::plan
