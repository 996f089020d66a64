// compute_kv_plan against numbers worked out by hand: the worked example of docs/PLAN.md
// ("kvtier plan kv"), tensor parallelism (split heads, copied heads, MLA copies), whole-chunk
// prefixes, the warnings, and a clear error for each bad input.
#include "plan/kv_plan.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "plan/duration.h"
#include "plan/kv_report.h"

namespace kvtier::plan {
namespace {

KvPlanInputs inputs_for(std::string_view preset) {
  KvPlanInputs in;
  Result<ModelKvLayout> m = preset_model(preset);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  if (m.ok()) in.model = *m;
  in.dtype = {"bf16", 2};
  in.prefill_tokens_per_s = 10'000;
  return in;
}

// docs/PLAN.md's worked example: Llama-3.1-70B, BF16, 4 nodes of 8 GPUs, 10,000 prefill tokens/s
// per GPU, 8,192-token prompts with half of them cached, DRAM 2m, NVMe 1h, a 15m outage, and a
// 200 Gbps network (the other bandwidths are the defaults).
KvPlanInputs worked_example() {
  KvPlanInputs in = inputs_for("Llama-3.1-70B");
  in.nodes = 4;
  in.network_bits_per_s_per_node = 200e9;
  return in;
}

TEST(PlanKv, WorkedExampleOfTheDocs) {
  Result<KvPlan> r = compute_kv_plan(worked_example());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const KvPlan& p = *r;
  // KV size: 2 x 80 x 8 x 128 x 2 B, and 256 of them per chunk.
  EXPECT_EQ(p.bytes_per_token, 327'680u);
  EXPECT_EQ(p.stored_bytes_per_token, 327'680u);
  EXPECT_EQ(p.bytes_per_chunk, 83'886'080u);
  EXPECT_EQ(p.block_bytes, 83'886'080u);
  // Rates: 10,000 prompt tokens/s, half cached: 5,000 new tokens/s x 327,680 B.
  EXPECT_DOUBLE_EQ(p.prompt_tokens_per_s_per_gpu, 10'000);
  EXPECT_DOUBLE_EQ(p.new_tokens_per_s_per_gpu, 5'000);
  EXPECT_DOUBLE_EQ(p.write_bytes_per_s_per_gpu, 1.6384e9);
  EXPECT_DOUBLE_EQ(p.write_bytes_per_s_per_node, 13.1072e9);
  EXPECT_DOUBLE_EQ(p.write_bytes_per_s_cluster, 52.4288e9);
  EXPECT_DOUBLE_EQ(p.load_bytes_per_s_per_gpu, 1.6384e9);
  EXPECT_DOUBLE_EQ(p.prefill_busy, 0.5);
  EXPECT_DOUBLE_EQ(p.blocks_per_s_per_node, 156.25);
  // Capacity: write rate x 120 s, x 3,600 s, x 900 s.
  EXPECT_DOUBLE_EQ(p.dram_bytes_per_gpu, 196.608e9);
  EXPECT_DOUBLE_EQ(p.dram_bytes_per_node, 1572.864e9);
  EXPECT_DOUBLE_EQ(p.nvme_retention_bytes_per_gpu, 5898.24e9);
  EXPECT_DOUBLE_EQ(p.nvme_ride_through_bytes_per_gpu, 1474.56e9);
  EXPECT_DOUBLE_EQ(p.nvme_bytes_per_gpu, 5898.24e9);
  EXPECT_DOUBLE_EQ(p.nvme_bytes_per_node, 47185.92e9);
  EXPECT_DOUBLE_EQ(p.nvme_drives_per_gpu, 1.536);
  EXPECT_EQ(p.nvme_drives_per_node, 13);  // 12.288 rounded up
  EXPECT_DOUBLE_EQ(p.outbox_blocks_per_node, 140'625);
  EXPECT_DOUBLE_EQ(p.backlog_bytes_per_node, 11796.48e9);
  ASSERT_TRUE(p.catch_up_s.has_value());
  EXPECT_NEAR(*p.catch_up_s, 11796.48e9 / (25e9 - 13.1072e9), 1e-9);  // 991.9 s
  EXPECT_DOUBLE_EQ(p.write_share_of_nvme, 0.262144);
  EXPECT_DOUBLE_EQ(p.write_share_of_network, 0.524288);
  // Load versus recompute: break-even 10,000 x 327,680 B/s; prefix 4,096 tokens.
  EXPECT_DOUBLE_EQ(p.break_even_bytes_per_s_per_gpu, 3.2768e9);
  EXPECT_EQ(p.prefix_tokens, 4096);
  EXPECT_DOUBLE_EQ(p.recompute_s, 0.4096);
  EXPECT_DOUBLE_EQ(p.ttft_no_cache_s, 0.8192);
  ASSERT_EQ(p.tiers.size(), 3u);
  const TierLoad& dram = p.tiers[0];
  EXPECT_EQ(dram.tier, "dram");
  EXPECT_DOUBLE_EQ(dram.bytes_per_s_per_gpu, 50e9);
  EXPECT_DOUBLE_EQ(dram.vs_break_even, 50e9 / 3.2768e9);  // 15.26
  EXPECT_DOUBLE_EQ(dram.load_s, 4096 * 327680 / 50e9);    // 26.8 ms
  EXPECT_DOUBLE_EQ(dram.ttft_saved_s, 0.4096 - 4096 * 327680 / 50e9);
  EXPECT_DOUBLE_EQ(dram.ttft_s, 4096 * 327680 / 50e9 + 0.4096);
  EXPECT_TRUE(dram.load_beats_recompute);
  const TierLoad& nvme = p.tiers[1];
  EXPECT_EQ(nvme.tier, "nvme");
  EXPECT_DOUBLE_EQ(nvme.bytes_per_s_per_gpu, 6.25e9);  // 50 GB/s shared by 8 GPUs
  EXPECT_DOUBLE_EQ(nvme.load_s, 0.2147483648);
  EXPECT_TRUE(nvme.load_beats_recompute);
  const TierLoad& shared = p.tiers[2];
  EXPECT_EQ(shared.tier, "shared");
  EXPECT_DOUBLE_EQ(shared.bytes_per_s_per_gpu, 3.125e9);       // 200 Gbps = 25 GB/s over 8 GPUs
  EXPECT_DOUBLE_EQ(shared.vs_break_even, 3.125e9 / 3.2768e9);  // 0.954: slower than recompute
  EXPECT_DOUBLE_EQ(shared.load_s, 0.4294967296);
  EXPECT_LT(shared.ttft_saved_s, 0);
  EXPECT_FALSE(shared.load_beats_recompute);
  EXPECT_TRUE(p.warnings.empty());
}

TEST(PlanKv, WorkedExampleTableShowsTheRoundedFigures) {
  Result<KvPlan> p = compute_kv_plan(worked_example());
  ASSERT_TRUE(p.ok());
  const std::string text = render_kv_plan_text(*p);
  SCOPED_TRACE(text);
  for (const char* want : {"327,680 B",
                           "83,886,080 B",
                           "1.64 GB/s",
                           "13.1 GB/s",
                           "52.4 GB/s",
                           "197 GB",
                           "1.57 TB",
                           "5.90 TB",
                           "47.2 TB",
                           "1.47 TB",
                           "1.54",
                           " 13\n",
                           "140,625 blocks",
                           "uploaded in 16m 32s",
                           "break-even 3.28 GB/s per GPU",
                           "recompute 410ms",
                           "26.8ms",
                           "215ms",
                           "429ms",
                           "recompute\n",
                           "1 GPU : 197 GB DRAM : 5.90 TB NVMe"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want;
  }
}

// docs/PLAN.md's worked example quotes these figures: each must be what compute_kv_plan gives.
TEST(PlanKv, DocsWorkedExampleQuotesTheseNumbers) {
  std::ifstream in(std::string(KVTIER_SOURCE_DIR) + "/docs/PLAN.md");
  ASSERT_TRUE(in) << "docs/PLAN.md";
  std::ostringstream all;
  all << in.rdbuf();
  const std::string doc = all.str();
  const std::size_t begin = doc.find("### Worked example");
  const std::size_t end = doc.find("### JSON", begin);
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const std::string example = doc.substr(begin, end - begin);
  Result<KvPlan> r = compute_kv_plan(worked_example());
  ASSERT_TRUE(r.ok());
  const KvPlan& p = *r;
  auto f = [](const char* fmt, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return std::string(buf);
  };
  const std::string quoted[] = {
      "kvtier plan kv --model Llama-3.1-70B --prefill-tokens-per-s 10000 --nodes 4 "
      "--network-bw \"200 Gbps\"",
      format_thousands(p.bytes_per_token) + " B",
      format_thousands(p.bytes_per_chunk) + " B",
      "| " + format_thousands(p.new_tokens_per_s_per_gpu) + " |",
      f("%.4f GB/s |", p.write_bytes_per_s_per_gpu / 1e9),
      f("%.4f GB/s, ", p.write_bytes_per_s_per_node / 1e9) +
          f("%.4f GB/s |", p.write_bytes_per_s_cluster / 1e9),
      f("%.3f GB (", p.dram_bytes_per_gpu / 1e9),
      f("%.5f TB (", p.nvme_bytes_per_gpu / 1e12),
      f("%.5f TB: inside", p.nvme_ride_through_bytes_per_gpu / 1e12),
      f("%.3f per GPU", p.nvme_drives_per_gpu) +
          f("; 12.29, so %.0f per node", double(p.nvme_drives_per_node)),
      format_thousands(p.outbox_blocks_per_node) + " blocks per node",
      f("%.1f s (16m 32s)", *p.catch_up_s),
      f("%.4f GB/s |", p.break_even_bytes_per_s_per_gpu / 1e9),
      format_thousands(double(p.prefix_tokens)) + " tokens; " + f("%.1f ms", p.recompute_s * 1e3),
      f("load %.1f ms, ", p.tiers[0].load_s * 1e3) + f("%.1fx", p.tiers[0].vs_break_even) +
          f(" break-even, saves %.1f ms", p.tiers[0].ttft_saved_s * 1e3),
      f("load %.1f ms, ", p.tiers[1].load_s * 1e3) + f("%.2fx", p.tiers[1].vs_break_even) +
          f(", saves %.1f ms", p.tiers[1].ttft_saved_s * 1e3),
      f("load %.1f ms, ", p.tiers[2].load_s * 1e3) + f("%.2fx", p.tiers[2].vs_break_even) +
          f(": recomputing is %.1f ms faster", -p.tiers[2].ttft_saved_s * 1e3),
  };
  for (const std::string& q : quoted) EXPECT_NE(example.find(q), std::string::npos) << q;
}

TEST(PlanKv, PromptRateAndReuseSetTheWrites) {
  KvPlanInputs in = inputs_for("Llama-3.1-8B");
  in.prompt_tokens_per_s = 4'000;
  in.reuse = 0.75;
  Result<KvPlan> p = compute_kv_plan(in);
  ASSERT_TRUE(p.ok());
  EXPECT_DOUBLE_EQ(p->new_tokens_per_s_per_gpu, 1'000);
  EXPECT_DOUBLE_EQ(p->write_bytes_per_s_per_gpu, 1'000.0 * 131'072);
  EXPECT_DOUBLE_EQ(p->load_bytes_per_s_per_gpu, 3'000.0 * 131'072);
  EXPECT_DOUBLE_EQ(p->prefill_busy, 0.1);
  // 0.75 x 8,192 = 6,144 tokens = 24 chunks exactly.
  EXPECT_EQ(p->prefix_tokens, 6'144);

  in.reuse = 1;  // everything cached: nothing written, nothing to buffer
  p = compute_kv_plan(in);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->write_bytes_per_s_per_gpu, 0);
  EXPECT_EQ(p->nvme_bytes_per_gpu, 0);
  ASSERT_TRUE(p->catch_up_s.has_value());
  EXPECT_EQ(*p->catch_up_s, 0);
  EXPECT_EQ(p->prefix_tokens, 8'192);
}

TEST(PlanKv, PrefixCountsWholeChunksOnly) {
  KvPlanInputs in = inputs_for("Llama-3.1-8B");
  in.prompt_tokens = 1'000;
  in.reuse = 0.6;  // 600 cached tokens = 2 chunks of 256 (512); 88 are recomputed
  Result<KvPlan> p = compute_kv_plan(in);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->prefix_tokens, 512);
  EXPECT_DOUBLE_EQ(p->recompute_s, 512 / 10'000.0);
  EXPECT_DOUBLE_EQ(p->tiers[0].ttft_s, 512 * 131'072 / 50e9 + 488 / 10'000.0);
  in.prompt_tokens = 255;  // shorter than a chunk: nothing is cached
  p = compute_kv_plan(in);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->prefix_tokens, 0);
  EXPECT_EQ(p->tiers[0].ttft_saved_s, 0);
}

TEST(PlanKv, TensorParallelSplitsHeadsAndCountsCopies) {
  // Llama-3.1-70B (8 KV heads) on TP 4: each rank holds 2 heads, no copies.
  KvPlanInputs in = inputs_for("Llama-3.1-70B");
  in.tensor_parallel = 4;
  Result<KvPlan> p = compute_kv_plan(in);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->rank_bytes_per_token, 81'920u);
  EXPECT_EQ(p->stored_bytes_per_token, 327'680u);
  EXPECT_EQ(p->block_bytes, 81'920u * 256);
  // Per GPU the instance computes 4 x 10,000 tokens/s: 4,096 tokens take 102.4 ms, and each GPU
  // loads its 81,920 B per token at the same time.
  EXPECT_DOUBLE_EQ(p->recompute_s, 4096 / 40'000.0);
  EXPECT_DOUBLE_EQ(p->tiers[0].load_s, 4096.0 * 81'920 / 50e9);
  EXPECT_DOUBLE_EQ(p->break_even_bytes_per_s_per_gpu, 10'000.0 * 327'680);
  // TP 16: two ranks per KV head, so twice the bytes are stored.
  in.tensor_parallel = 16;
  p = compute_kv_plan(in);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->rank_bytes_per_token, 40'960u);
  EXPECT_EQ(p->stored_bytes_per_token, 655'360u);
  EXPECT_DOUBLE_EQ(p->write_bytes_per_s_per_gpu, 5'000.0 * 655'360);
  // TP 3 does not divide 8 heads.
  in.tensor_parallel = 3;
  Status s = compute_kv_plan(in).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--tp 3"), std::string::npos) << s.message();
  // MLA: every rank holds the whole latent.
  KvPlanInputs mla = inputs_for("DeepSeek-V3");
  mla.tensor_parallel = 8;
  p = compute_kv_plan(mla);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->bytes_per_token, 70'272u);
  EXPECT_EQ(p->rank_bytes_per_token, 70'272u);
  EXPECT_EQ(p->stored_bytes_per_token, 8u * 70'272);
}

TEST(PlanKv, WarnsWhenTheInputsDoNotFit) {
  KvPlanInputs in = inputs_for("Llama-3.1-405B");
  in.prompt_tokens_per_s = 30'000;  // 15,000 new tokens/s against 10,000 of prefill
  in.reuse = 0.5;
  in.ride_through_s = 3600;
  Result<KvPlan> p = compute_kv_plan(in);
  ASSERT_TRUE(p.ok());
  // 15,000 x 516,096 B x 8 GPUs = 61.9 GB/s per node: more than NVMe (50 GB/s) and the network.
  std::string all;
  for (const std::string& w : p->warnings) all += w + "\n";
  EXPECT_NE(all.find("cannot keep up"), std::string::npos) << all;
  EXPECT_NE(all.find("--nvme-bw"), std::string::npos) << all;
  EXPECT_NE(all.find("never drains"), std::string::npos) << all;
  EXPECT_NE(all.find("outbox_capacity_blocks"), std::string::npos) << all;
  EXPECT_FALSE(p->catch_up_s.has_value());
  EXPECT_NE(render_kv_plan_text(*p).find("uploaded never"), std::string::npos);
}

TEST(PlanKv, BadInputsNameTheFlag) {
  struct Case {
    const char* flag;
    void (*set)(KvPlanInputs&);
  };
  const Case cases[] = {
      {"--prefill-tokens-per-s", [](KvPlanInputs& in) { in.prefill_tokens_per_s = 0; }},
      {"--prefill-tokens-per-s", [](KvPlanInputs& in) { in.prefill_tokens_per_s = -5; }},
      {"--prompt-tokens-per-s", [](KvPlanInputs& in) { in.prompt_tokens_per_s = -1; }},
      {"--gpus-per-node", [](KvPlanInputs& in) { in.gpus_per_node = 0; }},
      {"--nodes", [](KvPlanInputs& in) { in.nodes = -2; }},
      {"--tp", [](KvPlanInputs& in) { in.tensor_parallel = 0; }},
      {"--prompt-tokens", [](KvPlanInputs& in) { in.prompt_tokens = 0; }},
      {"--reuse", [](KvPlanInputs& in) { in.reuse = 1.5; }},
      {"--reuse", [](KvPlanInputs& in) { in.reuse = -0.1; }},
      {"--chunk-tokens", [](KvPlanInputs& in) { in.chunk_tokens = 0; }},
      {"--retention", [](KvPlanInputs& in) { in.retention_s = -1; }},
      {"--dram-bw", [](KvPlanInputs& in) { in.dram_bytes_per_s_per_gpu = 0; }},
      {"--nvme-bw", [](KvPlanInputs& in) { in.nvme_bytes_per_s_per_node = -1; }},
      {"--network-bw", [](KvPlanInputs& in) { in.network_bits_per_s_per_node = 0; }},
      {"--nvme-drive", [](KvPlanInputs& in) { in.nvme_drive_bytes = 0; }},
      {"--outbox-capacity-blocks", [](KvPlanInputs& in) { in.outbox_capacity_blocks = 0; }},
      {"--kv-dtype", [](KvPlanInputs& in) { in.dtype = {}; }},
  };
  for (const Case& c : cases) {
    KvPlanInputs in = inputs_for("Llama-3.1-8B");
    c.set(in);
    Status s = compute_kv_plan(in).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.flag;
    EXPECT_EQ(s.message().rfind(c.flag, 0), 0u) << c.flag << ": " << s.message();
  }
}

TEST(PlanDuration, ParsesAndFormats) {
  struct Case {
    const char* text;
    double seconds;
  };
  for (const Case& c : {Case{"30s", 30}, Case{"15m", 900}, Case{"2h", 7200}, Case{"1d", 86400},
                        Case{"1h30m", 5400}, Case{"1h 30m", 5400}, Case{"1.5h", 5400},
                        Case{"500ms", 0.5}, Case{"0", 0}, Case{"10min", 600}, Case{" 2H ", 7200}}) {
    Result<double> d = parse_duration_seconds(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status().to_string();
    EXPECT_DOUBLE_EQ(*d, c.seconds) << c.text;
  }
  for (const char* bad : {"", "15", "-5m", "5x", "h", "1..5h", "1h 2"}) {
    Result<double> d = parse_duration_seconds(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_NE(d.status().message().find("bad duration"), std::string::npos) << d.status().message();
  }
  EXPECT_EQ(format_duration_compact(0), "0s");
  EXPECT_EQ(format_duration_compact(0.0268), "26.8ms");
  EXPECT_EQ(format_duration_compact(45), "45s");
  EXPECT_EQ(format_duration_compact(900), "15m");
  EXPECT_EQ(format_duration_compact(991.9), "16m 32s");
  EXPECT_EQ(format_duration_compact(7200), "2h");
  EXPECT_EQ(format_duration_compact(5400), "1h 30m");
  EXPECT_EQ(format_duration_compact(-0.0199), "-19.9ms");
}

}  // namespace
}  // namespace kvtier::plan
