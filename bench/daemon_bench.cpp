// daemon_bench: issue 3's numbers for kvtierd, through the real C++ client against a running
// daemon (bench/daemon_vs_redis.sh starts it), each printed as "name value unit" lines.
//   --mode shm     4 MiB blocks: GET_MANY_SHM / PUT_MANY_SHM through the daemon, and the same
//                  put_many / get_many on an in-process Store (--engine-dir) in the same run; ratio
//   --mode stream  1 MiB values over --address (TCP or Unix), --threads clients, PUT then GET GB/s
//   --mode lookup  LOOKUP of a 4,096-chunk chain: median and p99 round trip (all cached, none cached)
// Every phase is bounded by --seconds and a count. DRAM-resident working sets throughout.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "kvtier/client.h"
#include "kvtier/config.h"
#include "kvtier/store.h"
#include "memory/aligned_buffer.h"

namespace kvtier::bench {
namespace {

struct Options {
  std::string mode, address, token, engine_dir;
  int threads = 4;
  double seconds = 3;
};

using Clock = std::chrono::steady_clock;
double secs(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::unique_ptr<Client> connect(const Options& o) {
  ClientOptions c;
  c.address = o.address;
  c.token = o.token;
  c.client_name = "daemon_bench";
  auto r = Client::connect(c);
  if (!r.ok()) die("connect " + o.address + ": " + r.status().to_string());
  return std::move(r).value();
}

// Runs `round` (which moves `bytes`) until `seconds` pass (at least once); returns GB/s.
template <typename F>
double rate(double seconds, std::uint64_t bytes, F&& round) {
  round();  // warm-up: first touch of buffers
  std::uint64_t moved = 0;
  auto t0 = Clock::now();
  for (int i = 0; i < 100000 && (moved == 0 || secs(t0) < seconds); ++i) {
    round();
    moved += bytes;
  }
  return static_cast<double>(moved) / secs(t0) / 1e9;
}

void fill(std::span<std::byte> s, std::uint64_t seed) {
  for (std::size_t i = 0; i + 8 <= s.size(); i += 4096) {
    std::uint64_t v = splitmix(seed);
    std::memcpy(s.data() + i, &v, 8);
  }
}

void mode_shm(const Options& o) {
  constexpr std::size_t kBlock = 4 * kMiB, kBatch = 16, kBlocks = 64;  // 256 MiB working set
  auto c = connect(o);
  auto region = c->register_shared_memory(kBatch * kBlock);
  if (!region.ok()) die("register_shared_memory: " + region.status().to_string());
  fill(region->memory, 1);
  std::vector<Key> keys;
  for (std::size_t i = 0; i < kBlocks; ++i) keys.push_back(numbered_key(i, 77));
  std::size_t batch_at = 0;
  auto shm_put = [&] {
    std::vector<ShmPut> items;
    std::vector<Status> out(kBatch);
    for (std::size_t i = 0; i < kBatch; ++i) items.push_back({keys[(batch_at + i) % kBlocks], i * kBlock, kBlock});
    if (!c->put_many_shm(*region, items, out).ok() || !out[0].ok()) die("put_many_shm failed");
    batch_at = (batch_at + kBatch) % kBlocks;
  };
  auto shm_get = [&] {
    std::vector<ShmGet> items;
    std::vector<GetResult> out(kBatch);
    for (std::size_t i = 0; i < kBatch; ++i) items.push_back({keys[(batch_at + i) % kBlocks], i * kBlock, kBlock});
    if (!c->get_many_shm(*region, items, out).ok() || !out[0].status.ok()) die("get_many_shm failed");
    batch_at = (batch_at + kBatch) % kBlocks;
  };
  for (std::size_t i = 0; i < kBlocks / kBatch; ++i) shm_put();
  double put = rate(o.seconds, kBatch * kBlock, shm_put);
  double get = rate(o.seconds, kBatch * kBlock, shm_get);

  StoreConfig sc;
  sc.data_dir = o.engine_dir;
  sc.dram.capacity_bytes = 1 * kGiB;
  sc.nvme.default_file_bytes = 0;
  auto store = Store::open(sc);
  if (!store.ok()) die("Store::open: " + store.status().to_string());
  AlignedBuffer staging(kBatch * kBlock);
  fill(staging.span(), 1);
  auto eng_put = [&] {
    std::vector<PutItem> items;
    std::vector<Status> out(kBatch);
    for (std::size_t i = 0; i < kBatch; ++i) items.push_back({keys[(batch_at + i) % kBlocks], staging.span().subspan(i * kBlock, kBlock)});
    (*store)->put_many(0, items, out);
    batch_at = (batch_at + kBatch) % kBlocks;
  };
  auto eng_get = [&] {
    std::vector<GetItem> items;
    std::vector<GetResult> out(kBatch);
    for (std::size_t i = 0; i < kBatch; ++i) items.push_back({keys[(batch_at + i) % kBlocks], staging.span().subspan(i * kBlock, kBlock)});
    (*store)->get_many(0, items, out);
    if (!out[0].status.ok()) die("engine get_many failed");
    batch_at = (batch_at + kBatch) % kBlocks;
  };
  for (std::size_t i = 0; i < kBlocks / kBatch; ++i) eng_put();
  double eput = rate(o.seconds, kBatch * kBlock, eng_put);
  double eget = rate(o.seconds, kBatch * kBlock, eng_get);
  (void)(*store)->close();
  std::printf("shm_put_gbps %.2f GB/s\nshm_get_gbps %.2f GB/s\nengine_put_gbps %.2f GB/s\n"
              "engine_get_gbps %.2f GB/s\nshm_put_vs_engine %.0f %%\nshm_get_vs_engine %.0f %%\n",
              put, get, eput, eget, 100 * put / eput, 100 * get / eget);
}

void mode_stream(const Options& o) {
  constexpr std::size_t kValue = 1 * kMiB, kKeysPerThread = 64;  // 256 MiB in DRAM
  for (const char* phase : {"put", "get"}) {
    std::vector<double> gbps(static_cast<std::size_t>(o.threads));
    std::vector<std::thread> ts;
    for (int t = 0; t < o.threads; ++t) {
      ts.emplace_back([&, t] {
        auto c = connect(o);
        AlignedBuffer buf(kValue);
        fill(buf.span(), static_cast<std::uint64_t>(t));
        std::uint64_t i = 0;
        auto key = [&] { return numbered_key(static_cast<std::uint64_t>(t) * 1000 + (i++ % kKeysPerThread), 5); };
        auto put = [&] { if (!c->put(key(), buf.span().first(kValue)).ok()) die("put failed"); };
        auto get = [&] { if (!c->get(key(), buf.span()).status.ok()) die("get failed"); };
        if (std::strcmp(phase, "put") == 0) {
          gbps[static_cast<std::size_t>(t)] = rate(o.seconds, kValue, put);
        } else {
          gbps[static_cast<std::size_t>(t)] = rate(o.seconds, kValue, get);
        }
      });
    }
    for (auto& t : ts) t.join();
    double total = 0;
    for (double g : gbps) total += g;
    std::printf("stream_%s_gbps %.2f GB/s\n", phase, total);
  }
}

void mode_lookup(const Options& o) {
  constexpr std::size_t kChain = 4096;
  auto c = connect(o);
  std::vector<Key> chain, cold;
  std::vector<std::byte> small(4096, std::byte{1});
  for (std::size_t i = 0; i < kChain; ++i) {
    chain.push_back(numbered_key(i, 999));
    cold.push_back(numbered_key(i, 1001));
  }
  for (std::size_t at = 0; at < kChain; at += 256) {
    std::vector<PutItem> items;
    std::vector<Status> out(256);
    for (std::size_t i = at; i < at + 256; ++i) items.push_back({chain[i], small});
    if (!c->put_many(items, out).ok()) die("put_many failed");
  }
  for (auto* which : {&chain, &cold}) {
    std::vector<double> us;
    auto t0 = Clock::now();
    for (int i = 0; i < 2000 && (i < 50 || secs(t0) < o.seconds); ++i) {
      auto t = Clock::now();
      auto m = c->lookup(*which);
      us.push_back(secs(t) * 1e6);
      if (!m.ok() || m->cached != (which == &chain ? kChain : 0)) die("lookup answered wrongly");
    }
    const char* name = which == &chain ? "lookup_4096_cached" : "lookup_4096_uncached";
    std::printf("%s_median %.1f us\n%s_p99 %.1f us\n", name, median(us), name, percentile(us, 0.99));
  }
}

}  // namespace
}  // namespace kvtier::bench

int main(int argc, char** argv) {
  using namespace kvtier::bench;
  program_name() = "daemon_bench";
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--mode") o.mode = v;
    else if (a == "--address") o.address = v;
    else if (a == "--token") o.token = v;
    else if (a == "--engine-dir") o.engine_dir = v;
    else if (a == "--threads") o.threads = std::stoi(v);
    else if (a == "--seconds") o.seconds = std::stod(v);
    else die("unknown option " + a);
  }
  if (o.mode == "shm" && !o.engine_dir.empty()) mode_shm(o);
  else if (o.mode == "stream") mode_stream(o);
  else if (o.mode == "lookup") mode_lookup(o);
  else die("usage: daemon_bench --mode shm|stream|lookup --address A [--token T] [--engine-dir D] [--threads N] [--seconds S]");
  return 0;
}
