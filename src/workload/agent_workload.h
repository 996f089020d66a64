// AgentWorkload: deterministic agent long-term memory requests. Long-lived agents, each with its
// own tool prompt and a memory that grows with every step (observation + action). An agent runs a
// burst of consecutive steps, then idles while others run: revisits come after idle gaps, when the
// agent's memory has had time to be evicted or demoted to a lower tier. A memory that would exceed
// max_context_tokens is compacted: tool prompt + a fresh summary, so the keys after the tool prompt
// change.
//
// Thread-safety: one generator per thread.
#pragma once

#include <cstdint>
#include <vector>

#include "workload/chat_workload.h"
#include "workload/rng.h"

namespace kvtier::workload {

struct AgentWorkloadConfig {
  std::uint64_t seed = 1;
  std::uint32_t agents = 200;
  double agent_zipf = 1.1;                 // popularity skew over agents
  std::uint32_t tool_prompt_min_tokens = 1024;
  std::uint32_t tool_prompt_max_tokens = 4096;
  std::uint32_t observation_min_tokens = 64;
  std::uint32_t observation_max_tokens = 512;
  std::uint32_t action_min_tokens = 32;
  std::uint32_t action_max_tokens = 128;
  std::uint32_t burst_min_steps = 1;
  std::uint32_t burst_max_steps = 8;
  std::uint32_t summary_tokens = 512;
  std::uint32_t max_context_tokens = 16384;
  std::uint32_t vocabulary = 128256;
};

struct AgentRequest {
  std::uint32_t agent = 0;
  std::uint32_t step = 0;          // steps since the agent's memory was last (re)started
  bool revisit = false;            // first step of a burst on an agent that ran before
  std::vector<std::uint32_t> prompt;  // tool prompt + memory + this step's observation
  std::uint32_t answer_tokens = 0;
};

class AgentWorkload {
 public:
  explicit AgentWorkload(const AgentWorkloadConfig& config);
  AgentRequest next();

 private:
  void start_burst();

  AgentWorkloadConfig config_;
  SplitMix64 rng_;
  ZipfSampler pick_;
  struct Agent {
    std::vector<std::uint32_t> tool_prompt;
    std::vector<std::uint32_t> memory;  // starts as the tool prompt
    std::uint32_t step = 0;
    bool ran = false;
  };
  std::vector<Agent> agents_;
  std::uint32_t current_ = 0;
  std::uint32_t burst_left_ = 0;
  bool burst_start_ = false;
};

}  // namespace kvtier::workload
