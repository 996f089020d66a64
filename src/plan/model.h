// The KV-cache layout of a model, for `kvtier plan kv` (docs/PLAN.md): how many bytes of KV one
// token costs. A model comes from a preset (figures copied from its Hugging Face config.json, each
// with its source in model.cpp) or from a config.json file.
//
//   GQA / MQA / MHA:  bytes per token = 2 (K and V) x layers x kv_heads x head_dim x dtype bytes
//   MLA (DeepSeek):   bytes per token = layers x (kv_lora_rank + qk_rope_head_dim) x dtype bytes
//                     (one compressed latent plus the decoupled RoPE key per layer, no separate V)
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kvtier/status.h"

namespace kvtier::plan {

// The element type of the KV cache. `name` is kvtier's spelling (the ModelLayout.kv_dtype of
// docs/KEYS.md): "bf16", "fp16", "fp32", "fp8_e4m3", "fp8_e5m2", "int8".
struct KvDtype {
  std::string name;
  std::uint32_t bytes = 0;
};

// Accepts kvtier's names and the usual aliases: bf16/bfloat16, fp16/float16/half, fp32/float32/
// float, fp8 (= fp8_e4m3)/fp8_e4m3/float8_e4m3fn/fp8_e5m2/float8_e5m2, int8 (case-insensitive).
// InvalidArgument listing the accepted names otherwise.
Result<KvDtype> parse_kv_dtype(std::string_view name);

enum class AttentionKind : std::uint8_t {
  kGqa,  // K and V per KV head (grouped-query; MHA and MQA are the kv_heads = heads and = 1 cases)
  kMla,  // multi-head latent attention: one latent (kv_lora_rank) + RoPE key per layer
};

std::string_view attention_kind_name(AttentionKind kind);  // "gqa" or "mla"

struct ModelKvLayout {
  std::string name;    // the preset's name, or the config file's path
  std::string source;  // where the figures come from (a Hugging Face URL, or the file)
  AttentionKind attention = AttentionKind::kGqa;
  std::uint32_t num_layers = 0;
  // GQA (zero for MLA):
  std::uint32_t num_kv_heads = 0;
  std::uint32_t head_dim = 0;
  // MLA (zero for GQA):
  std::uint32_t kv_lora_rank = 0;
  std::uint32_t qk_rope_head_dim = 0;
  // The checkpoint's dtype (config.json torch_dtype) as a kvtier KV dtype name, used when the
  // caller names none; empty when the config gives none or one that is not a KV dtype.
  std::string default_kv_dtype;
  // torch_dtype as written in the config (for messages), e.g. "bfloat16".
  std::string config_dtype;

  // KV elements one token stores in one layer: 2 x kv_heads x head_dim, or kv_lora_rank +
  // qk_rope_head_dim.
  std::uint64_t elements_per_token_per_layer() const;
  std::uint64_t elements_per_token() const { return elements_per_token_per_layer() * num_layers; }
  // The formula with this model's figures, e.g. "2 x 80 layers x 8 KV heads x 128 head_dim".
  std::string formula() const;
};

// Bytes of KV per token: elements_per_token() x dtype.bytes.
std::uint64_t kv_bytes_per_token(const ModelKvLayout& model, const KvDtype& dtype);

// A model whose attention figures are copied from its Hugging Face config.json.
struct ModelPreset {
  std::string_view name;     // e.g. "Llama-3.1-70B"
  std::string_view hf_repo;  // e.g. "meta-llama/Llama-3.1-70B"
  AttentionKind attention;
  std::uint32_t num_hidden_layers;
  std::uint32_t hidden_size;
  std::uint32_t num_attention_heads;
  std::uint32_t num_key_value_heads;
  std::uint32_t head_dim;   // GQA: as config.json states it, or hidden_size / num_attention_heads
  bool head_dim_in_config;  // config.json has a head_dim field (else it is derived)
  std::uint32_t kv_lora_rank;      // MLA only
  std::uint32_t qk_rope_head_dim;  // MLA only
  std::string_view torch_dtype;
  std::string_view also_known_as;  // another name with the same figures ("" for none)
};

std::span<const ModelPreset> model_presets();

// The preset whose name, Hugging Face repo id or also_known_as equals `name`, ignoring case and
// a trailing "-Instruct" (Llama-3.1-8B-Instruct has Llama-3.1-8B's layout). NotFound otherwise.
Result<ModelKvLayout> preset_model(std::string_view name);

// Reads the KV layout from the text of a Hugging Face config.json (`where` names it in messages).
// Fields: num_hidden_layers; for MLA (kv_lora_rank present) kv_lora_rank and qk_rope_head_dim;
// otherwise num_key_value_heads (default num_attention_heads) and head_dim (default hidden_size /
// num_attention_heads); torch_dtype (or dtype) for default_kv_dtype. A multimodal config without
// num_hidden_layers at the top is read from its "text_config" object. InvalidArgument naming the
// field on bad JSON, a missing field or a value that is not a positive integer.
Result<ModelKvLayout> model_from_hf_config(std::string_view json_text, std::string_view where);

// Reads a config.json file (or <dir>/config.json when `path` is a directory).
Result<ModelKvLayout> model_from_hf_config_file(const std::string& path);

// `--model`: a preset name, else a path to a config.json (or a directory holding one).
// InvalidArgument naming the presets when it is neither.
Result<ModelKvLayout> resolve_model(const std::string& preset_or_path);

}  // namespace kvtier::plan
