// `kvtier demo`: replays multi-turn chats and shows what an inference engine would get: how much of
// each prompt was cached, in which tier, the prefill tokens saved and the bytes moved. Every block
// read back is checked byte for byte. It runs on an in-process Store (the engine alone), or with
// --address through a running kvtierd over the same-node shared-memory path (what a GPU worker
// uses: the daemon reads and writes the blocks in the worker's memory).
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cli/client_flags.h"
#include "cli/commands.h"
#include "coding/printf_string.h"
#include "kvtier/client.h"
#include "kvtier/config.h"
#include "kvtier/key.h"
#include "kvtier/store.h"
#include "memory/aligned_buffer.h"
#include "scrape/prometheus_parse.h"
#include "workload/chat_workload.h"
#include "workload/workload.h"

namespace kvtier::cli {
namespace {

// Blocks per get_many / put_many: what the staging buffer holds.
constexpr std::size_t kDemoBatch = 16;

struct DemoOptions {
  std::string data_dir = "./var";
  std::string config_file;
  std::uint32_t requests = 300;
  double seconds = 60;
  std::uint64_t seed = 1;
  std::uint32_t chunk_tokens = 16;
  std::uint32_t sessions = 200;
  bool through_daemon = false;  // --address (or KVTIER_ADDRESS) was given
  ClientFlags client;
};


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
  return printf_string("%.2f GiB", static_cast<double>(bytes) / (1ull << 30));
}

// Where the demo's blocks go: the engine in this process, or kvtierd through shared memory. Both
// move blocks between the store and `staging` (slot i at i * block), batch by batch.
class DemoBackend {
 public:
  virtual ~DemoBackend() = default;
  virtual Result<PrefixMatch> lookup(std::span<const Key> keys) = 0;
  virtual void get_many(std::span<const Key> keys, std::span<GetResult> out) = 0;
  virtual void put_many(std::span<const Key> keys, std::span<Status> out) = 0;
  virtual std::span<std::byte> staging() = 0;
};

class StoreBackend final : public DemoBackend {
 public:
  StoreBackend(Store& store, std::size_t block, std::size_t batch)
      : store_(store), block_(block), staging_(batch * block) {}
  Result<PrefixMatch> lookup(std::span<const Key> keys) override {
    return store_.lookup(kDefaultNamespace, keys);
  }
  void get_many(std::span<const Key> keys, std::span<GetResult> out) override {
    std::vector<GetItem> items;
    for (std::size_t i = 0; i < keys.size(); ++i) items.push_back({keys[i], staging().subspan(i * block_, block_)});
    (void)store_.get_many(kDefaultNamespace, items, out);  // spans match: the slots answer
  }
  void put_many(std::span<const Key> keys, std::span<Status> out) override {
    std::vector<PutItem> items;
    for (std::size_t i = 0; i < keys.size(); ++i) items.push_back({keys[i], staging().subspan(i * block_, block_)});
    (void)store_.put_many(kDefaultNamespace, items, out);  // spans match: the slots answer
  }
  std::span<std::byte> staging() override { return staging_.span(); }

 private:
  Store& store_;
  std::size_t block_;
  AlignedBuffer staging_;
};

// Through kvtierd: the staging buffer is a registered shared-memory region, so GET_MANY_SHM and
// PUT_MANY_SHM move no value byte through the socket. A failed call counts as a miss.
class DaemonBackend final : public DemoBackend {
 public:
  DaemonBackend(Client& client, SharedRegion region, std::size_t block)
      : client_(client), region_(region), block_(block) {}
  Result<PrefixMatch> lookup(std::span<const Key> keys) override { return client_.lookup(keys); }
  void get_many(std::span<const Key> keys, std::span<GetResult> out) override {
    std::vector<ShmGet> items;
    for (std::size_t i = 0; i < keys.size(); ++i) items.push_back({keys[i], i * block_, block_});
    Status s = client_.get_many_shm(region_, items, out);
    if (!s.ok()) for (GetResult& r : out) r.status = s;
  }
  void put_many(std::span<const Key> keys, std::span<Status> out) override {
    std::vector<ShmPut> items;
    for (std::size_t i = 0; i < keys.size(); ++i) items.push_back({keys[i], i * block_, block_});
    Status s = client_.put_many_shm(region_, items, out);
    if (!s.ok()) for (Status& r : out) r = s;
  }
  std::span<std::byte> staging() override { return region_.memory; }

 private:
  Client& client_;
  SharedRegion region_;
  std::size_t block_;
};

// Loads the cached prefix (batch by batch, as a worker streams it to the GPU) and stores the
// chunks it had to compute. Blocks found are counted per tier from the lookup's split (leading
// DRAM blocks first is how the engine answers, but a block may move between lookup and load).
void serve(DemoBackend& store, const std::vector<Key>& keys, const BlockBytes& bytes, std::size_t block,
           std::size_t batch, DemoTotals& t) {
  Result<PrefixMatch> found = store.lookup(keys);
  const PrefixMatch m = found.ok() ? *found : PrefixMatch{};  // a failed lookup: compute it all
  std::vector<GetResult> results;
  std::size_t loaded = 0;
  std::byte* staging = store.staging().data();
  for (std::size_t at = 0; at < m.cached && loaded == at; at += batch) {
    std::size_t n = std::min(batch, m.cached - at);
    results.assign(n, {});
    auto t0 = std::chrono::steady_clock::now();
    store.get_many(std::span<const Key>(keys).subspan(at, n), results);
    t.read_seconds += since(t0);
    for (std::size_t i = 0; i < n; ++i) {
      if (!results[i].status.ok()) break;  // evicted since the lookup: recompute from here
      if (!bytes.check(keys[at + i], staging + i * block)) ++t.mismatches;
      Tier tier = results[i].tier;
      if (tier == Tier::kNone) tier = at + i < m.in_dram ? Tier::kDram : Tier::kNvme;
      (tier == Tier::kDram ? t.dram_blocks : t.nvme_blocks) += 1;
      t.bytes_read += results[i].size;
      ++loaded;
    }
  }
  if (loaded < m.cached) ++t.raced;
  t.cached_chunks += loaded;
  // Prefill computed the rest: store it.
  std::vector<Status> statuses;
  for (std::size_t at = loaded; at < keys.size(); at += batch) {
    std::size_t n = std::min(batch, keys.size() - at);
    for (std::size_t i = 0; i < n; ++i) bytes.make(keys[at + i], staging + i * block);
    statuses.assign(n, Status::Ok());
    auto t0 = std::chrono::steady_clock::now();
    store.put_many(std::span<const Key>(keys).subspan(at, n), statuses);
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

void print_report(const DemoTotals& t, const DemoOptions& o, std::uint32_t done, double wall) {
  std::uint64_t cached_tokens = t.cached_chunks * o.chunk_tokens;
  auto pct = [](std::uint64_t a, std::uint64_t b) { return b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0.0; };
  auto gbps = [](std::uint64_t bytes, double s) { return s > 0 ? static_cast<double>(bytes) / s / 1e9 : 0.0; };
  const char* how = o.through_daemon ? "GET_MANY_SHM" : "get_many";
  std::printf("\nrequests       %u in %.1f s\n", done, wall);
  std::printf("prompt tokens  %" PRIu64 "\n", t.prompt_tokens);
  std::printf("prefill saved  %" PRIu64 " tokens loaded from cache instead of recomputed (%.1f%%)\n", cached_tokens,
              pct(cached_tokens, t.prompt_tokens));
  std::printf("hits per tier  DRAM %" PRIu64 " blocks, NVMe %" PRIu64 " blocks (%.1f%% of loaded blocks from NVMe)\n",
              t.dram_blocks, t.nvme_blocks, pct(t.nvme_blocks, t.dram_blocks + t.nvme_blocks));
  std::printf("read           %s at %.2f GB/s (time inside %s)\n", gib(t.bytes_read).c_str(),
              gbps(t.bytes_read, t.read_seconds), how);
  std::printf("written        %s at %.2f GB/s (time inside %s), %" PRIu64 " blocks, %" PRIu64 " declined\n",
              gib(t.bytes_written).c_str(), gbps(t.bytes_written, t.write_seconds),
              o.through_daemon ? "PUT_MANY_SHM" : "put_many", t.written_blocks, t.put_failures);
}

// The store's counters by name; one it does not report reads 0.
std::map<std::string, double> store_counters(Store& store) {
  std::map<std::string, double> out;
  store.visit_counters(
      [&](std::string_view name, double v, CounterKind) { out[std::string(name)] = v; });
  return out;
}

void print_workload(const DemoOptions& o, const ModelLayout& layout, std::size_t block) {
  std::printf("workload: %u chat requests over %u sessions sharing %u system prompts (Zipf), %s layout, "
              "%u-token chunks = %.1f MiB blocks\n",
              o.requests, o.sessions, 8u, layout.model_id.c_str(), o.chunk_tokens, static_cast<double>(block) / kMiB);
}

// The chat workload replayed through `store` between the workload line and the report, with
// progress lines every 50 requests.
DemoTotals replay(DemoBackend& store, const DemoOptions& o, const ModelLayout& layout,
                  std::size_t block) {
  print_workload(o, layout, block);
  DemoTotals t;
  Result<Key> ns_key = namespace_key(layout);
  workload::ChatWorkload chats({.seed = o.seed, .sessions = o.sessions});
  BlockBytes bytes(block);
  std::uint64_t cached_chunks_before = 0;
  auto t0 = std::chrono::steady_clock::now();
  std::uint32_t done = 0;
  for (; ns_key.ok() && done < o.requests && since(t0) < o.seconds; ++done) {
    workload::ChatRequest req = chats.next();
    std::vector<Key> keys = chunk_keys(*ns_key, req.prompt, o.chunk_tokens);
    t.prompt_tokens += req.prompt.size();
    serve(store, keys, bytes, block, kDemoBatch, t);
    if ((done + 1) % 50 == 0) {
      std::uint64_t chunks = t.cached_chunks - cached_chunks_before;
      cached_chunks_before = t.cached_chunks;
      std::printf("  %4u requests  %5.1f s  last 50: %" PRIu64 " cached chunks loaded\n", done + 1, since(t0), chunks);
      std::fflush(stdout);
    }
  }
  print_report(t, o, done, since(t0));
  return t;
}

int run_on_store(const DemoOptions& o, const ModelLayout& layout, std::size_t block) {
  StoreConfig config;
  if (!o.config_file.empty()) {
    Result<StoreConfig> c = load_store_config_file(o.config_file);
    if (!c.ok()) return command_error("demo", c.status().to_string(), 2);
    config = c.value();
  }
  config.data_dir = o.data_dir;
  auto t_open = std::chrono::steady_clock::now();
  Result<std::unique_ptr<Store>> opened = Store::open(config);
  if (!opened.ok()) {
    return command_error("demo", "cannot open the store: " + opened.status().to_string(), 1);
  }
  Store& store = **opened;
  std::map<std::string, double> at_open = store_counters(store);
  const double nvme_bytes = at_open["nvme_regions"] * at_open["nvme_region_bytes"];
  std::printf("kvtier demo: store at %s opened in %.2f s (DRAM %s, NVMe %s; index %s)\n", config.data_dir.c_str(),
              since(t_open), gib(config.dram.capacity_bytes).c_str(), gib(static_cast<std::uint64_t>(nvme_bytes)).c_str(),
              store.recovery_summary().c_str());
  StoreBackend backend(store, block, kDemoBatch);
  DemoTotals t = replay(backend, o, layout, block);
  std::map<std::string, double> c = store_counters(store);
  const double nvme_entries = c["nvme_entries"];
  Status closed = store.close();
  std::printf("tiers          %.0f blocks demoted DRAM->NVMe, %.0f promoted NVMe->DRAM; NVMe holds %.0f blocks, "
              "index %.1f bytes/entry\n",
              c["store_demotions"], c["store_promotions"], nvme_entries,
              nvme_entries > 0 ? c["nvme_index_bytes"] / nvme_entries : 0.0);
  std::printf("integrity      %" PRIu64 " blocks read back, %" PRIu64 " mismatched; %" PRIu64
              " prefixes shrank between lookup and load; %.0f NVMe checksum failures\n",
              t.dram_blocks + t.nvme_blocks, t.mismatches, t.raced, c["nvme_checksum_failures"]);
  std::printf("shutdown       %s (next run restarts warm from the index checkpoint)\n", closed.to_string().c_str());
  return t.mismatches == 0 && closed.ok() ? 0 : 1;
}

int run_through_daemon(const DemoOptions& o, const ModelLayout& layout, std::size_t block) {
  int exit_code = kExitOk;
  std::unique_ptr<Client> client = connect_or_report(o.client, "demo", &exit_code);
  if (!client) return exit_code;
  Result<SharedRegion> region = client->register_shared_memory(kDemoBatch * block);
  if (!region.ok()) {
    return command_error("demo", "cannot register shared memory: " + region.status().to_string(),
                         kExitFailure);
  }
  const ServerInfo& info = client->server_info();
  std::printf("kvtier demo: through kvtierd (tenant %s), %zu MiB of shared memory registered: blocks move "
              "between the daemon and this process's memory, not through the socket\n",
              info.tenant.c_str(), region->memory.size() / kMiB);
  DaemonBackend backend(*client, *region, block);
  DemoTotals t = replay(backend, o, layout, block);
  Result<std::string> stats = client->stats();
  Result<ParsedMetrics> m = stats.ok() ? parse_prometheus_text(*stats) : stats.status();
  if (m.ok()) {
    auto v = [&](std::string_view name) { return m->sum(name).value_or(0); };
    std::printf("daemon         %.0f blocks demoted DRAM->NVMe, %.0f promoted; NVMe holds %.0f blocks; %.0f NVMe "
                "checksum failures (kvtier stat shows all counters)\n",
                v("kvtier_store_demotions_total"), v("kvtier_store_promotions_total"),
                v("kvtier_nvme_entries"), v("kvtier_nvme_checksum_failures_total"));
  }
  std::printf("integrity      %" PRIu64 " blocks read back, %" PRIu64 " mismatched; %" PRIu64
              " prefixes shrank between lookup and load\n",
              t.dram_blocks + t.nvme_blocks, t.mismatches, t.raced);
  return t.mismatches == 0 ? 0 : 1;
}

int run_demo(const DemoOptions& o) {
  ModelLayout layout = workload::llama31_8b_bf16_layout(o.chunk_tokens);
  if (Status s = layout.validate(); !s.ok()) return command_error("demo", s.to_string(), 2);
  const std::size_t block = workload::bf16_kv_bytes_per_token(layout) * o.chunk_tokens;
  return o.through_daemon ? run_through_daemon(o, layout, block) : run_on_store(o, layout, block);
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
  add_client_flags(cmd, &o->client);
  cmd->callback([o, cmd, run] {
    o->through_daemon = cmd->count("--address") > 0 || std::getenv("KVTIER_ADDRESS") != nullptr;
    *run = [o] { return run_demo(*o); };
  });
}

}  // namespace kvtier::cli
