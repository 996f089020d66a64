// `kvtier demo`: replays multi-turn chats through the engine on its embedded defaults and shows
// what an inference engine would get: how much of each prompt was cached, in which tier, the
// prefill tokens saved and the bytes moved. Every block read back is checked byte for byte.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "kvtier/config.h"
#include "kvtier/key.h"
#include "kvtier/store.h"
#include "memory/aligned_buffer.h"
#include "workload/chat_workload.h"

namespace kvtier::cli {
namespace {

struct DemoOptions {
  std::string data_dir = "./var";
  std::string config_file;
  std::uint32_t requests = 300;
  double seconds = 60;
  std::uint64_t seed = 1;
  std::uint32_t chunk_tokens = 16;
  std::uint32_t sessions = 200;
};

// Llama-3.1-8B's KV layout in BF16: 2 (K and V) x 32 layers x 8 KV heads x 128 dims x 2 bytes.
ModelLayout demo_layout(std::uint32_t chunk_tokens) {
  ModelLayout l;
  l.model_id = "meta-llama/Llama-3.1-8B-Instruct";
  l.kv_dtype = "bf16";
  l.num_layers = 32;
  l.num_kv_heads = 8;
  l.head_dim = 128;
  l.chunk_tokens = chunk_tokens;
  return l;
}

std::uint64_t kv_bytes_per_token(const ModelLayout& l) {
  return 2ull * l.num_layers * l.num_kv_heads * l.head_dim * 2;
}

// Synthetic KV bytes: a slice of a random pool chosen by the key, with the key stamped in front,
// so a block read back under the wrong key or torn can never pass the check.
class BlockBytes {
 public:
  BlockBytes(std::size_t block_bytes) : block_(block_bytes), pool_(64 * kMiB + block_bytes) {
    std::uint64_t s = 42;
    for (std::size_t i = 0; i + 8 <= pool_.size(); i += 8) {
      s += 0x9E3779B97F4A7C15ull;
      std::uint64_t z = (s ^ (s >> 31)) * 0xBF58476D1CE4E5B9ull;
      std::memcpy(pool_.data() + i, &z, 8);
    }
  }
  void make(const Key& key, std::byte* out) const {
    std::memcpy(out, slice(key), block_);
    std::memcpy(out, key.bytes.data(), std::min<std::size_t>(16, block_));
  }
  bool check(const Key& key, const std::byte* in) const {
    std::size_t stamp = std::min<std::size_t>(16, block_);
    return std::memcmp(in, key.bytes.data(), stamp) == 0 &&
           std::memcmp(in + stamp, slice(key) + stamp, block_ - stamp) == 0;
  }

 private:
  const std::byte* slice(const Key& key) const {
    std::uint64_t slots = (pool_.size() - block_) / kPageSize;
    return pool_.data() + (key.word0() % slots) * kPageSize;
  }
  std::size_t block_;
  AlignedBuffer pool_;
};

struct DemoTotals {
  std::uint64_t prompt_tokens = 0, cached_chunks = 0, dram_blocks = 0, nvme_blocks = 0;
  std::uint64_t written_blocks = 0, raced = 0, mismatches = 0, put_failures = 0;
  std::uint64_t bytes_read = 0, bytes_written = 0;
  double read_seconds = 0, write_seconds = 0;
};

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string gib(std::uint64_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f GiB", static_cast<double>(bytes) / (1ull << 30));
  return b;
}

// Loads the cached prefix (batch by batch, as a worker streams it to the GPU) and stores the
// chunks it had to compute.
void serve(Store& store, const std::vector<Key>& keys, const BlockBytes& bytes, std::size_t block,
           AlignedBuffer& staging, std::size_t batch, DemoTotals& t) {
  PrefixMatch m = store.lookup_prefix(kDefaultNamespace, keys);
  std::vector<GetItem> gets;
  std::vector<GetResult> results;
  std::size_t loaded = 0;
  for (std::size_t at = 0; at < m.cached && loaded == at; at += batch) {
    std::size_t n = std::min(batch, m.cached - at);
    gets.clear();
    for (std::size_t i = 0; i < n; ++i) gets.push_back({keys[at + i], staging.span().subspan(i * block, block)});
    results.assign(n, {});
    auto t0 = std::chrono::steady_clock::now();
    store.get_many(kDefaultNamespace, gets, results);
    t.read_seconds += since(t0);
    for (std::size_t i = 0; i < n; ++i) {
      if (!results[i].status.ok()) break;  // evicted since the lookup: recompute from here
      if (!bytes.check(keys[at + i], gets[i].dst.data())) ++t.mismatches;
      (results[i].tier == Tier::kDram ? t.dram_blocks : t.nvme_blocks) += 1;
      t.bytes_read += results[i].size;
      ++loaded;
    }
  }
  if (loaded < m.cached) ++t.raced;
  t.cached_chunks += loaded;
  // Prefill computed the rest: store it.
  std::vector<PutItem> puts;
  std::vector<Status> statuses;
  for (std::size_t at = loaded; at < keys.size(); at += batch) {
    std::size_t n = std::min(batch, keys.size() - at);
    puts.clear();
    for (std::size_t i = 0; i < n; ++i) {
      std::byte* dst = staging.data() + i * block;
      bytes.make(keys[at + i], dst);
      puts.push_back({keys[at + i], {dst, block}});
    }
    statuses.assign(n, Status::Ok());
    auto t0 = std::chrono::steady_clock::now();
    store.put_many(kDefaultNamespace, puts, statuses);
    t.write_seconds += since(t0);
    for (const Status& s : statuses) {
      if (s.ok()) {
        ++t.written_blocks;
        t.bytes_written += block;
      } else {
        ++t.put_failures;
      }
    }
  }
}

int run_demo(const DemoOptions& o) {
  StoreConfig config;
  if (!o.config_file.empty()) {
    Result<StoreConfig> c = load_store_config_file(o.config_file);
    if (!c.ok()) {
      std::fprintf(stderr, "kvtier demo: %s\n", c.status().to_string().c_str());
      return 2;
    }
    config = c.value();
  }
  config.data_dir = o.data_dir;
  ModelLayout layout = demo_layout(o.chunk_tokens);
  if (Status s = layout.validate(); !s.ok()) {
    std::fprintf(stderr, "kvtier demo: %s\n", s.to_string().c_str());
    return 2;
  }
  const std::size_t block = kv_bytes_per_token(layout) * o.chunk_tokens;
  auto t_open = std::chrono::steady_clock::now();
  Result<std::unique_ptr<Store>> opened = Store::open(config);
  if (!opened.ok()) {
    std::fprintf(stderr, "kvtier demo: cannot open the store: %s\n", opened.status().to_string().c_str());
    return 1;
  }
  Store& store = **opened;
  double nvme_regions = 0, region_bytes = 0;
  store.visit_counters([&](std::string_view name, double v, CounterKind) {
    if (name == "nvme_regions") nvme_regions = v;
    if (name == "nvme_region_bytes") region_bytes = v;
  });
  std::printf("kvtier demo: store at %s opened in %.2f s (DRAM %s, NVMe %s; index %s)\n", config.data_dir.c_str(),
              since(t_open), gib(config.dram.capacity_bytes).c_str(), gib(static_cast<std::uint64_t>(nvme_regions * region_bytes)).c_str(),
              store.recovery_summary().c_str());
  std::printf("workload: %u chat requests over %u sessions sharing %u system prompts (Zipf), %s layout, "
              "%u-token chunks = %.1f MiB blocks\n",
              o.requests, o.sessions, 8u, layout.model_id.c_str(), o.chunk_tokens, static_cast<double>(block) / kMiB);

  Result<Key> ns_key = namespace_key(layout);
  if (!ns_key.ok()) return 2;
  workload::ChatWorkloadConfig wc;
  wc.seed = o.seed;
  wc.sessions = o.sessions;
  workload::ChatWorkload chats(wc);
  BlockBytes bytes(block);
  const std::size_t batch = 16;
  AlignedBuffer staging(batch * block);
  DemoTotals t;
  std::uint64_t cached_chunks_before = 0;
  auto t0 = std::chrono::steady_clock::now();
  std::uint32_t done = 0;
  for (; done < o.requests && since(t0) < o.seconds; ++done) {
    workload::ChatRequest req = chats.next();
    std::vector<Key> keys = chunk_keys(*ns_key, req.prompt, o.chunk_tokens);
    t.prompt_tokens += req.prompt.size();
    serve(store, keys, bytes, block, staging, batch, t);
    if ((done + 1) % 50 == 0) {
      std::uint64_t chunks = t.cached_chunks - cached_chunks_before;
      cached_chunks_before = t.cached_chunks;
      std::printf("  %4u requests  %5.1f s  last 50: %" PRIu64 " cached chunks loaded\n", done + 1, since(t0), chunks);
      std::fflush(stdout);
    }
  }
  double wall = since(t0);
  std::uint64_t cached_tokens = t.cached_chunks * o.chunk_tokens;
  double nvme_entries = 0, index_bytes = 0, checksum_failures = 0, demotions = 0, promotions = 0;
  store.visit_counters([&](std::string_view name, double v, CounterKind) {
    if (name == "nvme_entries") nvme_entries = v;
    if (name == "nvme_index_bytes") index_bytes = v;
    if (name == "nvme_checksum_failures") checksum_failures = v;
    if (name == "store_demotions") demotions = v;
    if (name == "store_promotions") promotions = v;
  });
  Status closed = store.close();

  auto pct = [](std::uint64_t a, std::uint64_t b) { return b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0.0; };
  auto gbps = [](std::uint64_t bytes, double s) { return s > 0 ? static_cast<double>(bytes) / s / 1e9 : 0.0; };
  std::printf("\nrequests       %u in %.1f s\n", done, wall);
  std::printf("prompt tokens  %" PRIu64 "\n", t.prompt_tokens);
  std::printf("prefill saved  %" PRIu64 " tokens loaded from cache instead of recomputed (%.1f%%)\n", cached_tokens,
              pct(cached_tokens, t.prompt_tokens));
  std::printf("hits per tier  DRAM %" PRIu64 " blocks, NVMe %" PRIu64 " blocks (%.1f%% of loaded blocks from NVMe)\n",
              t.dram_blocks, t.nvme_blocks, pct(t.nvme_blocks, t.dram_blocks + t.nvme_blocks));
  std::printf("read           %s at %.2f GB/s (time inside get_many)\n", gib(t.bytes_read).c_str(), gbps(t.bytes_read, t.read_seconds));
  std::printf("written        %s at %.2f GB/s (time inside put_many), %" PRIu64 " blocks, %" PRIu64 " declined\n",
              gib(t.bytes_written).c_str(), gbps(t.bytes_written, t.write_seconds), t.written_blocks, t.put_failures);
  std::printf("tiers          %.0f blocks demoted DRAM->NVMe, %.0f promoted NVMe->DRAM; NVMe holds %.0f blocks, "
              "index %.1f bytes/entry\n",
              demotions, promotions, nvme_entries, nvme_entries > 0 ? index_bytes / nvme_entries : 0.0);
  std::printf("integrity      %" PRIu64 " blocks read back, %" PRIu64 " mismatched; %" PRIu64
              " prefixes shrank between lookup and load; %.0f NVMe checksum failures\n",
              t.dram_blocks + t.nvme_blocks, t.mismatches, t.raced, checksum_failures);
  std::printf("shutdown       %s (next run restarts warm from the index checkpoint)\n", closed.to_string().c_str());
  return t.mismatches == 0 && closed.ok() ? 0 : 1;
}

}  // namespace

void add_demo_command(CLI::App& app, CommandRunner* run) {
  auto o = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand("demo", "replay multi-turn chats through the engine and report hits per tier");
  cmd->add_option("--data-dir", o->data_dir, "where kvtier keeps its files")->capture_default_str();
  cmd->add_option("--config", o->config_file, "TOML store config (docs/CONFIG.md); data-dir still applies");
  cmd->add_option("--requests", o->requests, "chat requests to replay")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seconds", o->seconds, "stop after this long")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed, "workload seed (same seed, same requests)")->capture_default_str();
  cmd->add_option("--chunk-tokens", o->chunk_tokens, "tokens per KV block")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--sessions", o->sessions, "chat sessions")->capture_default_str()->check(CLI::Range(1, 1000000));
  cmd->callback([o, run] { *run = [o] { return run_demo(*o); }; });
}

}  // namespace kvtier::cli
