// RagWorkload: deterministic document Q&A / RAG requests. A corpus of long documents; each request
// is a shared instruction prompt + one document (picked with Zipf popularity) + a new question, so
// every question about a document shares the document's prefix.
//
// Thread-safety: one generator per thread.
#pragma once

#include <cstdint>
#include <vector>

#include "workload/chat_workload.h"
#include "workload/rng.h"

namespace kvtier::workload {

struct RagWorkloadConfig {
  std::uint64_t seed = 1;
  std::uint32_t documents = 200;
  double document_zipf = 1.1;                // popularity skew over documents
  std::uint32_t instruction_tokens = 256;    // shared by every request
  std::uint32_t document_min_tokens = 2048;
  std::uint32_t document_max_tokens = 8192;
  std::uint32_t question_min_tokens = 16;
  std::uint32_t question_max_tokens = 128;
  std::uint32_t answer_min_tokens = 64;
  std::uint32_t answer_max_tokens = 256;
  std::uint32_t vocabulary = 128256;
};

struct RagRequest {
  std::uint32_t document = 0;
  std::vector<std::uint32_t> prompt;  // instruction + document + question
  std::uint32_t answer_tokens = 0;
};

class RagWorkload {
 public:
  explicit RagWorkload(const RagWorkloadConfig& config);
  RagRequest next();

 private:
  const std::vector<std::uint32_t>& document(std::uint32_t d);

  RagWorkloadConfig config_;
  SplitMix64 rng_;
  ZipfSampler pick_;
  std::vector<std::uint32_t> instruction_;
  // Documents are generated on first use from their own seed, so a corpus of thousands costs only
  // what is asked about.
  std::vector<std::vector<std::uint32_t>> documents_;
};

}  // namespace kvtier::workload
