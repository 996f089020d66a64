// Deterministic multi-turn chat requests (see chat_workload.h).
#include "workload/chat_workload.h"

#include <algorithm>
#include <cmath>

namespace kvtier::workload {

ZipfSampler::ZipfSampler(std::uint32_t n, double s) : cdf_(n) {
  double sum = 0;
  for (std::uint32_t k = 0; k < n; ++k) {
    sum += 1.0 / std::pow(static_cast<double>(k + 1), s);
    cdf_[k] = sum;
  }
  for (double& c : cdf_) c /= sum;
}

std::uint32_t ZipfSampler::sample(double u) const {
  auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  if (it == cdf_.end()) return static_cast<std::uint32_t>(cdf_.size() - 1);
  return static_cast<std::uint32_t>(it - cdf_.begin());
}

ChatWorkload::ChatWorkload(const ChatWorkloadConfig& config)
    : config_(config),
      rng_(config.seed),
      session_pick_(config.sessions, config.session_zipf),
      system_pick_(config.system_prompts, config.system_prompt_zipf) {
  system_prompts_.resize(config.system_prompts);
  for (auto& p : system_prompts_) {
    rng_.append_tokens(p, rng_.uniform(config.system_prompt_min_tokens, config.system_prompt_max_tokens),
                      config.vocabulary);
  }
  sessions_.resize(config.sessions);
}

ChatRequest ChatWorkload::next() {
  ChatRequest req;
  req.session = session_pick_.sample(rng_.next_unit());
  Session& s = sessions_[req.session];
  std::uint32_t user = rng_.uniform(config_.user_min_tokens, config_.user_max_tokens);
  std::uint32_t answer = rng_.uniform(config_.answer_min_tokens, config_.answer_max_tokens);
  if (s.history.empty() || s.history.size() + user + answer > config_.max_context_tokens) {
    s.history = system_prompts_[system_pick_.sample(rng_.next_unit())];
    s.turn = 0;
  }
  rng_.append_tokens(s.history, user, config_.vocabulary);
  req.turn = s.turn++;
  req.prompt = s.history;
  req.answer_tokens = answer;
  rng_.append_tokens(s.history, answer, config_.vocabulary);  // the answer becomes part of the next turn's prompt
  return req;
}

}  // namespace kvtier::workload
