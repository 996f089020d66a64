// run_prompt (see prompt_runner.h).
#include "prompt_runner.h"

#include <algorithm>
#include <chrono>

namespace kvtier::llama {
namespace {

// Decodes prompt[begin, end) at positions begin.., asking for logits of the last one only if
// `want_last`. Batches end at multiples of chunk_tokens, so restored and recomputed prefixes see
// the same batch shapes.
Status prefill(llama_context* ctx, std::span<const llama_token> prompt, std::size_t begin,
               std::uint32_t chunk_tokens) {
  llama_batch b = llama_batch_init(static_cast<std::int32_t>(chunk_tokens), 0, 1);
  Status result = Status::Ok();
  for (std::size_t at = begin; at < prompt.size() && result.ok();) {
    std::size_t end = std::min(prompt.size(), (at / chunk_tokens + 1) * chunk_tokens);
    b.n_tokens = 0;
    for (std::size_t i = at; i < end; ++i) {
      const int k = b.n_tokens++;
      b.token[k] = prompt[i];
      b.pos[k] = static_cast<llama_pos>(i);
      b.n_seq_id[k] = 1;
      b.seq_id[k][0] = 0;
      b.logits[k] = i + 1 == prompt.size();
    }
    if (int rc = llama_decode(ctx, b); rc != 0) result = Status::IOError("llama_decode returned " + std::to_string(rc));
    at = end;
  }
  llama_batch_free(b);
  return result;
}

llama_token argmax(const float* logits, int n) {
  return static_cast<llama_token>(std::max_element(logits, logits + n) - logits);
}

}  // namespace

llama_context_params context_params_for(std::uint32_t chunk_tokens, std::uint32_t n_ctx, int threads,
                                        bool flash_attention) {
  llama_context_params p = llama_context_default_params();
  p.n_ctx = n_ctx;
  p.n_batch = chunk_tokens;
  p.n_ubatch = chunk_tokens;
  p.n_seq_max = 1;
  p.n_threads = threads;
  p.n_threads_batch = threads;
  p.flash_attn_type = flash_attention ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
  p.no_perf = true;
  return p;
}

Result<PromptRun> run_prompt(llama_context* ctx, PrefixCache* cache, std::span<const llama_token> prompt,
                             std::uint32_t chunk_tokens, int n_predict, std::size_t keep_tokens) {
  if (prompt.empty()) return Status::InvalidArgument("empty prompt");
  keep_tokens = std::min(keep_tokens, prompt.size() - 1);
  PromptRun run;
  const auto start = std::chrono::steady_clock::now();
  llama_memory_seq_rm(llama_get_memory(ctx), 0, static_cast<llama_pos>(keep_tokens), -1);
  if (cache != nullptr && keep_tokens == 0) run.restore = cache->restore(ctx, 0, prompt);
  const std::size_t begin = keep_tokens > 0 ? keep_tokens : run.restore.tokens;
  run.computed = prompt.size() - begin;
  KVTIER_RETURN_IF_ERROR(prefill(ctx, prompt, begin, chunk_tokens));
  const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(llama_get_model(ctx)));
  const float* last = llama_get_logits_ith(ctx, -1);
  if (last == nullptr) return Status::IOError("llama.cpp returned no logits");
  run.logits.assign(last, last + n_vocab);
  llama_token next = argmax(last, n_vocab);
  run.ttft_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The new chunks go to kvtier now, before generation: store() copies the state and returns.
  if (cache != nullptr) run.stored = cache->store(ctx, 0, prompt, begin / chunk_tokens);
  for (int i = 0; i < n_predict; ++i) {
    run.generated.push_back(next);
    llama_batch one = llama_batch_get_one(&next, 1);
    if (int rc = llama_decode(ctx, one); rc != 0) return Status::IOError("llama_decode returned " + std::to_string(rc));
    next = argmax(llama_get_logits_ith(ctx, -1), n_vocab);
  }
  return run;
}

std::vector<llama_token> seeded_tokens(std::uint64_t seed, std::size_t n) {
  std::vector<llama_token> out;
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out.push_back(static_cast<llama_token>(1000 + x % 100000));
  }
  return out;
}

}  // namespace kvtier::llama
