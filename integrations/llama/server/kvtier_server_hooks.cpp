// kvtier as llama-server's prompt cache: the hooks' state and logic (see kvtier_server_hooks.h).
#include "kvtier_server_hooks.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common.h"
#include "prefix_cache.h"

namespace kvtier::llama_server {
namespace {

using kvtier::llama::PrefixCache;
using kvtier::llama::PrefixCacheCounters;
using kvtier::llama::PrefixCacheOptions;
using kvtier::llama::RestoreResult;

// Defaults: a deadline of tens of milliseconds keeps a frozen kvtierd from delaying a request by
// more than that (docs/INTEGRATIONS.md); 256-token chunks as kvtier-llama's.
constexpr int kDefaultDeadlineMs = 50;
constexpr int kDefaultChunkTokens = 256;

// What the hooks know of one sequence (slot).
struct Sequence {
  // Chunks of its current prompt that kvtierd holds, as far as this server knows (LOOKUP's
  // answer, or the chunks it stored itself): prompt_done() stores from there on.
  std::size_t known_chunks = 0;
  // The lowest position whose cell was moved since the sequence was computed from its start
  // (context shift, --cache-reuse); -1: none. While the sequence keeps it, it stores nothing.
  int first_moved = -1;
};

struct State {
  PrefixCacheOptions options;
  bool requested = false;           // --kvtier given
  std::unique_ptr<PrefixCache> cache;
  std::vector<Sequence> sequences;  // by seq id
  // store_failures + stores_dropped when last looked at: once they move, no stored chunk is
  // taken for granted (the next prompt of every slot stores from its first chunk again).
  std::uint64_t store_losses_seen = 0;
};

State& state() {
  static State s;
  return s;
}

bool parse_positive(const char* flag, const char* text, int most, std::uint32_t* out) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v <= 0 || v > most) {
    std::fprintf(stderr, "error: %s %s: expected an integer in [1, %d]\n", flag, text, most);
    return false;
  }
  *out = static_cast<std::uint32_t>(v);
  return true;
}

bool read_token_file(const char* path, std::string* token) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "error: --kvtier-token-file %s: cannot read it\n", path);
    return false;
  }
  std::getline(in, *token);
  while (!token->empty() && (token->back() == '\r' || token->back() == ' ')) token->pop_back();
  return true;
}

}  // namespace

bool take_args(int* argc, char** argv) {
  State& s = state();
  s.options.chunk_tokens = kDefaultChunkTokens;
  s.options.timeout = std::chrono::milliseconds(kDefaultDeadlineMs);
  s.options.reconnect = true;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string flag = argv[i];
    const bool ours = flag == "--kvtier" || flag == "--kvtier-token-file" || flag == "--kvtier-chunk" ||
                      flag == "--kvtier-deadline-ms" || flag == "--kvtier-model-id";
    if (!ours) {
      argv[out++] = argv[i];
      continue;
    }
    if (i + 1 >= *argc) {
      std::fprintf(stderr, "error: %s needs a value\n", flag.c_str());
      return false;
    }
    const char* value = argv[++i];
    std::uint32_t n = 0;
    if (flag == "--kvtier") {
      s.options.address = value;
      s.requested = true;
    } else if (flag == "--kvtier-token-file") {
      if (!read_token_file(value, &s.options.token)) return false;
    } else if (flag == "--kvtier-chunk") {
      if (!parse_positive(flag.c_str(), value, 65536, &n)) return false;
      s.options.chunk_tokens = n;
    } else if (flag == "--kvtier-deadline-ms") {
      if (!parse_positive(flag.c_str(), value, 60'000, &n)) return false;
      s.options.timeout = std::chrono::milliseconds(n);
    } else {
      s.options.model_id = value;
    }
  }
  argv[out] = nullptr;
  *argc = out;
  return true;
}

bool active() { return state().cache != nullptr; }

bool router_allowed() {
  if (!state().requested) return true;
  std::fprintf(stderr, "error: --kvtier needs a model (-m): in router mode the model processes "
                       "would not get it. Start one llama-server per model with --kvtier.\n");
  return false;
}

namespace {

// RoPE, YaRN and GGUF metadata overrides of the command line, as text for the namespace (empty
// when there are none): KV computed under other ones must never be read.
std::string kv_settings(const common_params& p) {
  std::ostringstream out;
  out << std::setprecision(std::numeric_limits<double>::max_digits10);  // 1e6 and 1000001 differ
  if (p.attention_type != LLAMA_ATTENTION_TYPE_UNSPECIFIED) out << "attention=" << p.attention_type << ";";
  if (p.rope_freq_base != 0.0f) out << "rope_freq_base=" << p.rope_freq_base << ";";
  if (p.rope_freq_scale != 0.0f) out << "rope_freq_scale=" << p.rope_freq_scale << ";";
  if (p.yarn_ext_factor >= 0.0f) out << "yarn_ext_factor=" << p.yarn_ext_factor << ";";
  if (p.yarn_attn_factor >= 0.0f) out << "yarn_attn_factor=" << p.yarn_attn_factor << ";";
  if (p.yarn_beta_fast >= 0.0f) out << "yarn_beta_fast=" << p.yarn_beta_fast << ";";
  if (p.yarn_beta_slow >= 0.0f) out << "yarn_beta_slow=" << p.yarn_beta_slow << ";";
  if (p.yarn_orig_ctx != 0) out << "yarn_orig_ctx=" << p.yarn_orig_ctx << ";";
  if (p.rope_scaling_type != LLAMA_ROPE_SCALING_TYPE_UNSPECIFIED) out << "rope_scaling=" << p.rope_scaling_type << ";";
  for (const llama_model_kv_override& o : p.kv_overrides) {
    if (o.key[0] == '\0') continue;  // the list's terminator
    out << "override:" << o.key << "=";
    switch (o.tag) {
      case LLAMA_KV_OVERRIDE_TYPE_INT: out << o.val_i64; break;
      case LLAMA_KV_OVERRIDE_TYPE_FLOAT: out << o.val_f64; break;
      case LLAMA_KV_OVERRIDE_TYPE_BOOL: out << o.val_bool; break;
      case LLAMA_KV_OVERRIDE_TYPE_STR: out << o.val_str; break;
    }
    out << ";";
  }
  return out.str();
}

Sequence* sequence(State& s, llama_seq_id seq) {
  if (!s.cache || seq < 0 || static_cast<std::size_t>(seq) >= s.sequences.size()) return nullptr;
  return &s.sequences[static_cast<std::size_t>(seq)];
}

// Once a store failed or was dropped, no slot's chunks are taken as stored.
void forget_stored_if_stores_were_lost(State& s) {
  const PrefixCacheCounters& c = s.cache->counters();
  const std::uint64_t losses = c.store_failures.load(std::memory_order_relaxed) + c.stores_dropped.load(std::memory_order_relaxed);
  if (losses == s.store_losses_seen) return;
  s.store_losses_seen = losses;
  for (Sequence& q : s.sequences) q.known_chunks = 0;
}

}  // namespace

void attach(llama_context* ctx, llama_seq_id probe_seq, const char* unsupported, const common_params& params) {
  State& s = state();
  if (!s.requested) return;
  if (unsupported == nullptr && !params.lora_adapters.empty()) unsupported = "LoRA adapters";
  if (unsupported == nullptr && !params.control_vectors.empty()) unsupported = "control vectors";
  if (unsupported != nullptr) {
    std::fprintf(stderr, "kvtier: not used: the server has %s, whose effect on the KV kvtier blocks "
                         "do not record\n", unsupported);
    return;
  }
  s.options.settings = kv_settings(params);
  // As many chunks as a slot's context can hold.
  s.options.max_chunks = std::max<std::uint32_t>(1, llama_n_ctx_seq(ctx) / s.options.chunk_tokens);
  Result<std::unique_ptr<PrefixCache>> cache = PrefixCache::open(ctx, s.options, probe_seq);
  if (!cache.ok()) {
    std::fprintf(stderr, "kvtier: not used: %s\n", cache.status().to_string().c_str());
    return;
  }
  s.cache = std::move(*cache);
  s.sequences.assign(llama_n_seq_max(ctx), Sequence{});
  std::fprintf(stderr, "kvtier: prompt cache on %s, %u-token chunks of %zu bytes, model %s%s%s\n",
               s.options.address.c_str(), s.options.chunk_tokens, s.cache->chunk_bytes(),
               s.cache->model_layout().model_id.c_str(), s.options.settings.empty() ? "" : ", ",
               s.options.settings.c_str());
}

int restore(llama_context* ctx, llama_seq_id seq, const llama_token* prompt, int n_prompt, int held) {
  State& s = state();
  Sequence* q = sequence(s, seq);
  if (q == nullptr) return held;
  forget_stored_if_stores_were_lost(s);
  RestoreResult r = s.cache->restore(ctx, seq, {prompt, static_cast<std::size_t>(n_prompt)},
                                     static_cast<std::size_t>(held));
  const std::size_t chunk = s.options.chunk_tokens;
  const std::size_t now_held = r.replaced ? r.tokens : static_cast<std::size_t>(held);
  if (r.looked_up) {
    // Past a damaged or refused chunk, what this slot computes is stored and replaces it.
    q->known_chunks = r.fallback.empty() ? r.chunks_cached : r.tokens / chunk;
  } else {
    // Not asked (the slot holds every chunk, or kvtierd is away): what was stored of the slot's
    // own prefix, as far as it reaches into this prompt.
    q->known_chunks = std::min(q->known_chunks, now_held / chunk);
  }
  // Restored from kvtierd, or keeping only tokens before the first moved cell: what is computed
  // next is a cold prefill's.
  if (r.replaced || static_cast<long>(now_held) <= q->first_moved) q->first_moved = -1;
  if (!r.fallback.empty() && r.looked_up) {
    std::fprintf(stderr, "kvtier: restored %zu of %zu cached chunks: %s\n", r.tokens / chunk,
                 r.chunks_cached, r.fallback.c_str());
  }
  return static_cast<int>(now_held);
}

void sequence_shifted(llama_seq_id seq, int first_moved) {
  Sequence* q = sequence(state(), seq);
  if (q == nullptr) return;
  first_moved = std::max(first_moved, 0);
  q->first_moved = q->first_moved < 0 ? first_moved : std::min(q->first_moved, first_moved);
}

void prompt_done(llama_context* ctx, llama_seq_id seq, const llama_token* prompt, int n_prompt) {
  State& s = state();
  Sequence* q = sequence(s, seq);
  if (q == nullptr || q->first_moved >= 0) return;
  forget_stored_if_stores_were_lost(s);
  Status st = s.cache->store(ctx, seq, {prompt, static_cast<std::size_t>(n_prompt)}, q->known_chunks);
  if (!st.ok()) {
    std::fprintf(stderr, "kvtier: prompt not stored: %s\n", st.to_string().c_str());
    return;
  }
  // Taken as stored from here on, unless a store fails or is dropped (then every slot forgets).
  q->known_chunks = std::max(q->known_chunks, static_cast<std::size_t>(n_prompt) / s.options.chunk_tokens);
}

std::string metrics_text() {
  State& s = state();
  if (!s.cache) return "";
  const PrefixCacheCounters& c = s.cache->counters();
  std::ostringstream out;
  auto counter = [&](const char* name, const char* help, const std::atomic<std::uint64_t>& v) {
    out << "# HELP kvtier_llama_" << name << " " << help << "\n# TYPE kvtier_llama_" << name
        << " counter\nkvtier_llama_" << name << " " << v.load(std::memory_order_relaxed) << "\n";
  };
  counter("restores_total", "Prompts for which kvtierd was asked for a cached prefix.", c.restores);
  counter("restored_tokens_total", "Prompt tokens restored from kvtierd instead of computed.", c.restored_tokens);
  counter("restore_microseconds_total", "Time spent asking kvtierd and restoring, connecting included.", c.restore_microseconds);
  counter("restored_bytes_total", "Block bytes restored from kvtierd.", c.restored_bytes);
  counter("restore_fallbacks_total", "Restores that used fewer cached chunks than kvtierd reported, or none, because of an error.", c.restore_fallbacks);
  counter("stored_chunks_total", "Chunks stored in kvtierd and acknowledged.", c.stored_chunks);
  counter("store_failures_total", "Chunks not stored (refused, kvtierd away).", c.store_failures);
  counter("disconnects_total", "Connections to kvtierd dropped after a failure or a missed deadline.", c.disconnects);
  counter("connects_total", "Connections to kvtierd made.", c.connects);
  counter("stores_dropped_total", "Prompts whose chunks were not stored because the store queue was full or the server was stopping.", c.stores_dropped);
  return out.str();
}

}  // namespace kvtier::llama_server
