// One prompt through llama.cpp, with or without kvtier: restore the cached prefix, prefill the
// rest in chunk-aligned batches, sample greedily, store the new chunks. Used by the example
// program and the tests, so both measure and check the same path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kvtier/status.h"
#include "llama.h"
#include "prefix_cache.h"

namespace kvtier::llama {

struct PromptRun {
  RestoreResult restore;              // tokens restored from kvtier (0 without a cache)
  std::size_t computed = 0;           // prompt tokens prefilled by llama.cpp
  double ttft_seconds = 0;            // start .. first token sampled
  std::vector<float> logits;          // of the last prompt token
  std::vector<llama_token> generated; // greedy, n_predict tokens
  Status stored;                      // store()'s answer (queued; wait_stored() for the PUTs)
};

// Context parameters under which restore + prefill gives the bits a full prefill gives: batches
// of chunk_tokens (restored chunks were computed in exactly those batches), one sequence. Flash
// attention off stores V transposed; on, V rows as K's (the layout llama-server uses by default).
llama_context_params context_params_for(std::uint32_t chunk_tokens, std::uint32_t n_ctx, int threads,
                                        bool flash_attention = false);

// Runs `prompt` in sequence 0 of `ctx`. `cache` may be null: a full recompute. Sequence 0 is
// emptied first, except for its first `keep_tokens` tokens (which must be the prompt's): that is
// llama.cpp's own in-process prompt reuse, the reference a kvtier restore is compared with.
Result<PromptRun> run_prompt(llama_context* ctx, PrefixCache* cache, std::span<const llama_token> prompt,
                             std::uint32_t chunk_tokens, int n_predict, std::size_t keep_tokens = 0);

// Deterministic token ids in [1000, 1000+span): prompts that share exactly the tokens asked for.
std::vector<llama_token> seeded_tokens(std::uint64_t seed, std::size_t n);

}  // namespace kvtier::llama
