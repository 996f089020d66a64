// kvtier as llama-server's prompt cache: the hooks' state and logic (see kvtier_server_hooks.h).
#include "kvtier_server_hooks.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

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

struct State {
  PrefixCacheOptions options;
  bool requested = false;           // --kvtier given
  std::unique_ptr<PrefixCache> cache;
  // Per sequence: chunks of its current prompt that kvtierd holds already (LOOKUP's answer at
  // restore, or what the slot held itself): prompt_done() stores from there on.
  std::vector<std::size_t> known_chunks;
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

void attach(llama_context* ctx, llama_seq_id probe_seq, bool supported) {
  State& s = state();
  if (!s.requested) return;
  if (!supported) {
    std::fprintf(stderr, "kvtier: not used: the server has a draft model or a multimodal projector, "
                         "whose state kvtier blocks do not hold\n");
    return;
  }
  // As many chunks as a slot's context can hold.
  s.options.max_chunks = std::max<std::uint32_t>(1, llama_n_ctx_seq(ctx) / s.options.chunk_tokens);
  Result<std::unique_ptr<PrefixCache>> cache = PrefixCache::open(ctx, s.options, probe_seq);
  if (!cache.ok()) {
    std::fprintf(stderr, "kvtier: not used: %s\n", cache.status().to_string().c_str());
    return;
  }
  s.cache = std::move(*cache);
  s.known_chunks.assign(llama_n_seq_max(ctx), 0);
  std::fprintf(stderr, "kvtier: prompt cache on %s, %u-token chunks of %zu bytes, model %s\n",
               s.options.address.c_str(), s.options.chunk_tokens, s.cache->chunk_bytes(),
               s.cache->model_layout().model_id.c_str());
}

int restore(llama_context* ctx, llama_seq_id seq, const llama_token* prompt, int n_prompt, int held) {
  State& s = state();
  if (!s.cache || seq < 0 || static_cast<std::size_t>(seq) >= s.known_chunks.size()) return held;
  RestoreResult r = s.cache->restore(ctx, seq, {prompt, static_cast<std::size_t>(n_prompt)},
                                     static_cast<std::size_t>(held));
  const std::size_t chunk = s.options.chunk_tokens;
  // The chunks kvtierd holds, not to be stored again; past a damaged or refused one, what this
  // slot computes is stored and replaces it.
  const std::size_t usable = r.fallback.empty() ? r.chunks_cached : r.tokens / chunk;
  s.known_chunks[static_cast<std::size_t>(seq)] = std::max(usable, static_cast<std::size_t>(held) / chunk);
  return r.replaced ? static_cast<int>(r.tokens) : held;
}

void prompt_done(llama_context* ctx, llama_seq_id seq, const llama_token* prompt, int n_prompt) {
  State& s = state();
  if (!s.cache || seq < 0 || static_cast<std::size_t>(seq) >= s.known_chunks.size()) return;
  const std::size_t from = s.known_chunks[static_cast<std::size_t>(seq)];
  Status st = s.cache->store(ctx, seq, {prompt, static_cast<std::size_t>(n_prompt)}, from);
  if (!st.ok()) std::fprintf(stderr, "kvtier: prompt not stored: %s\n", st.to_string().c_str());
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
  return out.str();
}

}  // namespace kvtier::llama_server
