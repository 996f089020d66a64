// The generators behind the Workload interface (see workload.h).
#include "workload/workload.h"

#include <utility>

#include "workload/agent_workload.h"
#include "workload/chat_workload.h"
#include "workload/rag_workload.h"

namespace kvtier::workload {

ModelLayout llama31_8b_bf16_layout(std::uint32_t chunk_tokens) {
  return {.model_id = "meta-llama/Llama-3.1-8B-Instruct", .kv_dtype = "bf16", .num_layers = 32,
          .num_kv_heads = 8, .head_dim = 128, .chunk_tokens = chunk_tokens};
}

std::uint64_t bf16_kv_bytes_per_token(const ModelLayout& l) {
  return 2ull * l.num_layers * l.num_kv_heads * l.head_dim * 2;
}
namespace {

// Virtual arrival times: one request every 100 ms. Only traces carry real timestamps; bench
// replays generators as fast as the daemon answers.
constexpr std::uint64_t kInterarrivalMs = 100;

// Adapts a token-level generator G (next() returning a request with .prompt and .answer_tokens)
// to the key-level Workload interface.
template <typename G, typename SessionOf>
class TokenWorkload final : public Workload {
 public:
  TokenWorkload(G generator, SessionOf session_of, const WorkloadParams& params, const Key& ns_key)
      : gen_(std::move(generator)), session_of_(session_of), params_(params), ns_key_(ns_key) {}

  bool next(WorkloadRequest& out) override {
    if (params_.requests != 0 && index_ >= params_.requests) return false;
    auto req = gen_.next();
    out.index = index_;
    out.timestamp_ms = index_ * kInterarrivalMs;
    ++index_;
    out.session = session_of_(req);
    out.chain = chunk_keys(ns_key_, req.prompt, params_.chunk_tokens);
    out.prompt_tokens = req.prompt.size();
    out.output_tokens = req.answer_tokens;
    out.new_from = seen_.mark(out.chain);
    return true;
  }
  std::string_view name() const override { return workload_kind_name(params_.kind); }

 private:
  G gen_;
  SessionOf session_of_;
  WorkloadParams params_;
  Key ns_key_;
  std::uint64_t index_ = 0;
  SeenKeys seen_;
};

template <typename G, typename SessionOf>
std::unique_ptr<Workload> wrap(G generator, SessionOf session_of, const WorkloadParams& p,
                               const Key& ns_key) {
  return std::make_unique<TokenWorkload<G, SessionOf>>(std::move(generator), session_of, p, ns_key);
}

}  // namespace

Result<WorkloadKind> parse_workload_kind(std::string_view name) {
  if (name == "chat") return WorkloadKind::Chat;
  if (name == "rag") return WorkloadKind::Rag;
  if (name == "agent") return WorkloadKind::Agent;
  return Status::InvalidArgument("unknown workload '" + std::string(name) + "' (chat, rag, agent)");
}

std::string_view workload_kind_name(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::Chat: return "chat";
    case WorkloadKind::Rag: return "rag";
    case WorkloadKind::Agent: return "agent";
  }
  return "?";
}

Status validate(const WorkloadParams& p) {
  if (p.sessions == 0) return Status::InvalidArgument("workload: sessions must be > 0");
  if (p.chunk_tokens == 0) return Status::InvalidArgument("workload: chunk_tokens must be > 0");
  if (!(p.zipf >= 0 && p.zipf <= 10)) return Status::InvalidArgument("workload: zipf must be in [0, 10]");
  return Status::Ok();
}

Result<std::unique_ptr<Workload>> make_workload(const WorkloadParams& p, const Key& ns_key) {
  if (Status s = validate(p); !s.ok()) return s;
  switch (p.kind) {
    case WorkloadKind::Chat:
      return wrap(ChatWorkload({.seed = p.seed, .sessions = p.sessions, .session_zipf = p.zipf}),
                  [](const ChatRequest& r) { return r.session; }, p, ns_key);
    case WorkloadKind::Rag:
      return wrap(RagWorkload({.seed = p.seed, .documents = p.sessions, .document_zipf = p.zipf}),
                  [](const RagRequest& r) { return r.document; }, p, ns_key);
    case WorkloadKind::Agent:
      return wrap(AgentWorkload({.seed = p.seed, .agents = p.sessions, .agent_zipf = p.zipf}),
                  [](const AgentRequest& r) { return r.agent; }, p, ns_key);
  }
  return Status::InvalidArgument("workload: unknown kind");
}

std::size_t SeenKeys::mark(const std::vector<Key>& chain) {
  std::size_t first_new = chain.size();
  for (std::size_t i = 0; i < chain.size(); ++i) {
    if (seen_.insert(chain[i]).second && first_new == chain.size()) first_new = i;
  }
  return first_new;
}

}  // namespace kvtier::workload
