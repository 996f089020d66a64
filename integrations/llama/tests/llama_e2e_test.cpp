// llama.cpp through kvtierd end to end: a real daemon process, a real GGUF model (random weights,
// scripts/make-tiny-llama-gguf.py), prompts that share prefixes. The logits after a restore must
// be the bits of a full recompute; a damaged or missing chunk falls back to computing it; a model
// of another KV layout never reads these blocks.
//
// KVTIER_LLAMA_MODEL and KVTIER_LLAMA_MODEL_OTHER name the models (mk/llama.mk sets them).
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "prompt_runner.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier::llama {
namespace {

using kvtier::testing::DaemonProcess;
using kvtier::testing::small_daemon_config;
using kvtier::testing::TempDir;

constexpr std::uint32_t kChunk = 32;

struct Model {
  llama_model* model = nullptr;
  llama_context* ctx = nullptr;
  ~Model() {
    if (ctx) llama_free(ctx);
    if (model) llama_model_free(model);
  }
};

// flash_attention: on, llama.cpp stores V as rows like K (llama-server's default on CPU) and a
// restore goes piece by piece when llama.cpp has llama_state_seq_set_data_reader; off, V is
// transposed and the state is put together first.
std::unique_ptr<Model> load(const char* env, bool flash_attention) {
  const char* path = std::getenv(env);
  if (path == nullptr) return nullptr;
  auto m = std::make_unique<Model>();
  m->model = llama_model_load_from_file(path, llama_model_default_params());
  if (m->model) m->ctx = llama_init_from_model(m->model, context_params_for(kChunk, 1024, 2, flash_attention));
  return m;
}

std::vector<llama_token> concat(std::vector<llama_token> a, const std::vector<llama_token>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class LlamaThroughKvtier : public ::testing::TestWithParam<bool> {
 protected:
  static void SetUpTestSuite() {
    llama_log_set([](ggml_log_level, const char*, void*) {}, nullptr);
    llama_backend_init();
  }

  void SetUp() override {
    tiny_ = load("KVTIER_LLAMA_MODEL", GetParam());
    if (!tiny_) GTEST_SKIP() << "KVTIER_LLAMA_MODEL is not set (make test-llama sets it)";
    ASSERT_NE(tiny_->ctx, nullptr) << "cannot load " << std::getenv("KVTIER_LLAMA_MODEL");
    daemon_ = std::make_unique<DaemonProcess>(dir_.path(), small_daemon_config());
    ASSERT_TRUE(daemon_->started()) << daemon_->log();
    cache_ = open_cache(tiny_->ctx);
    ASSERT_NE(cache_, nullptr);
  }

  std::unique_ptr<PrefixCache> open_cache(llama_context* ctx) {
    PrefixCacheOptions o;
    o.address = daemon_->unix_address();
    o.chunk_tokens = kChunk;
    auto c = PrefixCache::open(ctx, o);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? std::move(*c) : nullptr;
  }

  PromptRun run(llama_context* ctx, PrefixCache* cache, const std::vector<llama_token>& prompt) {
    auto r = run_prompt(ctx, cache, prompt, kChunk, 4);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (cache) EXPECT_TRUE(r->stored.ok()) << r->stored.to_string();
    if (cache) cache->wait_stored();
    return r.ok() ? std::move(*r) : PromptRun{};
  }

  std::unique_ptr<Client> client() {
    ClientOptions o;
    o.address = daemon_->unix_address();
    auto c = Client::connect(o);
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    return c.ok() ? std::move(*c) : nullptr;
  }

  TempDir dir_;
  std::unique_ptr<Model> tiny_;
  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<PrefixCache> cache_;
  // Two prompts sharing 3 chunks, then differing.
  std::vector<llama_token> shared_ = seeded_tokens(1, 3 * kChunk);
  std::vector<llama_token> a_ = concat(shared_, seeded_tokens(2, 40));
  std::vector<llama_token> b_ = concat(shared_, seeded_tokens(3, 50));
};

TEST_P(LlamaThroughKvtier, RestoredPrefixGivesTheLogitsOfAFullRecompute) {
  PromptRun ref_a = run(tiny_->ctx, nullptr, a_);
  PromptRun ref_b = run(tiny_->ctx, nullptr, b_);
  ASSERT_NE(ref_a.logits, ref_b.logits);  // the prompts differ where it shows

  PromptRun first = run(tiny_->ctx, cache_.get(), a_);  // nothing cached: computes and stores
  EXPECT_EQ(first.restore.tokens, 0u);
  EXPECT_EQ(first.logits, ref_a.logits);
  StoreStats stored = cache_->wait_stored();
  EXPECT_EQ(stored.chunks, 4u);  // 136 tokens: 4 full chunks
  EXPECT_EQ(stored.failed, 0u);

  PromptRun again = run(tiny_->ctx, cache_.get(), a_);
  EXPECT_EQ(again.restore.tokens, 4 * kChunk) << again.restore.fallback;
  EXPECT_EQ(again.computed, a_.size() - 4 * kChunk);
  EXPECT_EQ(again.restore.bytes, 4 * cache_->chunk_bytes());
  EXPECT_EQ(again.logits, ref_a.logits);  // bit for bit
#ifdef LLAMA_STATE_SEQ_READER
  EXPECT_EQ(again.restore.piecewise, GetParam()) << "V rows restore straight into the tensors";
#endif
  EXPECT_EQ(again.generated, ref_a.generated);

  PromptRun other = run(tiny_->ctx, cache_.get(), b_);  // shares 3 chunks with a_
  EXPECT_EQ(other.restore.chunks_cached, 3u);
  EXPECT_EQ(other.restore.tokens, 3 * kChunk);
  EXPECT_EQ(other.logits, ref_b.logits);
  EXPECT_EQ(other.generated, ref_b.generated);
}

TEST_P(LlamaThroughKvtier, DamagedOrMissingChunksAreRecomputedWithTheSameOutput) {
  PromptRun ref = run(tiny_->ctx, nullptr, a_);
  run(tiny_->ctx, cache_.get(), a_);
  ASSERT_EQ(cache_->wait_stored().chunks, 4u);
  std::vector<Key> keys = chunk_keys(*namespace_key(cache_->model_layout()),
                                     std::span(reinterpret_cast<const std::uint32_t*>(a_.data()), a_.size()), kChunk);
  auto c = client();
  ASSERT_NE(c, nullptr);
  // Chunk 2 replaced by a copy with one payload byte flipped (a writer's bug kvtier cannot see).
  std::vector<std::byte> block(cache_->chunk_bytes());
  GetResult g = c->get(keys[2], block);
  ASSERT_TRUE(g.status.ok()) << g.status.to_string();
  block[block.size() - 100] ^= std::byte{1};
  ASSERT_TRUE(c->remove(keys[2]).ok());
  ASSERT_TRUE(c->put(keys[2], block).ok());

  PromptRun damaged = run(tiny_->ctx, cache_.get(), a_);
  EXPECT_EQ(damaged.restore.chunks_cached, 4u);
  EXPECT_EQ(damaged.restore.tokens, 2 * kChunk);
  EXPECT_NE(damaged.restore.fallback.find("checksum"), std::string::npos) << damaged.restore.fallback;
  EXPECT_EQ(damaged.logits, ref.logits);
  EXPECT_EQ(damaged.generated, ref.generated);

  // Chunk 1 gone: only chunk 0 is used.
  ASSERT_TRUE(c->remove(keys[1]).ok());
  PromptRun missing = run(tiny_->ctx, cache_.get(), a_);
  EXPECT_EQ(missing.restore.chunks_cached, 1u);
  EXPECT_EQ(missing.restore.tokens, kChunk);
  EXPECT_EQ(missing.logits, ref.logits);
}

TEST_P(LlamaThroughKvtier, AModelOfAnotherLayoutNeverReadsTheseBlocks) {
  run(tiny_->ctx, cache_.get(), a_);
  ASSERT_EQ(cache_->wait_stored().chunks, 4u);
  auto other = load("KVTIER_LLAMA_MODEL_OTHER", GetParam());
  ASSERT_NE(other, nullptr) << "KVTIER_LLAMA_MODEL_OTHER is not set";
  ASSERT_NE(other->ctx, nullptr);
  auto other_cache = open_cache(other->ctx);
  ASSERT_NE(other_cache, nullptr);
  EXPECT_NE(*namespace_key(other_cache->model_layout()), *namespace_key(cache_->model_layout()));
  EXPECT_NE(other_cache->layout(), cache_->layout());

  PromptRun ref = run(other->ctx, nullptr, a_);
  PromptRun first = run(other->ctx, other_cache.get(), a_);
  EXPECT_EQ(first.restore.chunks_cached, 0u);  // its own namespace: none of tiny's keys
  EXPECT_EQ(first.logits, ref.logits);

  // Even a tiny block planted under the other model's key is refused, not restored.
  std::vector<Key> tiny_keys = chunk_keys(*namespace_key(cache_->model_layout()),
                                          std::span(reinterpret_cast<const std::uint32_t*>(a_.data()), a_.size()), kChunk);
  std::vector<Key> other_keys = chunk_keys(*namespace_key(other_cache->model_layout()),
                                           std::span(reinterpret_cast<const std::uint32_t*>(a_.data()), a_.size()), kChunk);
  auto c = client();
  std::vector<std::byte> block(cache_->chunk_bytes());
  ASSERT_TRUE(c->get(tiny_keys[0], block).status.ok());
  ASSERT_TRUE(c->remove(other_keys[0]).ok());
  ASSERT_TRUE(c->put(other_keys[0], block).ok());
  PromptRun planted = run(other->ctx, other_cache.get(), a_);
  EXPECT_EQ(planted.restore.tokens, 0u);
  EXPECT_FALSE(planted.restore.fallback.empty());
  EXPECT_EQ(planted.logits, ref.logits);
}

INSTANTIATE_TEST_SUITE_P(FlashAttention, LlamaThroughKvtier, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "On" : "Off"; });

}  // namespace
}  // namespace kvtier::llama
