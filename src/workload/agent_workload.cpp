// Deterministic agent long-term memory requests (see agent_workload.h).
#include "workload/agent_workload.h"

namespace kvtier::workload {

AgentWorkload::AgentWorkload(const AgentWorkloadConfig& config)
    : config_(config), rng_(config.seed), pick_(config.agents, config.agent_zipf), agents_(config.agents) {}

void AgentWorkload::start_burst() {
  current_ = pick_.sample(rng_.next_unit());
  burst_left_ = rng_.uniform(config_.burst_min_steps, config_.burst_max_steps);
  burst_start_ = true;
  Agent& a = agents_[current_];
  if (a.tool_prompt.empty()) {
    // Each agent's tool prompt from its own seed: the same agent has the same prompt whatever ran
    // before it.
    SplitMix64 agent_rng(config_.seed ^ (0xA6E0000000000000ull + current_));
    agent_rng.append_tokens(a.tool_prompt,
                            agent_rng.uniform(config_.tool_prompt_min_tokens, config_.tool_prompt_max_tokens),
                            config_.vocabulary);
    a.memory = a.tool_prompt;
  }
}

AgentRequest AgentWorkload::next() {
  if (burst_left_ == 0) start_burst();
  --burst_left_;
  Agent& a = agents_[current_];
  AgentRequest req;
  req.agent = current_;
  req.revisit = burst_start_ && a.ran;
  burst_start_ = false;
  a.ran = true;
  std::uint32_t observation = rng_.uniform(config_.observation_min_tokens, config_.observation_max_tokens);
  std::uint32_t action = rng_.uniform(config_.action_min_tokens, config_.action_max_tokens);
  if (a.memory.size() + observation + action > config_.max_context_tokens) {
    a.memory = a.tool_prompt;
    rng_.append_tokens(a.memory, config_.summary_tokens, config_.vocabulary);
    a.step = 0;
  }
  rng_.append_tokens(a.memory, observation, config_.vocabulary);
  req.step = a.step++;
  req.prompt = a.memory;
  req.answer_tokens = action;
  rng_.append_tokens(a.memory, action, config_.vocabulary);  // the action is remembered
  return req;
}

}  // namespace kvtier::workload
