// `kvtier bench`: drives a running kvtierd with a workload (chat, rag, agent, or a Mooncake trace)
// the way an inference engine would: LOOKUP the request's chain, GET the cached prefix, PUT the
// rest. Reports hit ratio per tier, prefill tokens saved, GB/s in and out and per-op latency
// quantiles, as text or --json (docs/BENCH.md). Block bytes are scaled down (--block-bytes) so a
// small machine can run it; the report says the model's real block size beside it.
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <condition_variable>
#include <nlohmann/json.hpp>

#include "cli/bench_charts.h"
#include "cli/bench_target.h"
#include "cli/client_flags.h"
#include "cli/commands.h"
#include "kvtier/client.h"
#include "kvtier/key.h"
#include "metrics/latency_histogram.h"
#include "scrape/prometheus_parse.h"
#include "plan/model.h"
#include "workload/lru_simulator.h"
#include "workload/trace_reader.h"
#include "workload/workload.h"
#include "sync/mutex.h"

namespace kvtier::cli {
namespace {

// Blocks per GET/PUT batch: one round trip each, at most 4 MiB at the default block size.
constexpr std::size_t kBatch = 16;

struct BenchOptions {
  std::string workload = "chat";
  std::string trace;
  std::uint32_t trace_repeat = 1;
  std::uint64_t requests = 1000;
  double duration = 60;
  std::uint64_t seed = 1;
  std::uint32_t sessions = 200;
  double zipf = 1.1;
  std::uint32_t chunk_tokens = 16;
  std::uint64_t block_bytes = 256 * 1024;
  std::uint32_t concurrency = 1;
  std::uint64_t lru_capacity_blocks = 0;
  std::string target = "kvtier";
  std::string model = "Llama-3.1-8B";
  std::string pace = "none";  // "trace": hand requests out at their timestamps / speed
  double speed = 1.0;
  std::string charts;  // a folder for the SVG charts; empty: none
  bool lru_capacity_from_daemon = false;
  bool json = false;
  ClientFlags client;
};

// The model the scaled blocks stand for: its key namespace and its real block size
// (`kvtier plan`'s presets or a config.json, in its default KV dtype).
struct BenchModel {
  ModelLayout layout;
  std::uint64_t real_block_bytes = 0;
};

Result<BenchModel> resolve_bench_model(const BenchOptions& o) {
  Result<plan::ModelKvLayout> m = plan::resolve_model(o.model);
  if (!m.ok()) return m.status();
  Result<plan::KvDtype> dtype = plan::parse_kv_dtype(m->default_kv_dtype.empty() ? "bf16" : m->default_kv_dtype);
  if (!dtype.ok()) return dtype.status();
  BenchModel b;
  b.layout.model_id = m->name;
  b.layout.kv_dtype = dtype->name;
  b.layout.num_layers = m->num_layers;
  // An MLA model has one latent "head" per layer of (kv_lora_rank + qk_rope_head_dim) elements.
  b.layout.num_kv_heads = m->attention == plan::AttentionKind::kMla ? 1 : m->num_kv_heads;
  b.layout.head_dim = m->attention == plan::AttentionKind::kMla ? m->kv_lora_rank + m->qk_rope_head_dim : m->head_dim;
  b.layout.chunk_tokens = o.chunk_tokens;
  b.real_block_bytes = plan::kv_bytes_per_token(*m, *dtype) * o.chunk_tokens;
  return b;
}

struct Totals {
  std::atomic<std::uint64_t> requests{0}, chain_blocks{0}, cached{0}, in_dram{0}, in_nvme{0}, in_shared{0};
  std::atomic<std::uint64_t> loaded{0}, get_failures{0}, written{0}, put_failures{0}, new_blocks{0};
  std::atomic<std::uint64_t> wrong_bytes{0};  // blocks read back that are not what was put
  std::atomic<std::uint64_t> bytes_in{0}, bytes_out{0}, prompt_tokens{0}, errors{0};
  LatencyHistogram lookup, get, put;

  // Bytes per second of the run, for the throughput chart: a request's bytes count in the second
  // it finished.
  void add_per_second(std::uint64_t in, std::uint64_t out) {
    auto i = static_cast<std::size_t>(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    MutexLock g(per_second_mu);
    if (in_per_second.size() <= i) in_per_second.resize(i + 1), out_per_second.resize(i + 1);
    in_per_second[i] += in;
    out_per_second[i] += out;
  }
  const std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  mutable Mutex per_second_mu;
  std::vector<std::uint64_t> in_per_second KVTIER_GUARDED_BY(per_second_mu);
  std::vector<std::uint64_t> out_per_second KVTIER_GUARDED_BY(per_second_mu);
};

// Requests handed out in stream order under a lock, so the LRU simulator sees the same order the
// threads are given (their completion order may differ).
class Feed {
 public:
  Feed(std::unique_ptr<workload::Workload> w, const BenchOptions& o)
      : w_(std::move(w)), o_(o), lru_(o.lru_capacity_blocks), t0_(std::chrono::steady_clock::now()) {}
  bool next(workload::WorkloadRequest& r) {
    MutexLock g(mu_);
    if (handed_ >= o_.requests || elapsed() >= o_.duration || !w_->next(r)) return false;
    ++handed_;
    if (o_.lru_capacity_blocks > 0) lru_.access(r.chain);
    if (!o_.charts.empty()) chains_.push_back(r.chain);
    if (o_.pace == "trace") wait_for_timestamp(r.timestamp_ms);
    return true;
  }
  // Open-loop replay: how late requests were handed out against their schedule (a request is
  // late when every client thread was still busy at its time: the target fell behind the trace).
  double max_lateness() const {
    MutexLock g(mu_);
    return max_late_s_;
  }
  std::uint64_t late_requests() const {
    MutexLock g(mu_);
    return late_;
  }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }
  // The ideal LRU's hit ratio over the requests handed out so far.
  double lru_hit_ratio() const {
    MutexLock g(mu_);
    return lru_.hit_ratio();
  }
  std::vector<std::vector<Key>> take_chains() {
    MutexLock g(mu_);
    return std::move(chains_);
  }

 private:
  // Holds the lock while it sleeps: later requests are not due before this one anyway.
  void wait_for_timestamp(std::uint64_t timestamp_ms) KVTIER_REQUIRES(mu_) {
    if (!first_ts_) first_ts_ = timestamp_ms;
    double due = static_cast<double>(timestamp_ms - std::min(timestamp_ms, *first_ts_)) / 1e3 / o_.speed;
    double now = elapsed();
    if (due > now) {
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(due - now, o_.duration - now)));
    } else if (now - due > 0.010) {
      ++late_;
      max_late_s_ = std::max(max_late_s_, now - due);
    }
  }

  mutable Mutex mu_;
  std::unique_ptr<workload::Workload> w_ KVTIER_GUARDED_BY(mu_);
  const BenchOptions& o_;
  workload::LruSimulator lru_ KVTIER_GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point t0_;
  std::uint64_t handed_ KVTIER_GUARDED_BY(mu_) = 0;
  std::optional<std::uint64_t> first_ts_ KVTIER_GUARDED_BY(mu_);
  std::vector<std::vector<Key>> chains_ KVTIER_GUARDED_BY(mu_);  // with --charts only
  std::uint64_t late_ KVTIER_GUARDED_BY(mu_) = 0;
  double max_late_s_ KVTIER_GUARDED_BY(mu_) = 0;
};

template <typename F>
auto timed(LatencyHistogram& h, F&& f) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = f();
  h.record(std::chrono::steady_clock::now() - t0);
  return r;
}

// A block's bytes are a function of its key (8-byte words from the key and the word's index, the
// tail cut from the last word), so every block read back is checked in full. Words, not bytes:
// generating and checking run at memory speed and stay out of the numbers being measured.
struct BlockWords {
  explicit BlockWords(const Key& key) : base(key.word0()), mask(key.word1()) {}
  std::uint64_t operator()(std::size_t w) const { return (base + w * 0x9E3779B97F4A7C15ull) ^ mask; }
  std::uint64_t base, mask;
};

void fill_block(const Key& key, std::span<std::byte> out) {
  const BlockWords word(key);
  std::size_t words = out.size() / 8;
  for (std::size_t w = 0; w < words; ++w) {
    std::uint64_t v = word(w);
    std::memcpy(out.data() + w * 8, &v, 8);
  }
  std::uint64_t last = word(words);
  std::memcpy(out.data() + words * 8, &last, out.size() - words * 8);
}

bool block_is_right(const Key& key, std::span<const std::byte> got, std::size_t expected_size) {
  if (got.size() != expected_size) return false;
  const BlockWords word(key);
  std::size_t words = got.size() / 8;
  std::uint64_t diff = 0;
  for (std::size_t w = 0; w < words; ++w) {
    std::uint64_t v;
    std::memcpy(&v, got.data() + w * 8, 8);
    diff |= v ^ word(w);
  }
  std::uint64_t last = word(words);
  return diff == 0 && std::memcmp(got.data() + words * 8, &last, got.size() - words * 8) == 0;
}

// Serves one request: LOOKUP, GET the cached prefix, PUT every chunk after it.
void serve(BenchTarget& c, const workload::WorkloadRequest& r, const BenchOptions& o, std::vector<std::byte>& buf,
           Totals& t) {
  t.chain_blocks += r.chain.size();
  t.new_blocks += r.chain.size() - r.new_from;
  t.prompt_tokens += r.prompt_tokens;
  Result<PrefixMatch> m = timed(t.lookup, [&] { return c.lookup(r.chain); });
  if (!m.ok()) {
    ++t.errors;
    return;
  }
  t.cached += m->cached;
  t.in_dram += m->in_dram;
  t.in_nvme += m->in_nvme;
  t.in_shared += m->in_shared;
  const std::size_t bb = o.block_bytes;
  std::uint64_t in = 0, out = 0;  // this request's bytes
  for (std::size_t at = 0; at < m->cached; at += kBatch) {
    std::size_t n = std::min(kBatch, m->cached - at);
    std::vector<GetItem> items;
    for (std::size_t i = 0; i < n; ++i) items.push_back({r.chain[at + i], std::span(buf).subspan(i * bb, bb)});
    std::vector<GetResult> res(n);
    Status s = timed(t.get, [&] { return c.get_many(items, res); });
    if (!s.ok()) ++t.errors;
    for (std::size_t i = 0; i < n; ++i) {
      const GetResult& g = res[i];
      if (s.ok() && g.status.ok()) {
        ++t.loaded;
        in += g.size;
        if (!block_is_right(items[i].key, items[i].dst.first(std::min(g.size, bb)), bb)) ++t.wrong_bytes;
      } else {
        ++t.get_failures;
      }
    }
  }
  for (std::size_t at = m->cached; at < r.chain.size(); at += kBatch) {
    std::size_t n = std::min(kBatch, r.chain.size() - at);
    std::vector<PutItem> items;
    for (std::size_t i = 0; i < n; ++i) {
      std::span<std::byte> block = std::span(buf).subspan(i * bb, bb);
      fill_block(r.chain[at + i], block);
      items.push_back({r.chain[at + i], block});
    }
    std::vector<Status> res(n);
    Status s = timed(t.put, [&] { return c.put_many(items, res); });
    if (!s.ok()) ++t.errors;
    for (const Status& p : res) {
      if (s.ok() && p.ok()) {
        ++t.written;
        out += bb;
      } else {
        ++t.put_failures;
      }
    }
  }
  t.bytes_in += in;
  t.bytes_out += out;
  t.add_per_second(in, out);
  ++t.requests;
}

// One status line on stderr, rewritten every second, only when a person watches (stdout is a
// terminal and the report is text); pipes and CI get the report alone.
class Progress {
 public:
  Progress(const Totals& t, const Feed& feed, bool enabled) : t_(t), feed_(feed) {
    if (enabled) thread_ = std::thread([this] { loop(); });
  }
  ~Progress() {
    if (!thread_.joinable()) return;
    {
      MutexLock g(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
    std::fprintf(stderr, "\r\033[K");
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

 private:
  void loop() {
    MutexLock lock(mu_);
    while (!cv_.wait_for(lock.native(), std::chrono::seconds(1), [this]() KVTIER_REQUIRES(mu_) { return stop_; })) {
      std::uint64_t blocks = t_.chain_blocks;
      std::fprintf(stderr, "\r  %" PRIu64 " requests  %.0f s  hit ratio %.3f", t_.requests.load(), feed_.elapsed(),
                   blocks == 0 ? 0.0 : static_cast<double>(t_.cached) / blocks);
    }
  }

  const Totals& t_;
  const Feed& feed_;
  Mutex mu_;
  std::condition_variable cv_;
  bool stop_ KVTIER_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

double ratio(std::uint64_t a, std::uint64_t b) { return b == 0 ? 0.0 : static_cast<double>(a) / b; }

nlohmann::json latency_json(const LatencyHistogram& h) {
  LatencyHistogram::Snapshot s = h.snapshot();
  auto q = [&](double p) { return s.count == 0 ? nlohmann::json(nullptr) : nlohmann::json(s.quantile(p)); };
  return {{"count", s.count}, {"p50_s", q(0.5)}, {"p99_s", q(0.99)}, {"p999_s", q(0.999)}};
}

nlohmann::json report_json(const BenchOptions& o, const BenchModel& model, std::string_view name, const Totals& t,
                           const Feed& feed, double wall) {
  std::uint64_t blocks = t.chain_blocks;
  nlohmann::json j = {
      {"workload", name},
      {"seed", o.seed},
      {"concurrency", o.concurrency},
      {"chunk_tokens", o.chunk_tokens},
      {"block_bytes", o.block_bytes},
      {"real_block_bytes", model.real_block_bytes},
      {"real_model", model.layout.model_id},
      {"real_kv_dtype", model.layout.kv_dtype},
      {"scale_factor", static_cast<double>(model.real_block_bytes) / o.block_bytes},
      {"wall_seconds", wall},
      {"requests", t.requests.load()},
      {"errors", t.errors.load()},
      {"chain_blocks", blocks},
      {"new_blocks", t.new_blocks.load()},
      {"hit_ratio",
       {{"total", ratio(t.cached, blocks)},
        {"dram", ratio(t.in_dram, blocks)},
        {"nvme", ratio(t.in_nvme, blocks)},
        {"shared", ratio(t.in_shared, blocks)},
        // What a cache that never forgets would reach on this stream.
        {"infinite_cache", ratio(blocks - t.new_blocks, blocks)}}},
      {"target", o.target},
      {"blocks", {{"loaded", t.loaded.load()}, {"wrong_bytes", t.wrong_bytes.load()}, {"get_failures", t.get_failures.load()},
                  {"written", t.written.load()}, {"put_failures", t.put_failures.load()}}},
      {"prompt_tokens", t.prompt_tokens.load()},
      {"prefill_tokens_saved", t.loaded.load() * o.chunk_tokens},
      {"bytes_in", t.bytes_in.load()},
      {"bytes_out", t.bytes_out.load()},
      {"gb_per_s_in", wall > 0 ? t.bytes_in / wall / 1e9 : 0.0},
      {"gb_per_s_out", wall > 0 ? t.bytes_out / wall / 1e9 : 0.0},
      {"latency", {{"lookup", latency_json(t.lookup)}, {"get_many", latency_json(t.get)},
                   {"put_many", latency_json(t.put)}}},
  };
  if (o.pace == "trace") {
    j["pacing"] = {{"speed", o.speed}, {"late_requests", feed.late_requests()}, {"max_lateness_s", feed.max_lateness()}};
  }
  if (o.lru_capacity_blocks > 0) {
    j["ideal_lru"] = {{"capacity_blocks", o.lru_capacity_blocks},
                      {"capacity_from", o.lru_capacity_from_daemon ? "daemon" : "flag"},
                      {"hit_ratio", feed.lru_hit_ratio()}};
  }
  return j;
}

void print_latency(const char* op, const nlohmann::json& l) {
  if (l["count"].get<std::uint64_t>() == 0) {
    std::printf("  %-9s      0 calls\n", op);
    return;
  }
  std::printf("  %-9s %6" PRIu64 " calls  p50 %9.3f ms  p99 %9.3f ms  p99.9 %9.3f ms\n", op,
              l["count"].get<std::uint64_t>(), l["p50_s"].get<double>() * 1e3, l["p99_s"].get<double>() * 1e3,
              l["p999_s"].get<double>() * 1e3);
}

void print_text(const nlohmann::json& j) {
  const auto& h = j["hit_ratio"];
  std::printf("kvtier bench: %s against %s, %" PRIu64 " requests in %.2f s, concurrency %u, %" PRIu64 " errors\n",
              j["workload"].get<std::string>().c_str(), j["target"].get<std::string>().c_str(),
              j["requests"].get<std::uint64_t>(), j["wall_seconds"].get<double>(), j["concurrency"].get<std::uint32_t>(),
              j["errors"].get<std::uint64_t>());
  std::printf("  blocks loaded %" PRIu64 ", every byte checked: %" PRIu64 " wrong\n",
              j["blocks"]["loaded"].get<std::uint64_t>(), j["blocks"]["wrong_bytes"].get<std::uint64_t>());
  std::printf("  blocks of %" PRIu64 " bytes (scaled; %s in %s has %" PRIu64 " bytes per %u-token block: 1/%.4g)\n",
              j["block_bytes"].get<std::uint64_t>(), j["real_model"].get<std::string>().c_str(),
              j["real_kv_dtype"].get<std::string>().c_str(), j["real_block_bytes"].get<std::uint64_t>(),
              j["chunk_tokens"].get<std::uint32_t>(), j["scale_factor"].get<double>());
  std::printf("  hit ratio %.4f (dram %.4f, nvme %.4f, shared %.4f); an infinite cache: %.4f\n",
              h["total"].get<double>(), h["dram"].get<double>(), h["nvme"].get<double>(), h["shared"].get<double>(),
              h["infinite_cache"].get<double>());
  if (j.contains("ideal_lru")) {
    std::printf("  ideal LRU of %" PRIu64 " blocks (%s): hit ratio %.4f\n",
                j["ideal_lru"]["capacity_blocks"].get<std::uint64_t>(),
                j["ideal_lru"]["capacity_from"] == "daemon" ? "the daemon's DRAM + NVMe" : "--lru-capacity-blocks",
                j["ideal_lru"]["hit_ratio"].get<double>());
  }
  if (j.contains("pacing")) {
    std::printf("  paced at %.3gx the trace's timestamps: %" PRIu64 " requests handed out > 10 ms late (at most %.3f s)\n",
                j["pacing"]["speed"].get<double>(), j["pacing"]["late_requests"].get<std::uint64_t>(),
                j["pacing"]["max_lateness_s"].get<double>());
  }
  std::printf("  prefill tokens saved %" PRIu64 " of %" PRIu64 " prompt tokens\n",
              j["prefill_tokens_saved"].get<std::uint64_t>(), j["prompt_tokens"].get<std::uint64_t>());
  std::printf("  in %.3f GB/s (%" PRIu64 " bytes), out %.3f GB/s (%" PRIu64 " bytes)\n", j["gb_per_s_in"].get<double>(),
              j["bytes_in"].get<std::uint64_t>(), j["gb_per_s_out"].get<double>(), j["bytes_out"].get<std::uint64_t>());
  if (j.contains("evictions")) {
    std::printf("  daemon evictions:");
    for (const auto& [k, v] : j["evictions"].items()) std::printf(" %s %.0f", k.c_str(), v.get<double>());
    std::printf("\n");
  }
  for (const char* op : {"lookup", "get_many", "put_many"}) print_latency(op, j["latency"][op]);
  if (j.contains("charts")) {
    for (const auto& f : j["charts"]) std::printf("  chart %s\n", f.get<std::string>().c_str());
  }
}

// What the daemon's STATS say (kvtier targets only); nullopt when it cannot be read.
std::optional<ParsedMetrics> daemon_metrics(Client& c) {
  Result<std::string> text = c.stats();
  if (!text.ok()) return std::nullopt;
  Result<ParsedMetrics> m = parse_prometheus_text(*text);
  if (!m.ok()) return std::nullopt;
  return std::move(*m);
}

// The daemon's DRAM + NVMe capacity in blocks of `block_bytes`, so the ideal LRU is as large as
// the cache it is compared with. 0 when STATS does not say.
std::uint64_t capacity_blocks(const ParsedMetrics& m, std::uint64_t block_bytes) {
  double bytes = m.sum("kvtier_dram_capacity_bytes").value_or(0) +
                 m.sum("kvtier_nvme_regions").value_or(0) * m.sum("kvtier_nvme_region_bytes").value_or(0);
  return static_cast<std::uint64_t>(bytes / static_cast<double>(block_bytes));
}

// The daemon's evictions during the run: counters after minus before.
nlohmann::json evictions_json(const ParsedMetrics& before, const ParsedMetrics& after) {
  nlohmann::json j;
  for (const char* name : {"kvtier_dram_evictions_total", "kvtier_store_demotions_total",
                           "kvtier_nvme_regions_reclaimed_total", "kvtier_nvme_reclaimed_entries_total"}) {
    std::optional<double> a = after.sum(name), b = before.sum(name);
    if (a) j[std::string(name).substr(7)] = *a - b.value_or(0);  // without "kvtier_"
  }
  return j;
}

Result<std::unique_ptr<workload::Workload>> open_workload(const BenchOptions& o, const Key& ns) {
  if (!o.trace.empty()) {
    Result<std::vector<workload::TraceRequest>> t = workload::read_trace(o.trace);
    if (!t.ok()) return t.status();
    return workload::make_trace_workload(std::move(*t), ns, o.trace_repeat);
  }
  Result<workload::WorkloadKind> kind = workload::parse_workload_kind(o.workload);
  if (!kind.ok()) return kind.status();
  return workload::make_workload({.kind = *kind, .seed = o.seed, .sessions = o.sessions,
                                  .zipf = o.zipf, .chunk_tokens = o.chunk_tokens},
                                 ns);
}

int run_bench(BenchOptions o) {  // a copy: the LRU capacity may come from the daemon
  Result<BenchModel> model = resolve_bench_model(o);
  if (!model.ok()) return command_error("bench", model.status().to_string(), kExitUsage);
  Result<Key> ns = namespace_key(model->layout);
  if (!ns.ok()) return command_error("bench", ns.status().to_string(), kExitUsage);
  Result<std::unique_ptr<workload::Workload>> w = open_workload(o, *ns);
  if (!w.ok()) return command_error("bench", w.status().to_string(), kExitUsage);
  std::vector<std::unique_ptr<BenchTarget>> clients;
  std::unique_ptr<Client> stats_client;
  std::optional<ParsedMetrics> stats_before;
  for (std::uint32_t i = 0; i < o.concurrency; ++i) {
    if (o.target == "kvtier") {
      int code = kExitOk;
      std::unique_ptr<Client> c = connect_or_report(o.client, "bench", &code);
      if (!c) return code;
      if (i == 0) {
        stats_before = daemon_metrics(*c);
        stats_client = connect_or_report(o.client, "bench", &code);  // STATS after the run
        if (!stats_client) return code;
      }
      if (i == 0 && o.lru_capacity_blocks == 0 && stats_before) {
        o.lru_capacity_blocks = capacity_blocks(*stats_before, o.block_bytes);
        o.lru_capacity_from_daemon = o.lru_capacity_blocks > 0;
      }
      clients.push_back(kvtier_target(std::move(c)));
      continue;
    }
    Result<std::unique_ptr<BenchTarget>> c = open_store_target(o.target);
    if (!c.ok()) {
      return command_error("bench", c.status().to_string(),
                           c.status().code() == StatusCode::kInvalidArgument ? kExitUsage
                                                                             : kExitFailure);
    }
    clients.push_back(std::move(*c));
  }
  std::string_view name = (*w)->name();
  Feed feed(std::move(*w), o);
  Totals t;
  std::vector<std::thread> threads;
  for (auto& c : clients) {
    threads.emplace_back([&, client = c.get()] {
      std::vector<std::byte> buf(kBatch * o.block_bytes);
      workload::WorkloadRequest r;
      while (feed.next(r)) serve(*client, r, o, buf, t);
    });
  }
  {
    Progress progress(t, feed, !o.json && ::isatty(STDOUT_FILENO) == 1);
    for (auto& th : threads) th.join();
  }
  nlohmann::json j = report_json(o, *model, name, t, feed, feed.elapsed());
  if (stats_client && stats_before) {
    if (std::optional<ParsedMetrics> after = daemon_metrics(*stats_client)) j["evictions"] = evictions_json(*stats_before, *after);
  }
  if (!o.charts.empty()) {
    BenchChartInputs in;
    {
      MutexLock g(t.per_second_mu);
      in.bytes_in_per_second = t.in_per_second;
      in.bytes_out_per_second = t.out_per_second;
    }
    in.lookup = t.lookup.snapshot();
    in.get = t.get.snapshot();
    in.put = t.put.snapshot();
    in.chains = feed.take_chains();
    in.measured_hit_ratio = j["hit_ratio"]["total"].get<double>();
    in.measured_capacity_blocks = o.lru_capacity_blocks;
    Result<std::vector<std::string>> files = write_bench_charts(o.charts, in);
    if (!files.ok()) return command_error("bench", files.status().to_string(), kExitFailure);
    j["charts"] = *files;
  }
  if (o.json) {
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    print_text(j);
  }
  if (t.wrong_bytes > 0) {
    std::fprintf(stderr, "kvtier bench: %" PRIu64 " blocks read back with wrong bytes\n", t.wrong_bytes.load());
  }
  return t.errors == 0 && t.wrong_bytes == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void add_bench_command(CLI::App& app, CommandRunner* run) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "drive a running kvtierd with a chat, RAG, agent or trace workload");
  cmd->add_option("--workload", o->workload, "chat, rag or agent")->capture_default_str();
  cmd->add_option("--trace", o->trace, "replay a Mooncake JSONL trace instead (docs/BENCH.md)");
  cmd->add_option("--trace-repeat", o->trace_repeat, "replay the trace this many times")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("--requests", o->requests, "stop after this many requests")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--duration", o->duration, "stop after this many seconds")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed, "workload seed (same seed, same requests)")->capture_default_str();
  cmd->add_option("--sessions", o->sessions, "chat sessions / RAG documents / agents")->capture_default_str()->check(CLI::Range(1, 10000000));
  cmd->add_option("--zipf", o->zipf, "popularity skew over sessions")->capture_default_str()->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--chunk-tokens", o->chunk_tokens, "tokens per block")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--block-bytes", o->block_bytes, "bytes per block sent (scaled down from the model's)")->capture_default_str()->check(CLI::Range(16, 64 * 1024 * 1024));
  cmd->add_option("--concurrency", o->concurrency, "client threads, one connection each")->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--lru-capacity-blocks", o->lru_capacity_blocks,
                  "the ideal LRU's size (default for kvtier: the daemon's DRAM + NVMe capacity in blocks)");
  cmd->add_option("--model", o->model, "the model the blocks stand for: a `kvtier plan` preset or a config.json")->capture_default_str();
  cmd->add_option("--target", o->target, "kvtier (the daemon at --address), redis://HOST:PORT or dir:PATH")->capture_default_str();
  cmd->add_option("--pace", o->pace, "none (as fast as answered) or trace (at the requests' timestamps)")
      ->capture_default_str()->check(CLI::IsMember({"none", "trace"}));
  cmd->add_option("--speed", o->speed, "with --pace trace: timestamps divided by this")->capture_default_str()->check(CLI::Range(1e-3, 1e6));
  cmd->add_option("--charts", o->charts, "write throughput, latency and hit-ratio-versus-cache-size SVG charts to this folder");
  cmd->add_flag("--json", o->json, "print the report as JSON");
  add_client_flags(cmd, &o->client);
  cmd->callback([run, o] { *run = [o] { return run_bench(*o); }; });
}

}  // namespace kvtier::cli
