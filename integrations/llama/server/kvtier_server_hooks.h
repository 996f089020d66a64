// kvtier as llama-server's prompt cache (issue 28, docs/INTEGRATIONS.md). llama-server, patched
// with integrations/llama/server/llama-server.patch, calls these functions at a few points; the
// logic lives here (and in PrefixCache), so the patch stays a few lines per point and rebases
// easily onto another llama.cpp.
//
// What it does: when a slot starts a prompt, the longest prefix kvtierd holds (whole chunks of
// --kvtier-chunk tokens) is restored into the slot's sequence if it is longer than what the slot
// (or llama-server's own --cache-ram) already holds; when the prompt is prefilled, its new full
// chunks are stored from a background thread. kvtierd absent, frozen, restarting or returning a
// damaged block means recomputing; each call to kvtierd waits at most --kvtier-deadline-ms (a
// restore makes two, LOOKUP and GET; reconnecting after an outage two more), and the server's slot
// loop waits with it (docs/INTEGRATIONS.md).
//
// Threading: take_args() and attach() before the server serves; restore() and prompt_done() from
// the thread that runs the slots; metrics_text() from any thread.
#pragma once

#include <string>

#include "llama.h"

struct common_params;

namespace kvtier::llama_server {

// Takes kvtier's flags out of argv (before llama.cpp parses it): --kvtier ADDRESS (kvtierd's
// Unix socket: "unix:PATH" or a path), --kvtier-token-file PATH, --kvtier-chunk N (tokens per
// block, default 256), --kvtier-deadline-ms N (default 50), --kvtier-model-id ID (default: from
// the GGUF). False, with the reason on stderr, for a bad value.
bool take_args(int* argc, char** argv);

// Whether --kvtier was given and the cache is attached.
bool active();

// The server runs in router mode (no model: it starts one process per model). False, with the
// reason on stderr, when --kvtier was given: the router does not pass it to its model processes,
// so kvtier would be silently off; run a server per model with --kvtier instead.
bool router_allowed();

// The server's context is ready and no slot has run yet: learns the KV layout (decodes one token
// in sequence `probe_seq`, empty, and empties it again) and connects. kvtier stays off, said once,
// when `unsupported` names something whose effect on the KV the blocks do not record (a draft
// model, a multimodal projector) or `params` loads LoRA adapters or control vectors (a request
// may change their scales). RoPE, YaRN and metadata overrides are folded into the blocks'
// namespace. A failure is logged and the server runs without kvtier.
void attach(llama_context* ctx, llama_seq_id probe_seq, const char* unsupported, const common_params& params);

// A slot starts a completion prompt of `n_prompt` tokens, `held` of which (prompt[0, held)) its
// sequence `seq` already holds. Returns the tokens the sequence holds afterwards (the slot's tokens
// become prompt[0, result)): more than `held` when a longer prefix was restored; fewer, 0
// included, when the sequence was replaced and then a block turned out damaged while it loaded or
// llama.cpp refused the state; else `held`. Not for embedding tasks (their pooling needs every
// token computed).
int restore(llama_context* ctx, llama_seq_id seq, const llama_token* prompt, int n_prompt, int held);

// Sequence `seq`'s cells from position `first_moved` on were moved (context shift, --cache-reuse):
// its KV from there is no longer what a cold prefill of its tokens computes, so nothing of the
// sequence is stored until a prompt keeps at most its first `first_moved` tokens (or it is
// restored from kvtierd).
void sequence_shifted(llama_seq_id seq, int first_moved);

// The slot's completion prompt is prefilled in sequence `seq`: queues its full chunks that
// kvtierd is not known to hold to be stored, off the request's path.
void prompt_done(llama_context* ctx, llama_seq_id seq, const llama_token* prompt, int n_prompt);

// kvtier's lines for llama-server's /metrics (Prometheus text; empty when not active).
std::string metrics_text();

}  // namespace kvtier::llama_server
