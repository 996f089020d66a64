// Model KV layouts: every preset's bytes per token (the figures issue 5 lists), config.json files
// written here (GQA, MLA, multimodal) read to the same figures, and the errors for bad files.
#include "plan/model.h"

#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace kvtier::plan {
namespace {

const KvDtype kBf16{"bf16", 2};

void ExpectInvalid(const Status& s, std::initializer_list<std::string_view> parts) {
  ASSERT_FALSE(s.ok()) << "expected an error mentioning " << *parts.begin();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  for (std::string_view p : parts) {
    EXPECT_NE(s.message().find(p), std::string::npos) << "\"" << p << "\" not in: " << s.message();
  }
}

std::uint64_t preset_bytes(std::string_view name) {
  Result<ModelKvLayout> m = preset_model(name);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? kv_bytes_per_token(*m, kBf16) : 0;
}

TEST(PlanModel, PresetsReproduceTheIssueFigures) {
  EXPECT_EQ(preset_bytes("Llama-3.1-8B"), 131'072u);
  EXPECT_EQ(preset_bytes("Llama-3.1-70B"), 327'680u);
  EXPECT_EQ(preset_bytes("Llama-3.1-405B"), 516'096u);
  EXPECT_EQ(preset_bytes("Qwen3-32B"), 262'144u);
  EXPECT_EQ(preset_bytes("Qwen3-235B-A22B"), 192'512u);
  EXPECT_EQ(preset_bytes("DeepSeek-V3"), 70'272u);
  EXPECT_EQ(model_presets().size(), 6u);
}

TEST(PlanModel, PresetNamesIgnoreCaseRepoAndInstruct) {
  EXPECT_EQ(preset_bytes("llama-3.1-70b"), 327'680u);
  EXPECT_EQ(preset_bytes("meta-llama/Llama-3.1-70B"), 327'680u);
  EXPECT_EQ(preset_bytes("meta-llama/Llama-3.1-8B-Instruct"), 131'072u);
  EXPECT_EQ(preset_bytes("deepseek-r1"), 70'272u);
  Result<ModelKvLayout> m = preset_model("DeepSeek-V3");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->attention, AttentionKind::kMla);
  EXPECT_EQ(m->default_kv_dtype, "bf16");
  EXPECT_EQ(m->source, "https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json");
  EXPECT_EQ(m->formula(), "61 layers x (512 kv_lora_rank + 64 qk_rope_head_dim)");
  EXPECT_EQ(preset_model("Llama-3.1-80B").status().code(), StatusCode::kNotFound);
}

TEST(PlanModel, DtypeScalesTheBytes) {
  Result<ModelKvLayout> m = preset_model("Llama-3.1-70B");
  ASSERT_TRUE(m.ok());
  struct Case {
    const char* name;
    const char* canonical;
    std::uint64_t bytes;
  };
  for (const Case& c : {Case{"fp8", "fp8_e4m3", 163'840}, Case{"FP16", "fp16", 327'680},
                        Case{"float32", "fp32", 655'360}, Case{"fp8_e5m2", "fp8_e5m2", 163'840},
                        Case{"bfloat16", "bf16", 327'680}}) {
    Result<KvDtype> d = parse_kv_dtype(c.name);
    ASSERT_TRUE(d.ok()) << c.name;
    EXPECT_EQ(d->name, c.canonical);
    EXPECT_EQ(kv_bytes_per_token(*m, *d), c.bytes) << c.name;
  }
  ExpectInvalid(parse_kv_dtype("fp4").status(), {"fp4", "bf16"});
}

// A config.json as Hugging Face publishes it, built from a preset's figures.
nlohmann::json config_of(const ModelPreset& p) {
  nlohmann::json j = {{"num_hidden_layers", p.num_hidden_layers},
                      {"hidden_size", p.hidden_size},
                      {"num_attention_heads", p.num_attention_heads},
                      {"num_key_value_heads", p.num_key_value_heads},
                      {"torch_dtype", p.torch_dtype},
                      {"vocab_size", 128256}};
  if (p.head_dim_in_config) j["head_dim"] = p.head_dim;
  if (p.attention == AttentionKind::kMla) {
    j["kv_lora_rank"] = p.kv_lora_rank;
    j["qk_rope_head_dim"] = p.qk_rope_head_dim;
    j["qk_nope_head_dim"] = 128;
    j["v_head_dim"] = 128;
    j["q_lora_rank"] = 1536;
  }
  return j;
}

TEST(PlanModel, EveryPresetReadsBackFromItsConfigJson) {
  for (const ModelPreset& p : model_presets()) {
    Result<ModelKvLayout> read = model_from_hf_config(config_of(p).dump(2), "config.json");
    ASSERT_TRUE(read.ok()) << p.name << ": " << read.status().to_string();
    Result<ModelKvLayout> preset = preset_model(p.name);
    ASSERT_TRUE(preset.ok());
    EXPECT_EQ(kv_bytes_per_token(*read, kBf16), kv_bytes_per_token(*preset, kBf16)) << p.name;
    EXPECT_EQ(read->attention, p.attention) << p.name;
    EXPECT_EQ(read->default_kv_dtype, "bf16") << p.name;
  }
}

TEST(PlanModel, ReadsAGqaConfigFile) {
  kvtier::testing::TempDir dir;
  // Qwen3-32B's figures: head_dim is stated and differs from hidden_size / heads (80).
  std::ofstream(dir.file("config.json")) << R"({
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
    "hidden_size": 5120, "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 128,
    "num_hidden_layers": 64, "torch_dtype": "bfloat16", "rope_scaling": null })";
  for (const std::string& path : {dir.file("config.json"), dir.path()}) {
    Result<ModelKvLayout> m = resolve_model(path);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    EXPECT_EQ(m->attention, AttentionKind::kGqa);
    EXPECT_EQ(m->num_layers, 64u);
    EXPECT_EQ(m->num_kv_heads, 8u);
    EXPECT_EQ(m->head_dim, 128u);
    EXPECT_EQ(m->name, dir.file("config.json"));
    EXPECT_EQ(kv_bytes_per_token(*m, kBf16), 262'144u);
  }
}

TEST(PlanModel, DerivesHeadDimAndKvHeads) {
  // No head_dim: hidden_size / num_attention_heads. No num_key_value_heads: MHA, one per head.
  Result<ModelKvLayout> m = model_from_hf_config(
      R"({"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12,
          "torch_dtype": "float16"})",
      "gpt.json");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->num_kv_heads, 12u);
  EXPECT_EQ(m->head_dim, 64u);
  EXPECT_EQ(m->default_kv_dtype, "fp16");
  EXPECT_EQ(kv_bytes_per_token(*m, KvDtype{"fp16", 2}), 2u * 12 * 12 * 64 * 2);
  // Newer transformers write "dtype"; a null head_dim is unset.
  m = model_from_hf_config(R"({"num_hidden_layers": 2, "hidden_size": 256, "head_dim": null,
      "num_attention_heads": 4, "num_key_value_heads": 1, "dtype": "float32"})",
                           "c.json");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->head_dim, 64u);
  EXPECT_EQ(m->default_kv_dtype, "fp32");
}

TEST(PlanModel, ReadsAnMlaConfigFile) {
  kvtier::testing::TempDir dir;
  // DeepSeek-V2-Lite's attention figures: 27 layers, kv_lora_rank 512, qk_rope_head_dim 64.
  std::ofstream(dir.file("config.json")) << R"({
    "model_type": "deepseek_v2", "hidden_size": 2048, "num_attention_heads": 16,
    "num_key_value_heads": 16, "num_hidden_layers": 27, "kv_lora_rank": 512,
    "q_lora_rank": null, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
    "torch_dtype": "bfloat16" })";
  Result<ModelKvLayout> m = resolve_model(dir.file("config.json"));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->attention, AttentionKind::kMla);
  EXPECT_EQ(m->kv_lora_rank, 512u);
  EXPECT_EQ(m->qk_rope_head_dim, 64u);
  EXPECT_EQ(kv_bytes_per_token(*m, kBf16), 27u * (512 + 64) * 2);  // 31,104
}

TEST(PlanModel, ReadsTheTextConfigOfAMultimodalModel) {
  Result<ModelKvLayout> m = model_from_hf_config(
      R"({"model_type": "llava", "torch_dtype": "bfloat16",
          "text_config": {"num_hidden_layers": 32, "hidden_size": 4096,
                          "num_attention_heads": 32, "num_key_value_heads": 8}})",
      "mm.json");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(kv_bytes_per_token(*m, kBf16), 131'072u);
  EXPECT_EQ(m->default_kv_dtype, "bf16");
  ExpectInvalid(
      model_from_hf_config(R"({"text_config": {"num_hidden_layers": 32}})", "mm.json").status(),
      {"mm.json", "\"text_config.num_attention_heads\" is missing"});
}

TEST(PlanModel, BadConfigsNameTheField) {
  struct Case {
    const char* json;
    std::vector<std::string_view> parts;
  };
  const Case cases[] = {
      {R"({"hidden_size": 4096, "num_attention_heads": 32})", {"\"num_hidden_layers\" is missing"}},
      {R"({"num_hidden_layers": -3, "hidden_size": 4096, "num_attention_heads": 32})",
       {"\"num_hidden_layers\" must be a positive integer, got -3"}},
      {R"({"num_hidden_layers": 0, "num_attention_heads": 32})", {"num_hidden_layers", "got 0"}},
      {R"({"num_hidden_layers": "32", "num_attention_heads": 32})",
       {"num_hidden_layers", "\"32\""}},
      {R"({"num_hidden_layers": 32.5, "num_attention_heads": 32})", {"num_hidden_layers", "32.5"}},
      {R"({"num_hidden_layers": 32, "hidden_size": 4096})", {"\"num_attention_heads\" is missing"}},
      {R"({"num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8})",
       {"\"hidden_size\" is missing", "head_dim"}},
      {R"({"num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": -8,
           "head_dim": 128})",
       {"\"num_key_value_heads\"", "got -8"}},
      {R"({"num_hidden_layers": 32, "hidden_size": 4000, "num_attention_heads": 48})",
       {"hidden_size", "not a multiple of num_attention_heads"}},
      {R"({"num_hidden_layers": 61, "kv_lora_rank": 512})", {"\"qk_rope_head_dim\" is missing"}},
      {R"({"num_hidden_layers": 61, "kv_lora_rank": 0, "qk_rope_head_dim": 64})",
       {"\"kv_lora_rank\"", "got 0"}},
      {R"({"num_hidden_layers": 32,)", {"not valid JSON", "line 1"}},
      {R"([1, 2])", {"expected a JSON object"}},
      {"", {"not valid JSON"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    Status s = model_from_hf_config(c.json, "my/config.json").status();
    ExpectInvalid(s, {"my/config.json"});
    for (std::string_view p : c.parts) {
      EXPECT_NE(s.message().find(p), std::string::npos)
          << "\"" << p << "\" not in: " << s.message();
    }
  }
}

TEST(PlanModel, UnknownModelsAndUnreadableFiles) {
  ExpectInvalid(resolve_model("Llama-9").status(),
                {"unknown model \"Llama-9\"", "Llama-3.1-8B", "DeepSeek-V3", "no such file"});
  ExpectInvalid(resolve_model("/nonexistent/config.json").status(), {"/nonexistent/config.json"});
  ExpectInvalid(resolve_model("").status(), {"--model"});
  kvtier::testing::TempDir dir;  // a directory without a config.json
  ExpectInvalid(resolve_model(dir.path()).status(), {"cannot read", "config.json"});
}

}  // namespace
}  // namespace kvtier::plan
