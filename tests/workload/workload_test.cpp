// The bench workload generators: deterministic per seed, and shaped as their names say (chat turns
// extend the previous prompt, RAG questions share their document's prefix, agents come back to
// their memory after other agents ran).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "kvtier/key.h"
#include "workload/agent_workload.h"
#include "workload/rag_workload.h"
#include "workload/workload.h"

namespace kvtier::workload {
namespace {

Key test_ns() {
  ModelLayout l;
  l.model_id = "test-model";
  l.kv_dtype = "bf16";
  l.num_layers = 2;
  l.num_kv_heads = 2;
  l.head_dim = 64;
  l.chunk_tokens = 16;
  Result<Key> k = namespace_key(l);
  EXPECT_TRUE(k.ok()) << k.status().to_string();
  return k.ok() ? *k : Key{};
}

std::vector<WorkloadRequest> take(WorkloadKind kind, std::uint64_t seed, std::size_t n) {
  WorkloadParams p;
  p.kind = kind;
  p.seed = seed;
  p.sessions = 20;
  p.requests = n;
  Result<std::unique_ptr<Workload>> w = make_workload(p, test_ns());
  EXPECT_TRUE(w.ok()) << w.status().to_string();
  std::vector<WorkloadRequest> out;
  if (!w.ok()) return out;
  WorkloadRequest r;
  while (out.size() < n + 5 && (*w)->next(r)) out.push_back(r);
  return out;
}

bool same_stream(const std::vector<WorkloadRequest>& a, const std::vector<WorkloadRequest>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].chain != b[i].chain || a[i].session != b[i].session || a[i].new_from != b[i].new_from ||
        a[i].output_tokens != b[i].output_tokens) {
      return false;
    }
  }
  return true;
}

bool is_prefix(const std::vector<Key>& p, const std::vector<Key>& of) {
  return p.size() <= of.size() && std::equal(p.begin(), p.end(), of.begin());
}

class EveryWorkload : public ::testing::TestWithParam<WorkloadKind> {};

TEST_P(EveryWorkload, SameSeedSameStreamOtherSeedOtherStream) {
  auto a = take(GetParam(), 7, 60);
  auto b = take(GetParam(), 7, 60);
  auto c = take(GetParam(), 8, 60);
  ASSERT_EQ(a.size(), 60u);  // --requests bounds the stream
  EXPECT_TRUE(same_stream(a, b));
  EXPECT_FALSE(same_stream(a, c));
}

TEST_P(EveryWorkload, NewFromMarksFirstUnseenChunk) {
  auto s = take(GetParam(), 3, 80);
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s[0].new_from, 0u);
  std::set<std::vector<std::uint8_t>> seen;
  bool some_reuse = false;
  for (const auto& r : s) {
    ASSERT_FALSE(r.chain.empty());
    for (std::size_t i = 0; i < r.chain.size(); ++i) {
      std::vector<std::uint8_t> k(r.chain[i].bytes.begin(), r.chain[i].bytes.end());
      EXPECT_EQ(seen.count(k) == 0, i >= r.new_from) << "request " << r.index << " chunk " << i;
    }
    for (const auto& k : r.chain) seen.insert({k.bytes.begin(), k.bytes.end()});
    some_reuse |= r.new_from > 0;
  }
  EXPECT_TRUE(some_reuse);
}

INSTANTIATE_TEST_SUITE_P(Kinds, EveryWorkload,
                         ::testing::Values(WorkloadKind::Chat, WorkloadKind::Rag, WorkloadKind::Agent),
                         [](const auto& info) { return std::string(workload_kind_name(info.param)); });

TEST(ChatWorkloadShape, TurnsExtendThePreviousPrompt) {
  auto s = take(WorkloadKind::Chat, 5, 300);
  std::map<std::uint32_t, std::vector<Key>> last;
  int extended = 0;
  for (const auto& r : s) {
    auto it = last.find(r.session);
    // A session that would exceed its context starts over (then the chain is shorter).
    if (it != last.end() && r.chain.size() > it->second.size()) {
      EXPECT_TRUE(is_prefix(it->second, r.chain)) << "request " << r.index;
      EXPECT_GE(r.new_from, it->second.size());
      ++extended;
    }
    last[r.session] = r.chain;
  }
  EXPECT_GT(extended, 50);
}

TEST(RagWorkloadShape, QuestionsShareTheirDocumentsPrefix) {
  RagWorkloadConfig c;
  c.documents = 10;
  RagWorkload w(c);
  std::map<std::uint32_t, std::vector<std::uint32_t>> first;
  int repeats = 0;
  for (int i = 0; i < 100; ++i) {
    RagRequest r = w.next();
    std::size_t doc_end = r.prompt.size();  // at least instruction + document
    auto it = first.find(r.document);
    if (it == first.end()) {
      first[r.document] = r.prompt;
      continue;
    }
    ++repeats;
    // Same instruction + document; the question differs.
    std::size_t common = 0;
    while (common < std::min(doc_end, it->second.size()) && r.prompt[common] == it->second[common]) ++common;
    EXPECT_GE(common, c.instruction_tokens + c.document_min_tokens);
    EXPECT_NE(r.prompt, it->second);
  }
  EXPECT_GT(repeats, 50);
  // And at key level the shared prefix is what gets reused.
  auto s = take(WorkloadKind::Rag, 5, 100);
  int reused = 0;
  for (const auto& r : s) reused += r.new_from >= (256 + 2048) / 16;
  EXPECT_GT(reused, 30);
}

TEST(AgentWorkloadShape, AgentsRevisitTheirMemoryAfterIdleGaps) {
  AgentWorkloadConfig c;
  c.agents = 10;
  AgentWorkload w(c);
  std::map<std::uint32_t, std::vector<std::uint32_t>> last;
  int revisits = 0;
  std::uint32_t prev_agent = UINT32_MAX;
  for (int i = 0; i < 300; ++i) {
    AgentRequest r = w.next();
    auto it = last.find(r.agent);
    if (r.revisit) {
      ++revisits;
      EXPECT_NE(it, last.end());
    }
    if (it != last.end() && r.step > 0) {
      // The memory grew: the previous prompt is a prefix of this one.
      ASSERT_LT(it->second.size(), r.prompt.size());
      EXPECT_TRUE(std::equal(it->second.begin(), it->second.end(), r.prompt.begin())) << "step " << i;
    }
    if (prev_agent != UINT32_MAX && prev_agent != r.agent) {
      EXPECT_TRUE(r.revisit || it == last.end());
    }
    last[r.agent] = r.prompt;
    prev_agent = r.agent;
  }
  EXPECT_GT(revisits, 10);
}

TEST(WorkloadParams, BadParamsAreRefused) {
  WorkloadParams p;
  p.sessions = 0;
  EXPECT_FALSE(make_workload(p, test_ns()).ok());
  p.sessions = 1;
  p.chunk_tokens = 0;
  EXPECT_FALSE(make_workload(p, test_ns()).ok());
  EXPECT_FALSE(parse_workload_kind("video").ok());
  EXPECT_EQ(*parse_workload_kind("rag"), WorkloadKind::Rag);
}

}  // namespace
}  // namespace kvtier::workload
