// Model KV layouts: the presets (each figure from the model's config.json on Hugging Face) and the
// config.json reader. See model.h.
#include "plan/model.h"

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "coding/ascii.h"

namespace kvtier::plan {
namespace {

using nlohmann::json;

// The presets. Every figure is the model's config.json on Hugging Face, at
// https://huggingface.co/<hf_repo>/blob/main/config.json; head_dim marked "derived" is not in the
// file and is hidden_size / num_attention_heads, as transformers computes it. The bytes per token
// in the comments are BF16 and are checked by tests/plan/model_test.cpp.
constexpr std::array<ModelPreset, 6> kPresets = {{
    // meta-llama/Llama-3.1-8B: num_hidden_layers 32, hidden_size 4096, num_attention_heads 32,
    // num_key_value_heads 8, head_dim 128 (derived), torch_dtype bfloat16.
    // 2 x 32 x 8 x 128 x 2 B = 131,072 B per token.
    {"Llama-3.1-8B", "meta-llama/Llama-3.1-8B", AttentionKind::kGqa, 32, 4096, 32, 8, 128, false, 0,
     0, "bfloat16", ""},
    // meta-llama/Llama-3.1-70B: num_hidden_layers 80, hidden_size 8192, num_attention_heads 64,
    // num_key_value_heads 8, head_dim 128 (derived), torch_dtype bfloat16.
    // 2 x 80 x 8 x 128 x 2 B = 327,680 B per token.
    {"Llama-3.1-70B", "meta-llama/Llama-3.1-70B", AttentionKind::kGqa, 80, 8192, 64, 8, 128, false,
     0, 0, "bfloat16", ""},
    // meta-llama/Llama-3.1-405B: num_hidden_layers 126, hidden_size 16384, num_attention_heads
    // 128, num_key_value_heads 8, head_dim 128 (derived), torch_dtype bfloat16.
    // 2 x 126 x 8 x 128 x 2 B = 516,096 B per token.
    {"Llama-3.1-405B", "meta-llama/Llama-3.1-405B", AttentionKind::kGqa, 126, 16384, 128, 8, 128,
     false, 0, 0, "bfloat16", ""},
    // Qwen/Qwen3-32B: num_hidden_layers 64, hidden_size 5120, num_attention_heads 64,
    // num_key_value_heads 8, head_dim 128 (stated; hidden_size / heads would give 80),
    // torch_dtype bfloat16. 2 x 64 x 8 x 128 x 2 B = 262,144 B per token.
    {"Qwen3-32B", "Qwen/Qwen3-32B", AttentionKind::kGqa, 64, 5120, 64, 8, 128, true, 0, 0,
     "bfloat16", ""},
    // Qwen/Qwen3-235B-A22B: num_hidden_layers 94, hidden_size 4096, num_attention_heads 64,
    // num_key_value_heads 4, head_dim 128 (stated; hidden_size / heads would give 64),
    // torch_dtype bfloat16. 2 x 94 x 4 x 128 x 2 B = 192,512 B per token.
    {"Qwen3-235B-A22B", "Qwen/Qwen3-235B-A22B", AttentionKind::kGqa, 94, 4096, 64, 4, 128, true, 0,
     0, "bfloat16", ""},
    // deepseek-ai/DeepSeek-V3: num_hidden_layers 61, hidden_size 7168, num_attention_heads 128,
    // num_key_value_heads 128 (unused by MLA's cache), kv_lora_rank 512, qk_rope_head_dim 64,
    // torch_dtype bfloat16. 61 x (512 + 64) x 2 B = 70,272 B per token. The multi-token-prediction
    // module (num_nextn_predict_layers 1) is not counted: it is not part of the served model's
    // cache unless speculative decoding uses it. DeepSeek-R1 has the same figures.
    {"DeepSeek-V3", "deepseek-ai/DeepSeek-V3", AttentionKind::kMla, 61, 7168, 128, 128, 0, false,
     512, 64, "bfloat16", "DeepSeek-R1"},
}};

struct DtypeName {
  std::string_view alias;
  std::string_view name;
  std::uint32_t bytes;
};

constexpr std::array<DtypeName, 15> kDtypes = {{
    {"bf16", "bf16", 2},
    {"bfloat16", "bf16", 2},
    {"fp16", "fp16", 2},
    {"float16", "fp16", 2},
    {"half", "fp16", 2},
    {"fp32", "fp32", 4},
    {"float32", "fp32", 4},
    {"float", "fp32", 4},
    {"fp8", "fp8_e4m3", 1},
    {"fp8_e4m3", "fp8_e4m3", 1},
    {"float8_e4m3fn", "fp8_e4m3", 1},
    {"fp8_e5m2", "fp8_e5m2", 1},
    {"float8_e5m2", "fp8_e5m2", 1},
    {"int8", "int8", 1},
    {"uint8", "int8", 1},
}};

std::string preset_names() {
  std::string out;
  for (const ModelPreset& p : kPresets) {
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out;
}

ModelKvLayout layout_of(const ModelPreset& p) {
  ModelKvLayout m;
  m.name = std::string(p.name);
  m.source = "https://huggingface.co/" + std::string(p.hf_repo) + "/blob/main/config.json";
  m.attention = p.attention;
  m.num_layers = p.num_hidden_layers;
  if (p.attention == AttentionKind::kMla) {
    m.kv_lora_rank = p.kv_lora_rank;
    m.qk_rope_head_dim = p.qk_rope_head_dim;
  } else {
    m.num_kv_heads = p.num_key_value_heads;
    m.head_dim = p.head_dim;
  }
  m.config_dtype = std::string(p.torch_dtype);
  Result<KvDtype> d = parse_kv_dtype(p.torch_dtype);
  if (d.ok()) m.default_kv_dtype = d->name;
  return m;
}

// Reads fields of one JSON object, naming them in errors as `<where>: "<prefix><field>" ...`.
class FieldReader {
 public:
  FieldReader(const json& object, std::string where, std::string prefix)
      : object_(object), where_(std::move(where)), prefix_(std::move(prefix)) {}

  // The field, or nullptr when it is absent or null (transformers treats both as unset).
  const json* find(std::string_view field) const {
    auto it = object_.find(std::string(field));
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  bool has(std::string_view field) const { return find(field) != nullptr; }

  Status missing(std::string_view field, std::string_view why = "") const {
    std::string m = where_ + ": \"" + prefix_ + std::string(field) + "\" is missing";
    if (!why.empty()) m += " (" + std::string(why) + ")";
    return Status::InvalidArgument(m);
  }

  Status invalid(std::string_view field, std::string_view why) const {
    return Status::InvalidArgument(where_ + ": \"" + prefix_ + std::string(field) + "\" " +
                                   std::string(why));
  }

  // A positive integer that fits 32 bits. 32.0 is accepted (JSON has one number type).
  Result<std::uint32_t> positive(std::string_view field, std::string_view why_needed = "") const {
    const json* v = find(field);
    if (v == nullptr) return missing(field, why_needed);
    const std::string got = "must be a positive integer, got " + v->dump();
    double d = 0;
    if (v->is_number_unsigned()) {
      d = static_cast<double>(v->get<std::uint64_t>());
    } else if (v->is_number_integer()) {
      d = static_cast<double>(v->get<std::int64_t>());
    } else if (v->is_number_float()) {
      d = v->get<double>();
      if (std::floor(d) != d) return invalid(field, got);
    } else {
      return invalid(field, got);
    }
    if (!(d > 0)) return invalid(field, got);
    if (d > std::numeric_limits<std::uint32_t>::max()) return invalid(field, got + " (too large)");
    return static_cast<std::uint32_t>(d);
  }

  // A positive integer when the field is set, else `fallback`.
  Result<std::uint32_t> positive_or(std::string_view field, std::uint32_t fallback) const {
    if (!has(field)) return fallback;
    return positive(field);
  }

 private:
  const json& object_;
  std::string where_;
  std::string prefix_;
};

#define PLAN_ASSIGN_OR_RETURN(lhs, expr)            \
  do {                                              \
    auto kvtier_r_ = (expr);                        \
    if (!kvtier_r_.ok()) return kvtier_r_.status(); \
    lhs = *kvtier_r_;                               \
  } while (0)

}  // namespace

Result<KvDtype> parse_kv_dtype(std::string_view name) {
  const std::string want = ascii_lower(name);
  for (const DtypeName& d : kDtypes) {
    if (want == d.alias) return KvDtype{std::string(d.name), d.bytes};
  }
  return Status::InvalidArgument("unknown KV dtype \"" + std::string(name) +
                                 "\": use bf16, fp16, fp32, fp8 (fp8_e4m3), fp8_e5m2 or int8");
}

std::string_view attention_kind_name(AttentionKind kind) {
  return kind == AttentionKind::kMla ? "mla" : "gqa";
}

std::uint64_t ModelKvLayout::elements_per_token_per_layer() const {
  if (attention == AttentionKind::kMla) {
    return static_cast<std::uint64_t>(kv_lora_rank) + qk_rope_head_dim;
  }
  return 2ull * num_kv_heads * head_dim;
}

std::string ModelKvLayout::formula() const {
  std::ostringstream o;
  if (attention == AttentionKind::kMla) {
    o << num_layers << " layers x (" << kv_lora_rank << " kv_lora_rank + " << qk_rope_head_dim
      << " qk_rope_head_dim)";
  } else {
    o << "2 x " << num_layers << " layers x " << num_kv_heads << " KV heads x " << head_dim
      << " head_dim";
  }
  return o.str();
}

std::uint64_t kv_bytes_per_token(const ModelKvLayout& model, const KvDtype& dtype) {
  return model.elements_per_token() * dtype.bytes;
}

std::span<const ModelPreset> model_presets() { return kPresets; }

Result<ModelKvLayout> preset_model(std::string_view name) {
  std::string want = ascii_lower(name);
  constexpr std::string_view kInstruct = "-instruct";
  if (want.size() > kInstruct.size() && want.ends_with(kInstruct)) {
    want.resize(want.size() - kInstruct.size());
  }
  for (const ModelPreset& p : kPresets) {
    if (want == ascii_lower(p.name) || want == ascii_lower(p.hf_repo) ||
        (!p.also_known_as.empty() && want == ascii_lower(p.also_known_as))) {
      return layout_of(p);
    }
  }
  return Status::NotFound("no model preset \"" + std::string(name) +
                          "\" (presets: " + preset_names() + ")");
}

Result<ModelKvLayout> model_from_hf_config(std::string_view json_text,
                                           std::string_view where_view) {
  const std::string where(where_view);
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 3, column 5: ...".
    std::string what = e.what();
    if (std::size_t close = what.find("] ");
        what.rfind("[json.exception.", 0) == 0 && close != std::string::npos) {
      what = what.substr(close + 2);
    }
    return Status::InvalidArgument(where + ": not valid JSON: " + what);
  }
  if (!root.is_object()) {
    return Status::InvalidArgument(where +
                                   ": expected a JSON object (a Hugging Face config.json), "
                                   "got " +
                                   std::string(root.type_name()));
  }
  // Multimodal models (Llama 4, Gemma 3, ...) keep the language model's figures in text_config.
  const json* object = &root;
  std::string prefix;
  if (!root.contains("num_hidden_layers") && root.contains("text_config") &&
      root["text_config"].is_object()) {
    object = &root["text_config"];
    prefix = "text_config.";
  }
  FieldReader f(*object, where, prefix);

  ModelKvLayout m;
  m.name = where;
  m.source = where;
  PLAN_ASSIGN_OR_RETURN(m.num_layers, f.positive("num_hidden_layers"));
  if (f.has("kv_lora_rank")) {
    m.attention = AttentionKind::kMla;
    PLAN_ASSIGN_OR_RETURN(m.kv_lora_rank, f.positive("kv_lora_rank"));
    PLAN_ASSIGN_OR_RETURN(m.qk_rope_head_dim,
                          f.positive("qk_rope_head_dim",
                                     "an MLA model (kv_lora_rank is set) caches the RoPE key "
                                     "beside the latent"));
  } else {
    m.attention = AttentionKind::kGqa;
    const bool need_heads = !f.has("num_key_value_heads") || !f.has("head_dim");
    std::uint32_t heads = 0;
    if (need_heads) {
      PLAN_ASSIGN_OR_RETURN(
          heads, f.positive("num_attention_heads",
                            f.has("num_key_value_heads")
                                ? "needed for head_dim = hidden_size / num_attention_heads"
                                : "num_key_value_heads defaults to it"));
    }
    PLAN_ASSIGN_OR_RETURN(m.num_kv_heads, f.positive_or("num_key_value_heads", heads));
    if (f.has("head_dim")) {
      PLAN_ASSIGN_OR_RETURN(m.head_dim, f.positive("head_dim"));
    } else {
      std::uint32_t hidden = 0;
      PLAN_ASSIGN_OR_RETURN(hidden, f.positive("hidden_size",
                                               "head_dim is not set, so it is hidden_size / "
                                               "num_attention_heads"));
      if (hidden % heads != 0) {
        return f.invalid("hidden_size", "(" + std::to_string(hidden) +
                                            ") is not a multiple of num_attention_heads (" +
                                            std::to_string(heads) +
                                            "), so head_dim cannot be derived: add \"head_dim\"");
      }
      m.head_dim = hidden / heads;
    }
  }
  // Newer transformers write "dtype", older ones "torch_dtype".
  for (std::string_view field : {"torch_dtype", "dtype"}) {
    const json* d = f.find(field);
    if (d == nullptr) d = prefix.empty() ? nullptr : FieldReader(root, where, "").find(field);
    if (d == nullptr || !d->is_string()) continue;
    m.config_dtype = d->get<std::string>();
    Result<KvDtype> kv = parse_kv_dtype(m.config_dtype);
    if (kv.ok()) m.default_kv_dtype = kv->name;
    break;
  }
  return m;
}

Result<ModelKvLayout> model_from_hf_config_file(const std::string& path) {
  std::error_code ec;
  std::string file = path;
  if (std::filesystem::is_directory(path, ec))
    file = (std::filesystem::path(path) / "config.json").string();
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int err = errno;
    return Status::InvalidArgument("cannot read " + file + ": " + std::strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument("cannot read " + file);
  return model_from_hf_config(text.str(), file);
}

Result<ModelKvLayout> resolve_model(const std::string& preset_or_path) {
  if (preset_or_path.empty()) {
    return Status::InvalidArgument("--model is empty: name a preset (" + preset_names() +
                                   ") or a config.json");
  }
  Result<ModelKvLayout> preset = preset_model(preset_or_path);
  if (preset.ok()) return preset;
  std::error_code ec;
  if (std::filesystem::exists(preset_or_path, ec)) return model_from_hf_config_file(preset_or_path);
  return Status::InvalidArgument("unknown model \"" + preset_or_path + "\": not a preset (" +
                                 preset_names() + ") and no such file or directory");
}

}  // namespace kvtier::plan
