// Workload: the one interface `kvtier bench` drives. A workload is a stream of requests, each a
// chain of chunk keys (docs/KEYS.md derivation) with the index from which its chunks were never
// seen before in this stream. Generators (chat, rag, agent) are deterministic: the same
// WorkloadParams give the same stream on every machine; a trace replays a recorded stream.
//
// Thread-safety: a Workload is not thread-safe; callers serialize next().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "kvtier/key.h"
#include "kvtier/status.h"

namespace kvtier::workload {

// The KV layout `kvtier demo` and `kvtier bench` replay by default: Llama-3.1-8B in BF16,
// 2 (K and V) x 32 layers x 8 KV heads x 128 dims x 2 bytes = 131,072 bytes per token.
ModelLayout llama31_8b_bf16_layout(std::uint32_t chunk_tokens);
// Bytes of K and V per token of a layout with a BF16/FP16 KV cache (2 bytes per element).
std::uint64_t bf16_kv_bytes_per_token(const ModelLayout& l);

struct WorkloadRequest {
  std::uint64_t index = 0;          // 0, 1, 2, ... in stream order
  std::uint64_t timestamp_ms = 0;   // virtual arrival time (traces: the recorded one)
  std::uint32_t session = 0;        // session / document / agent the request belongs to
  std::vector<Key> chain;           // keys of the prompt's full chunks, in order
  std::uint64_t prompt_tokens = 0;  // prompt length (may exceed chain.size() * chunk_tokens)
  std::uint32_t output_tokens = 0;
  // chain[new_from..] were never seen earlier in this stream. Keys are chained, so once a chunk is
  // new every later one is too: "which are new" is one index.
  std::size_t new_from = 0;
};

class Workload {
 public:
  virtual ~Workload() = default;
  // False when the stream is exhausted (generators never are; traces end).
  virtual bool next(WorkloadRequest& out) = 0;
  virtual std::string_view name() const = 0;
};

enum class WorkloadKind { Chat, Rag, Agent };

// Parses "chat", "rag" or "agent".
Result<WorkloadKind> parse_workload_kind(std::string_view name);
std::string_view workload_kind_name(WorkloadKind kind);

struct WorkloadParams {
  WorkloadKind kind = WorkloadKind::Chat;
  std::uint64_t seed = 1;
  std::uint32_t sessions = 200;   // chat sessions / RAG documents / agents. Default: 200
  double zipf = 1.1;              // popularity skew over sessions. Default: 1.1
  std::uint32_t chunk_tokens = 16;  // tokens per chunk (block). Default: 16
  std::uint64_t requests = 0;     // stream length; 0 = unbounded. Default: 0
};

Status validate(const WorkloadParams& params);

// A generator for `params`, keys chained from `ns_key` (namespace_key of the model layout).
Result<std::unique_ptr<Workload>> make_workload(const WorkloadParams& params, const Key& ns_key);

// Tracks which keys a stream has seen, to fill WorkloadRequest::new_from.
class SeenKeys {
 public:
  // The index of the first key of `chain` not seen before; marks the whole chain seen.
  std::size_t mark(const std::vector<Key>& chain);

 private:
  std::unordered_set<Key, KeyHash> seen_;
};

}  // namespace kvtier::workload
