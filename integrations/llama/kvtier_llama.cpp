// kvtier-llama: one prompt through llama.cpp with its prefix KV from kvtierd, timed.
//
//   kvtier-llama --model M.gguf --address unix:PATH [--prompt TEXT | --prompt-file F |
//                --seed S --tokens N [--shared-seed S2 --shared-tokens N2]]
//                [--chunk-tokens 256] [--n-predict 16] [--threads 2] [--no-cache] [--repeat R]
//                [--vary-suffix] [--reuse-in-process]
//
// Prints one JSON line per run: ttft_ms, tokens restored / computed, bytes loaded and GB/s, the
// first generated tokens and a checksum of the last prompt token's logits (equal checksums:
// equal bits). --repeat runs the same prompt again in the same process (the second run finds
// what the first stored); --vary-suffix gives run r the suffix seed seed+r, so runs share only
// the --shared-tokens prefix. --no-cache: a full recompute, the reference. --reuse-in-process
// (with --no-cache): keep the KV of the prefix a run shares with the previous one in the context,
// as llama.cpp's own prompt cache (llama-server's cache_prompt) does.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "prompt_runner.h"

namespace {

using namespace kvtier::llama;

struct Args {
  std::string model, address, token, prompt;
  std::uint64_t seed = 1, shared_seed = 0;
  std::size_t tokens = 0, shared_tokens = 0;
  std::uint32_t chunk_tokens = 256;
  int n_predict = 16, threads = 2, repeat = 1;
  bool no_cache = false, vary_suffix = false, reuse = false, flash_attention = false;
};

constexpr const char* kUsage =
    "usage: kvtier-llama --model M.gguf --address unix:PATH [--token-file F]\n"
    "         [--prompt TEXT | --prompt-file F | --seed S --tokens N [--shared-seed S2 --shared-tokens N2]]\n"
    "         [--chunk-tokens 256] [--n-predict 16] [--threads 2] [--repeat R] [--vary-suffix]\n"
    "         [--flash-attn]\n"
    "         [--no-cache [--reuse-in-process]]\n"
    "One JSON line per run: ttft_ms, restored/computed tokens, bytes loaded, GB/s, logits checksum.\n"
    "docs/INTEGRATIONS.md explains the flags and the output.\n";

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "kvtier-llama: %s\n%s", why, kUsage);
  std::exit(2);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) usage(("cannot read " + path).c_str());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage((f + " needs a value").c_str());
      return argv[++i];
    };
    if (f == "--help" || f == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (f == "--model") a.model = value();
    else if (f == "--address") a.address = value();
    else if (f == "--token-file") { a.token = read_file(value()); while (!a.token.empty() && (a.token.back() == '\n' || a.token.back() == '\r')) a.token.pop_back(); }
    else if (f == "--prompt") a.prompt = value();
    else if (f == "--prompt-file") a.prompt = read_file(value());
    else if (f == "--seed") a.seed = std::stoull(value());
    else if (f == "--tokens") a.tokens = std::stoull(value());
    else if (f == "--shared-seed") a.shared_seed = std::stoull(value());
    else if (f == "--shared-tokens") a.shared_tokens = std::stoull(value());
    else if (f == "--chunk-tokens") a.chunk_tokens = static_cast<std::uint32_t>(std::stoul(value()));
    else if (f == "--n-predict") a.n_predict = std::stoi(value());
    else if (f == "--threads") a.threads = std::stoi(value());
    else if (f == "--repeat") a.repeat = std::stoi(value());
    else if (f == "--no-cache") a.no_cache = true;
    else if (f == "--vary-suffix") a.vary_suffix = true;
    else if (f == "--reuse-in-process") a.reuse = true;
    else if (f == "--flash-attn") a.flash_attention = true;
    else usage(("unknown flag " + f).c_str());
  }
  if (a.model.empty()) usage("--model is required");
  if (!a.no_cache && a.address.empty()) usage("--address is required (or --no-cache)");
  if (a.prompt.empty() && a.tokens == 0) usage("give --prompt, --prompt-file or --tokens");
  if (a.chunk_tokens == 0) usage("--chunk-tokens must be > 0");
  if (a.reuse && !a.no_cache) usage("--reuse-in-process is the no-kvtier reference: add --no-cache");
  return a;
}

std::vector<llama_token> prompt_tokens(const Args& a, const llama_model* model, int run) {
  if (a.prompt.empty()) {
    std::vector<llama_token> t = seeded_tokens(a.shared_seed, a.shared_tokens);
    std::vector<llama_token> rest = seeded_tokens(a.seed + (a.vary_suffix ? run : 0), a.tokens);
    t.insert(t.end(), rest.begin(), rest.end());
    return t;
  }
  const llama_vocab* vocab = llama_model_get_vocab(model);
  std::vector<llama_token> t(a.prompt.size() + 16);
  int n = llama_tokenize(vocab, a.prompt.data(), static_cast<std::int32_t>(a.prompt.size()), t.data(),
                         static_cast<std::int32_t>(t.size()), true, false);
  if (n < 0) usage("tokenizing the prompt failed");
  t.resize(static_cast<std::size_t>(n));
  return t;
}

std::uint64_t logits_checksum(const std::vector<float>& logits) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the float bits
  for (float f : logits) {
    std::uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    for (int i = 0; i < 4; ++i) h = (h ^ ((bits >> (8 * i)) & 0xff)) * 1099511628211ull;
  }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  llama_log_set([](ggml_log_level level, const char* text, void*) {
    if (level >= GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
  }, nullptr);
  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  mp.progress_callback = [](float, void*) { return true; };  // no dots on stderr
  llama_model* model = llama_model_load_from_file(a.model.c_str(), mp);
  if (model == nullptr) { std::fprintf(stderr, "kvtier-llama: cannot load %s\n", a.model.c_str()); return 1; }
  llama_context* ctx = llama_init_from_model(model, context_params_for(a.chunk_tokens, 4096, a.threads, a.flash_attention));
  if (ctx == nullptr) { std::fprintf(stderr, "kvtier-llama: cannot create a context\n"); return 1; }
  std::unique_ptr<PrefixCache> cache;
  if (!a.no_cache) {
    PrefixCacheOptions o;
    o.address = a.address;
    o.token = a.token;
    o.chunk_tokens = a.chunk_tokens;
    auto opened = PrefixCache::open(ctx, o);
    if (!opened.ok()) { std::fprintf(stderr, "kvtier-llama: %s\n", opened.status().to_string().c_str()); return 1; }
    cache = std::move(*opened);
  }
  int rc = 0;
  std::vector<llama_token> previous;
  for (int r = 0; r < a.repeat; ++r) {
    std::vector<llama_token> prompt = prompt_tokens(a, model, r);
    std::size_t keep = 0;
    if (a.reuse) {
      while (keep < previous.size() && keep < prompt.size() && previous[keep] == prompt[keep]) ++keep;
    }
    previous = prompt;
    auto run = run_prompt(ctx, cache.get(), prompt, a.chunk_tokens, a.n_predict, keep);
    if (!run.ok()) { std::fprintf(stderr, "kvtier-llama: %s\n", run.status().to_string().c_str()); rc = 1; break; }
    StoreStats stored = cache ? cache->wait_stored() : StoreStats{};
    const RestoreResult& res = run->restore;
    std::printf("{\"run\":%d,\"prompt_tokens\":%zu,\"reused_tokens\":%zu,\"restored_tokens\":%zu,\"computed_tokens\":%zu,"
                "\"ttft_ms\":%.2f,\"restore_ms\":%.2f,\"lookup_ms\":%.2f,\"get_ms\":%.2f,\"load_ms\":%.2f,"
                "\"bytes_loaded\":%zu,\"load_gb_s\":%.3f,"
                "\"stored_chunks_total\":%zu,\"store_failed_total\":%zu,\"logits_fnv\":\"%016llx\",\"first_tokens\":[",
                r, prompt.size(), keep, res.tokens, run->computed, run->ttft_seconds * 1e3, res.seconds * 1e3,
                res.lookup_seconds * 1e3, res.get_seconds * 1e3, res.load_seconds * 1e3, res.bytes,
                res.seconds > 0 ? res.bytes / res.seconds / 1e9 : 0.0, stored.chunks, stored.failed,
                static_cast<unsigned long long>(logits_checksum(run->logits)));
    for (std::size_t i = 0; i < run->generated.size() && i < 8; ++i) std::printf("%s%d", i ? "," : "", run->generated[i]);
    std::printf("],\"fallback\":\"%s\"}\n", res.fallback.c_str());
    std::fflush(stdout);
    if (!run->stored.ok()) std::fprintf(stderr, "kvtier-llama: store: %s\n", run->stored.to_string().c_str());
  }
  cache.reset();
  llama_free(ctx);
  llama_model_free(model);
  return rc;
}
