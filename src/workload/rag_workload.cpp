// Deterministic document Q&A requests (see rag_workload.h).
#include "workload/rag_workload.h"

namespace kvtier::workload {

RagWorkload::RagWorkload(const RagWorkloadConfig& config)
    : config_(config), rng_(config.seed), pick_(config.documents, config.document_zipf), documents_(config.documents) {
  rng_.append_tokens(instruction_, config.instruction_tokens, config.vocabulary);
}

const std::vector<std::uint32_t>& RagWorkload::document(std::uint32_t d) {
  std::vector<std::uint32_t>& doc = documents_[d];
  if (doc.empty()) {
    SplitMix64 doc_rng(config_.seed ^ (0xD0C0000000000000ull + d));
    doc_rng.append_tokens(doc, doc_rng.uniform(config_.document_min_tokens, config_.document_max_tokens),
                          config_.vocabulary);
  }
  return doc;
}

RagRequest RagWorkload::next() {
  RagRequest req;
  req.document = pick_.sample(rng_.next_unit());
  const std::vector<std::uint32_t>& doc = document(req.document);
  req.prompt = instruction_;
  req.prompt.insert(req.prompt.end(), doc.begin(), doc.end());
  rng_.append_tokens(req.prompt, rng_.uniform(config_.question_min_tokens, config_.question_max_tokens),
                     config_.vocabulary);
  req.answer_tokens = rng_.uniform(config_.answer_min_tokens, config_.answer_max_tokens);
  return req;
}

}  // namespace kvtier::workload
