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
      state_(config.seed),
      session_pick_(config.sessions, config.session_zipf),
      system_pick_(config.system_prompts, config.system_prompt_zipf) {
  system_prompts_.resize(config.system_prompts);
  for (auto& p : system_prompts_) {
    append_random_tokens(p, uniform(config.system_prompt_min_tokens, config.system_prompt_max_tokens));
  }
  sessions_.resize(config.sessions);
}

// splitmix64: tiny, fully specified, the same everywhere.
std::uint64_t ChatWorkload::next_u64() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double ChatWorkload::next_unit() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

std::uint32_t ChatWorkload::uniform(std::uint32_t lo, std::uint32_t hi) {
  return lo + static_cast<std::uint32_t>(next_u64() % (std::uint64_t{hi} - lo + 1));
}

void ChatWorkload::append_random_tokens(std::vector<std::uint32_t>& out, std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; ++i) out.push_back(static_cast<std::uint32_t>(next_u64() % config_.vocabulary));
}

ChatRequest ChatWorkload::next() {
  ChatRequest req;
  req.session = session_pick_.sample(next_unit());
  Session& s = sessions_[req.session];
  std::uint32_t user = uniform(config_.user_min_tokens, config_.user_max_tokens);
  std::uint32_t answer = uniform(config_.answer_min_tokens, config_.answer_max_tokens);
  if (s.history.empty() || s.history.size() + user + answer > config_.max_context_tokens) {
    s.history = system_prompts_[system_pick_.sample(next_unit())];
    s.turn = 0;
  }
  append_random_tokens(s.history, user);
  req.turn = s.turn++;
  req.prompt = s.history;
  req.answer_tokens = answer;
  append_random_tokens(s.history, answer);  // the answer becomes part of the next turn's prompt
  return req;
}

}  // namespace kvtier::workload
