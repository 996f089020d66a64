// ChatWorkload: a deterministic stream of multi-turn chat requests. Sessions share a few system
// prompts; each turn's prompt is the session's whole history plus a new user message, so turns
// extend the previous prompt; sessions and system prompts are picked with Zipf popularity.
// The same seed gives the same requests on every machine (own PRNG and Zipf, no std::
// distributions, whose output differs between standard libraries).
//
// Thread-safety: one generator per thread.
#pragma once

#include <cstdint>
#include <vector>

#include "workload/rng.h"

namespace kvtier::workload {

struct ChatWorkloadConfig {
  std::uint64_t seed = 1;
  std::uint32_t system_prompts = 8;
  std::uint32_t system_prompt_min_tokens = 512;
  std::uint32_t system_prompt_max_tokens = 2048;
  std::uint32_t sessions = 200;
  double session_zipf = 1.1;       // popularity skew over sessions
  double system_prompt_zipf = 1.0; // popularity skew over system prompts
  std::uint32_t user_min_tokens = 32;
  std::uint32_t user_max_tokens = 256;
  std::uint32_t answer_min_tokens = 64;
  std::uint32_t answer_max_tokens = 256;
  std::uint32_t max_context_tokens = 8192;  // a session that would exceed it starts over
  std::uint32_t vocabulary = 128256;        // token ids are < vocabulary
};

struct ChatRequest {
  std::uint32_t session = 0;
  std::uint32_t turn = 0;
  std::vector<std::uint32_t> prompt;  // system prompt + history + this turn's user message
  std::uint32_t answer_tokens = 0;
};

// Samples 0..n-1 with P(k) proportional to 1/(k+1)^s.
class ZipfSampler {
 public:
  ZipfSampler(std::uint32_t n, double s);
  // u uniform in [0, 1).
  std::uint32_t sample(double u) const;

 private:
  std::vector<double> cdf_;
};

class ChatWorkload {
 public:
  explicit ChatWorkload(const ChatWorkloadConfig& config);
  ChatRequest next();

 private:
  ChatWorkloadConfig config_;
  SplitMix64 rng_;
  ZipfSampler session_pick_;
  ZipfSampler system_pick_;
  std::vector<std::vector<std::uint32_t>> system_prompts_;
  struct Session {
    std::vector<std::uint32_t> history;  // starts as its system prompt
    std::uint32_t turn = 0;
  };
  std::vector<Session> sessions_;
};

}  // namespace kvtier::workload
