// kvtier as llama-server's prompt cache (issue 28, docs/INTEGRATIONS.md). llama-server, patched
// with integrations/llama/server/llama-server.patch, calls these functions at a few points; the
// logic lives here (and in PrefixCache), so the patch stays a few lines per point and rebases
// easily onto another llama.cpp.
//
// What it does: when a slot starts a prompt, the longest prefix kvtierd holds (whole chunks of
// --kvtier-chunk tokens) is restored into the slot's sequence if it is longer than what the slot
// (or llama-server's own --cache-ram) already holds; when the prompt is prefilled, its new full
// chunks are stored from a background thread. kvtierd absent, frozen, restarting or returning a
// damaged block costs at most --kvtier-deadline-ms per request and means recomputing.
//
// Threading: take_args() and attach() before the server serves; restore() and prompt_done() from
// the thread that runs the slots; metrics_text() from any thread.
#pragma once

#include <string>

#include "llama.h"

namespace kvtier::llama_server {

// Takes kvtier's flags out of argv (before llama.cpp parses it): --kvtier ADDRESS (kvtierd's
// Unix socket: "unix:PATH" or a path), --kvtier-token-file PATH, --kvtier-chunk N (tokens per
// block, default 256), --kvtier-deadline-ms N (default 50), --kvtier-model-id ID (default: from
// the GGUF). False, with the reason on stderr, for a bad value.
bool take_args(int* argc, char** argv);

// Whether --kvtier was given and the cache is attached.
bool active();

// The server's context is ready and no slot has run yet: learns the KV layout (decodes one token
// in sequence `probe_seq`, empty, and empties it again) and connects. `supported` false (a draft
// model or a multimodal projector, whose state the blocks do not hold): kvtier stays off, said
// once. A failure is logged and the server runs without kvtier.
void attach(llama_context* ctx, llama_seq_id probe_seq, bool supported);

// A slot starts a prompt of `n_prompt` tokens, `held` of which (prompt[0, held)) its sequence
// `seq` already holds. Returns the tokens the sequence holds afterwards (the slot's tokens become
// prompt[0, result)): more than `held` when a longer prefix was restored; fewer, 0 included, when
// the sequence was replaced and then a block turned out damaged while it loaded or llama.cpp
// refused the state; else `held`.
int restore(llama_context* ctx, llama_seq_id seq, const llama_token* prompt, int n_prompt, int held);

// The slot's prompt is prefilled in sequence `seq`: queues its full chunks that kvtierd lacks to
// be stored, off the request's path.
void prompt_done(llama_context* ctx, llama_seq_id seq, const llama_token* prompt, int n_prompt);

// kvtier's lines for llama-server's /metrics (Prometheus text; empty when not active).
std::string metrics_text();

}  // namespace kvtier::llama_server
