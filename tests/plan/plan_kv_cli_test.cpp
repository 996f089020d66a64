// `kvtier plan kv` as a person runs it: the built binary, its table and its --json, whose numbers
// must equal compute_kv_plan's for the same inputs; a config.json path; --list-models; and exit
// code 2 with a message naming the problem for each kind of bad input.

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "plan/kv_plan.h"
#include "plan/kv_report.h"
#include "support/child_process.h"
#include "support/test_support.h"

namespace kvtier::plan {
namespace {

using kvtier::testing::run_kvtier;
using CommandResult = kvtier::testing::ProcessResult;

// The docs' worked example as flags, and the same inputs for the library.
const std::vector<std::string> kExampleArgs = {
    "plan",  "kv",      "--model", "Llama-3.1-70B", "--prefill-tokens-per-s",
    "10000", "--nodes", "4",       "--network-bw",  "200 Gbps"};

KvPlan example_plan() {
  KvPlanInputs in;
  in.model = *preset_model("Llama-3.1-70B");
  in.dtype = {"bf16", 2};
  in.prefill_tokens_per_s = 10'000;
  in.nodes = 4;
  in.network_bits_per_s_per_node = 200e9;
  Result<KvPlan> p = compute_kv_plan(in);
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return *p;
}

// The line of `text` that starts (after indentation) with `label`.
std::string line_of(const std::string& text, const std::string& label) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    std::size_t first = line.find_first_not_of(' ');
    if (first != std::string::npos && line.compare(first, label.size(), label) == 0) return line;
    at = end + 1;
  }
  return "";
}

TEST(PlanKvCli, JsonEqualsTheLibrary) {
  std::vector<std::string> args = kExampleArgs;
  args.push_back("--json");
  CommandResult r = run_kvtier(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  nlohmann::json j = nlohmann::json::parse(r.out);
  const KvPlan p = example_plan();
  // The whole document equals the library's rendering, and the numbers are the library's.
  EXPECT_EQ(j, nlohmann::json::parse(render_kv_plan_json(p)));
  EXPECT_EQ(j["model"]["name"], "Llama-3.1-70B");
  EXPECT_EQ(j["model"]["kv_dtype"], "bf16");
  EXPECT_EQ(j["kv"]["bytes_per_token"].get<std::uint64_t>(), 327'680u);
  EXPECT_EQ(j["kv"]["bytes_per_chunk"].get<std::uint64_t>(), 83'886'080u);
  EXPECT_EQ(j["inputs"]["chunk_tokens"].get<int>(), 256);
  EXPECT_EQ(j["inputs"]["retention_s"].get<double>(), 3600);
  EXPECT_EQ(j["rates"]["write_bytes_per_s_per_gpu"].get<double>(), p.write_bytes_per_s_per_gpu);
  EXPECT_EQ(j["rates"]["write_bytes_per_s_per_node"].get<double>(), 13.1072e9);
  EXPECT_EQ(j["capacity"]["nvme_bytes_per_gpu"].get<double>(), p.nvme_bytes_per_gpu);
  EXPECT_EQ(j["capacity"]["dram_bytes_per_gpu"].get<double>(), p.dram_bytes_per_gpu);
  EXPECT_EQ(j["capacity"]["nvme_drives_per_node"].get<int>(), 13);
  EXPECT_EQ(j["capacity"]["catch_up_s"].get<double>(), *p.catch_up_s);
  EXPECT_EQ(j["load_vs_recompute"]["break_even_bytes_per_s_per_gpu"].get<double>(), 3.2768e9);
  ASSERT_EQ(j["load_vs_recompute"]["tiers"].size(), 3u);
  EXPECT_EQ(j["load_vs_recompute"]["tiers"][2]["tier"], "shared");
  EXPECT_EQ(j["load_vs_recompute"]["tiers"][2]["load_beats_recompute"], false);
  EXPECT_EQ(j["load_vs_recompute"]["tiers"][2]["ttft_saved_s"].get<double>(),
            p.tiers[2].ttft_saved_s);
  EXPECT_TRUE(j["warnings"].empty());
}

TEST(PlanKvCli, TableShowsTheLibrarysNumbers) {
  CommandResult r = run_kvtier(kExampleArgs);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  SCOPED_TRACE(r.out);
  const KvPlan p = example_plan();
  EXPECT_EQ(r.out, render_kv_plan_text(p));
  EXPECT_EQ(r.out.rfind("kvtier plan kv: Llama-3.1-70B, bf16 KV\n", 0), 0u);
  EXPECT_NE(line_of(r.out, "per token").find("327,680 B"), std::string::npos);
  EXPECT_NE(line_of(r.out, "per token").find("2 x 80 layers x 8 KV heads x 128 head_dim x 2 B"),
            std::string::npos);
  EXPECT_NE(line_of(r.out, "KV written").find("1.64 GB/s"), std::string::npos);
  EXPECT_NE(line_of(r.out, "KV written").find("52.4 GB/s"), std::string::npos);
  EXPECT_NE(line_of(r.out, "NVMe needed").find("5.90 TB"), std::string::npos);
  EXPECT_NE(line_of(r.out, "NVMe needed").find("47.2 TB"), std::string::npos);
  EXPECT_NE(line_of(r.out, "DRAM (2m)").find("197 GB"), std::string::npos);
  EXPECT_NE(line_of(r.out, "NVMe ride-through (15m)").find("1.47 TB"), std::string::npos);
  EXPECT_NE(line_of(r.out, "DRAM   ").find("load"), std::string::npos);
  EXPECT_NE(line_of(r.out, "shared tier").find("recompute"), std::string::npos);
}

TEST(PlanKvCli, ReadsAConfigJsonAndItsDtype) {
  kvtier::testing::TempDir dir;
  std::ofstream(dir.file("config.json"))
      << R"({"num_hidden_layers": 27, "kv_lora_rank": 512, "qk_rope_head_dim": 64,
            "num_attention_heads": 16, "hidden_size": 2048, "torch_dtype": "float16"})";
  CommandResult r = run_kvtier(
      {"plan", "kv", "--model", dir.path(), "--prefill-tokens-per-s", "20000", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"]["attention"], "mla");
  EXPECT_EQ(j["model"]["kv_dtype"], "fp16");
  EXPECT_EQ(j["kv"]["bytes_per_token"].get<std::uint64_t>(), 27u * 576 * 2);
  // --kv-dtype overrides the config's dtype.
  r = run_kvtier({"plan", "kv", "--model", dir.file("config.json"), "--prefill-tokens-per-s",
                  "20000", "--kv-dtype", "fp8", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["kv"]["bytes_per_token"].get<std::uint64_t>(), 27u * 576);
}

TEST(PlanKvCli, ListsThePresets) {
  CommandResult r = run_kvtier({"plan", "kv", "--list-models"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(line_of(r.out, "Qwen3-235B-A22B").find("192,512"), std::string::npos) << r.out;
  EXPECT_NE(line_of(r.out, "DeepSeek-V3").find("mla"), std::string::npos) << r.out;
}

TEST(PlanKvCli, BadInputExitsTwoWithAClearMessage) {
  kvtier::testing::TempDir dir;
  std::ofstream(dir.file("no_layers.json"))
      << R"({"num_attention_heads": 32, "hidden_size": 4096})";
  std::ofstream(dir.file("broken.json")) << R"({"num_hidden_layers": 32,)";
  std::ofstream(dir.file("no_dtype.json"))
      << R"({"num_hidden_layers": 2, "num_attention_heads": 2, "hidden_size": 128})";
  const std::string rate = "--prefill-tokens-per-s";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"--model", "Llama-9", rate, "1"}, "unknown model \"Llama-9\""},
      {{"--model", dir.file("no_layers.json"), rate, "1"}, "\"num_hidden_layers\" is missing"},
      {{"--model", dir.file("broken.json"), rate, "1"}, "not valid JSON"},
      {{"--model", dir.file("no_dtype.json"), rate, "1"}, "pass --kv-dtype"},
      {{"--model", "Llama-3.1-8B"}, "--prefill-tokens-per-s is required"},
      {{rate, "1"}, "--model is required"},
      {{"--model", "Llama-3.1-8B", rate, "-100"}, "--prefill-tokens-per-s must be > 0"},
      {{"--model", "Llama-3.1-8B", rate, "1", "--nodes", "0"}, "--nodes must be >= 1"},
      {{"--model", "Llama-3.1-8B", rate, "1", "--gpus-per-node", "-8"}, "--gpus-per-node"},
      {{"--model", "Llama-3.1-8B", rate, "1", "--reuse", "2"}, "--reuse must be between 0 and 1"},
      {{"--model", "Llama-3.1-8B", rate, "1", "--retention", "15"}, "--retention: bad duration"},
      {{"--model", "Llama-3.1-8B", rate, "1", "--ride-through", "-1h"}, "--ride-through"},
      {{"--model", "Llama-3.1-8B", rate, "1", "--kv-dtype", "fp5"}, "unknown KV dtype \"fp5\""},
      {{"--model", "Llama-3.1-8B", rate, "1", "--network-bw", "400"}, "--network-bw"},
      {{"--model", "Llama-3.1-8B", rate, "1", "--nvme-drive", "-1 TB"}, "--nvme-drive"},
      {{"--model", "Llama-3.1-8B", rate, "1", "--tp", "3"}, "--tp 3 does not fit"},
      {{"--model", "Llama-3.1-8B", rate, "lots"}, "--prefill-tokens-per-s"},  // CLI11's check
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"plan", "kv"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CommandResult r = run_kvtier(args);
    SCOPED_TRACE(c.message);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
}  // namespace kvtier::plan
