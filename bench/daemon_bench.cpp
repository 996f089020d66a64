// kvtierd through the real C++ Client (issue 3: what the daemon must show), one mode per run.
// bench/daemon_vs_redis.sh starts the daemon, runs every mode and compares with Redis and iperf3.
//
//   daemon_bench --mode shm    --address unix:SOCK --config DAEMON.toml --engine-dir DIR
//                [--value-bytes 4M] [--working-set-bytes 1G] [--batch 32] [--rounds 5]
//                [--passes 2] [--engine-memory region|aligned] [--label dram]
//   daemon_bench --mode tcp    --address tcp:HOST:PORT|tls:HOST:PORT|unix:SOCK --token-file F
//                [--tls-ca-file CA.pem]
//                [--threads 4] [--value-bytes 1M] [--working-set-bytes 1G] [--batch 1]
//                [--rounds 5] [--passes 2] [--phases both|put|get] [--durable 0|1] [--label tcp]
//   daemon_bench --mode lookup --address ADDR [--token-file F] [--chain 4096] [--runs 2000]
//                [--value-bytes 64] [--config DAEMON.toml --engine-dir DIR] [--label unix]
//
// shm: one Client on the Unix socket registers a memfd of --batch slots of --value-bytes (every
//   slot at a 4 KiB-aligned offset). A PUT pass stores the working set with PUT_MANY_SHM batches
//   from the slots, a GET pass reads it in a random order with GET_MANY_SHM batches into the
//   slots. The reference runs IN THE SAME PROCESS AND RUN: a Store opened with the same daemon
//   config file (its engine part, load_daemon_config_file().store) on --engine-dir, the same keys
//   and batches through Store::put_many / get_many, into the same memory (the registered region
//   itself, so both sides touch the same pages; --engine-memory aligned uses an AlignedBuffer
//   instead, which is THP-advised where the memfd is not). Rounds alternate which side goes
//   first; each round gives a ratio per direction; the summary is the median. Puts replace the
//   keys of the untimed first pass, so a DRAM-sized working set stays in DRAM (no eviction); with
//   a config whose DRAM is 0 every get comes from NVMe.
// tcp: --threads threads, one Client each. A round is a PUT phase then a GET phase of --passes
//   passes over the working set in a fresh random order, which the threads draw from one shared
//   queue (as redis-benchmark's clients share one request count, so every client is busy until
//   the phase is done); started together (barrier) and timed until the last thread is done. Each
//   round prints the spread between the first and the last thread finishing. --batch 1 uses put/get (one value per
//   round trip, like redis-benchmark -P 1); --batch B > 1 uses put_many/get_many of B values.
//   The same code runs over the Unix socket when --address is unix:...
//   --phases put|get runs only that phase in the rounds (after the first put pass), so a
//   profiler attached for the whole run sees one direction. --durable 1 makes every timed put a
//   durable one (PutOptions::durable: answered once on NVMe and synced); the first, untimed pass
//   stays plain.
// lookup: a --chain key chain of small values is put, then --runs LOOKUPs of the whole chain
//   (after 100 untimed) are timed one round trip each; again with a chain of which nothing is
//   cached, and PING for the bare round trip. With --config/--engine-dir the same chain is timed
//   through Store::lookup in this process (what the daemon adds is the difference).
//
// Every value carries stamps (its key number at offsets 0, size/2 and size-8) that each timed get
// checks; the rest of the value is a fixed random pattern, compared in full after the rounds.
// Every loop is bounded by counts; the Client's 30 s timeout bounds each call.
// Output: "RESULT <name> key=value ..." lines (GB/s are 10^9 bytes/s), as the other benchmarks.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "stamped_value.h"
#include "kvtier/client.h"
#include "kvtier/config.h"
#include "kvtier/key.h"
#include "kvtier/store.h"
#include "memory/aligned_buffer.h"
#include "server/server_config.h"

using namespace kvtier::bench;  // die, parse_bytes, keys, median/percentile, stamped values
using kvtier::Key;
using kvtier::Status;

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode;
  std::string address;
  std::string tls_ca_file;  // a tls:HOST:PORT address: the CA the daemon's certificate chains to
  std::string token;
  std::string config;      // daemon config file (engine reference: its .store part)
  std::string engine_dir;  // data_dir of the in-process reference Store
  std::string engine_memory = "region";
  std::string label;
  std::string phases = "both";
  bool durable = false;  // tcp: timed puts with PutOptions::durable
  std::uint64_t value_bytes = 0;  // per mode default below
  std::uint64_t working_set = 1 * kvtier::kGiB;
  std::size_t batch = 0;  // per mode default below
  int threads = 4;
  int rounds = 5;
  int passes = 2;
  std::size_t chain = 4096;
  std::size_t runs = 2000;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string min_max(const std::vector<double>& v, const char* fmt = "min=%.4f max=%.4f") {
  char buf[80];
  std::snprintf(buf, sizeof buf, fmt, *std::min_element(v.begin(), v.end()),
                *std::max_element(v.begin(), v.end()));
  return buf;
}

std::unique_ptr<kvtier::Client> connect(const Options& o, const std::string& name) {
  kvtier::ClientOptions co;
  co.address = o.address;
  co.token = o.token;
  co.tls_ca_file = o.tls_ca_file;
  co.client_name = name;
  auto c = kvtier::Client::connect(co);
  if (!c.ok()) die("connect " + o.address + ": " + c.status().to_string());
  return std::move(c).value();
}

// The reference Store: the engine part of the daemon's config file, on another data dir.
std::unique_ptr<kvtier::Store> open_engine(const Options& o) {
  if (o.config.empty() || o.engine_dir.empty()) die("--config and --engine-dir are required");
  auto dc = kvtier::server::load_daemon_config_file(o.config);
  if (!dc.ok()) die("config " + o.config + ": " + dc.status().to_string());
  kvtier::StoreConfig cfg = dc->store;
  cfg.data_dir = o.engine_dir;
  cleanup_dir() = o.engine_dir;
  auto s = kvtier::Store::open(cfg);
  if (!s.ok()) die("Store::open " + o.engine_dir + ": " + s.status().to_string());
  std::printf("  engine reference: Store::open(%s): DRAM %" PRIu64 " B, NVMe file %" PRIu64
              " B, region %" PRIu64 " B, io_depth %u, promote_on_nvme_hit %d (from %s)\n",
              o.engine_dir.c_str(), cfg.dram.capacity_bytes, cfg.nvme.default_file_bytes,
              cfg.nvme.region_size, cfg.nvme.io_depth, cfg.promote_on_nvme_hit ? 1 : 0,
              o.config.c_str());
  return std::move(s).value();
}

void close_engine(std::unique_ptr<kvtier::Store>& store, const Options& o) {
  Status s = store->close();
  if (!s.ok()) die("Store::close: " + s.to_string());
  store.reset();
  std::error_code ec;
  std::filesystem::remove_all(o.engine_dir, ec);
  cleanup_dir().clear();
}

// The engine's hit counters, to show where gets were served from.
std::string engine_counters(kvtier::Store& store) {
  double dram = 0, nvme = 0;
  store.visit_counters([&](std::string_view name, double v, kvtier::CounterKind) {
    if (name == "dram_hits") dram = v;
    if (name == "nvme_hits") nvme = v;
  });
  char buf[96];
  std::snprintf(buf, sizeof buf, "dram_hits=%.0f nvme_hits=%.0f", dram, nvme);
  return buf;
}

// The daemon's DRAM and NVMe hit counters, from STATS (kvtier_<name>_total lines).
std::string daemon_counters(kvtier::Client& c) {
  auto text = c.stats();
  if (!text.ok()) return "(STATS failed: " + text.status().to_string() + ")";
  std::string out;
  for (std::string name : {"dram_hits", "nvme_hits"}) {
    std::string head = "\nkvtier_" + name + "_total ";
    std::size_t at = text->find(head);
    if (at == std::string::npos) continue;
    std::size_t from = at + head.size();
    out += (out.empty() ? "" : " ") + name + "=" + text->substr(from, text->find('\n', from) - from);
  }
  return out;
}

// ---- shm: GET_MANY_SHM / PUT_MANY_SHM vs Store::get_many / put_many ----

int run_shm(Options& o) {
  if (o.value_bytes == 0) o.value_bytes = 4 * kvtier::kMiB;
  if (o.batch == 0) o.batch = 32;
  if (o.label.empty()) o.label = "shm";
  const std::uint64_t vb = o.value_bytes;
  const std::uint64_t slot = kvtier::round_up_to_page(vb);  // 4 KiB-aligned offsets
  const std::uint64_t n = o.working_set / vb;
  if (n < o.batch) die("the working set must hold at least one batch");

  auto client = connect(o, "daemon_bench-shm");
  auto region = client->register_shared_memory(o.batch * slot);
  if (!region.ok()) die("register_shared_memory: " + region.status().to_string());
  std::printf("daemon_bench shm (%s): %" PRIu64 " values x %" PRIu64 " B = %.2f GiB, batches of "
              "%zu (%.0f MiB region, 4 KiB-aligned slots), %d rounds of %d passes per side, "
              "engine memory: %s\n",
              o.label.c_str(), n, vb, double(n * vb) / double(kvtier::kGiB), o.batch,
              double(o.batch * slot) / double(kvtier::kMiB), o.rounds, o.passes,
              o.engine_memory == "region" ? "the same registered region" : "AlignedBuffer");
  std::unique_ptr<kvtier::Store> store = open_engine(o);

  const std::vector<std::byte> pattern = make_pattern(vb);
  kvtier::AlignedBuffer own;
  std::byte* engine_base = region->memory.data();
  if (o.engine_memory == "aligned") {
    own = kvtier::AlignedBuffer(o.batch * slot);
    if (own.empty()) die("out of memory");
    engine_base = own.data();
  } else if (o.engine_memory != "region") {
    die("--engine-memory is region or aligned");
  }
  for (std::size_t k = 0; k < o.batch; ++k) {
    std::memcpy(region->memory.data() + k * slot, pattern.data(), vb);
    if (engine_base != region->memory.data()) std::memcpy(engine_base + k * slot, pattern.data(), vb);
  }
  std::vector<Key> keys(n);
  for (std::uint64_t i = 0; i < n; ++i) keys[i] = numbered_key(i, 3003);

  // One pass over `order` in batches, through the daemon or the engine.
  std::vector<Status> put_out(o.batch);
  std::vector<kvtier::GetResult> get_out(o.batch);
  std::vector<kvtier::ShmPut> sputs;
  std::vector<kvtier::ShmGet> sgets;
  std::vector<kvtier::PutItem> puts;
  std::vector<kvtier::GetItem> gets;
  auto pass = [&](bool daemon, bool put, const std::vector<std::uint64_t>& order) {
    std::byte* base = daemon ? region->memory.data() : engine_base;
    const char* side = daemon ? "daemon" : "engine";
    for (std::size_t b = 0; b < order.size(); b += o.batch) {
      std::size_t m = std::min<std::size_t>(o.batch, order.size() - b);
      sputs.clear(), sgets.clear(), puts.clear(), gets.clear();
      for (std::size_t k = 0; k < m; ++k) {
        std::uint64_t i = order[b + k];
        if (put) stamp(base + k * slot, vb, i);
        if (daemon && put) sputs.push_back({keys[i], k * slot, vb});
        if (daemon && !put) sgets.push_back({keys[i], k * slot, slot});
        if (!daemon && put) puts.push_back({keys[i], {base + k * slot, vb}});
        if (!daemon && !put) gets.push_back({keys[i], {base + k * slot, slot}});
      }
      if (put) {
        std::span<Status> out(put_out.data(), m);
        if (daemon) {
          Status s = client->put_many_shm(*region, sputs, out);
          if (!s.ok()) die("put_many_shm: " + s.to_string());
        } else {
          Status s = store->put_many(kvtier::kDefaultNamespace, puts, out);
          if (!s.ok()) die("put_many: " + s.to_string());
        }
        for (std::size_t k = 0; k < m; ++k) {
          if (!out[k].ok()) {
            die(std::string(side) + " put " + std::to_string(order[b + k]) + ": " + out[k].to_string());
          }
        }
      } else {
        std::span<kvtier::GetResult> out(get_out.data(), m);
        if (daemon) {
          Status s = client->get_many_shm(*region, sgets, out);
          if (!s.ok()) die("get_many_shm: " + s.to_string());
        } else {
          Status s = store->get_many(kvtier::kDefaultNamespace, gets, out);
          if (!s.ok()) die("get_many: " + s.to_string());
        }
        for (std::size_t k = 0; k < m; ++k) {
          std::uint64_t i = order[b + k];
          if (!out[k].status.ok() || out[k].size != vb || !stamped(base + k * slot, vb, i)) {
            die(std::string(side) + " get " + std::to_string(i) + ": " + out[k].status.to_string() +
                ", size " + std::to_string(out[k].size) + (out[k].status.ok() ? ", wrong stamp" : ""));
          }
        }
      }
    }
  };
  auto timed = [&](bool daemon, bool put, const std::vector<std::uint64_t>& order) {
    auto t0 = Clock::now();
    for (int p = 0; p < o.passes; ++p) pass(daemon, put, order);
    return double(o.passes) * double(order.size()) * double(vb) / 1e9 / seconds_since(t0);
  };

  std::vector<std::uint64_t> seq(n);
  std::iota(seq.begin(), seq.end(), 0);
  // Untimed: the first insert (first touch of each side's DRAM). No flush on either side (the
  // protocol has none): with an NVMe config both sides hold their latest puts in region buffers.
  auto t0 = Clock::now();
  pass(true, true, seq);
  double first_daemon = seconds_since(t0);
  t0 = Clock::now();
  pass(false, true, seq);
  double first_engine = seconds_since(t0);
  std::printf("  first puts (untimed): daemon %.2f s, engine %.2f s\n", first_daemon, first_engine);

  std::mt19937_64 rng(77);
  std::vector<double> dput, eput, dget, eget, rput, rget;
  std::printf("  round   daemon put   engine put   ratio   daemon get   engine get   ratio  (GB/s)\n");
  std::vector<std::uint64_t> order = seq;
  for (int r = 0; r < o.rounds; ++r) {
    bool daemon_first = r % 2 == 1;
    double dp, ep, dg, eg;
    std::shuffle(order.begin(), order.end(), rng);
    if (daemon_first) {
      dp = timed(true, true, order), ep = timed(false, true, order);
    } else {
      ep = timed(false, true, order), dp = timed(true, true, order);
    }
    std::shuffle(order.begin(), order.end(), rng);
    if (daemon_first) {
      dg = timed(true, false, order), eg = timed(false, false, order);
    } else {
      eg = timed(false, false, order), dg = timed(true, false, order);
    }
    dput.push_back(dp), eput.push_back(ep), dget.push_back(dg), eget.push_back(eg);
    rput.push_back(dp / ep), rget.push_back(dg / eg);
    std::printf("  %5d   %10.2f   %10.2f   %4.0f%%   %10.2f   %10.2f   %4.0f%%  (%s first)\n", r + 1,
                dp, ep, 100 * dp / ep, dg, eg, 100 * dg / eg, daemon_first ? "daemon" : "engine");
  }

  // Every value through both paths, compared in full; untimed.
  for (bool daemon : {true, false}) {
    std::byte* base = daemon ? region->memory.data() : engine_base;
    for (std::uint64_t b = 0; b < n; b += o.batch) {
      std::size_t m = std::min<std::uint64_t>(o.batch, n - b);
      std::vector<std::uint64_t> part(seq.begin() + b, seq.begin() + b + m);
      for (std::size_t k = 0; k < m; ++k) std::memset(base + k * slot, 0, vb);
      pass(daemon, false, part);
      for (std::size_t k = 0; k < m; ++k) {
        if (!value_intact(base + k * slot, vb, part[k], pattern)) {
          die(std::string(daemon ? "daemon" : "engine") + " value " + std::to_string(part[k]) +
              " differs from what was put");
        }
      }
    }
  }
  std::printf("  every value read back intact through both paths\n");
  std::printf("  counters: daemon %s; engine %s\n", daemon_counters(*client).c_str(),
              engine_counters(*store).c_str());
  for (bool put : {true, false}) {
    const auto& d = put ? dput : dget;
    const auto& e = put ? eput : eget;
    const auto& r = put ? rput : rget;
    std::printf("RESULT shm_%s label=%s gb_s=%.2f engine_gb_s=%.2f ratio=%.4f %s rounds=%d "
                "batch=%zu value_bytes=%" PRIu64 " working_set=%" PRIu64 " goal=0.80\n",
                put ? "put" : "get", o.label.c_str(), median(d), median(e), median(r),
                min_max(r).c_str(), o.rounds, o.batch, vb, n * vb);
  }
  close_engine(store, o);
  return 0;
}

// ---- tcp: put/get of values over one connection per thread ----

// The work of one phase, shared by every thread: a shuffled order over all the values and a
// cursor the threads draw their next batch from (as redis-benchmark's clients draw from one
// request count). With fixed per-thread slices, a thread whose connection the kernel or the
// daemon served faster finished early and the rest of the phase ran with fewer clients: the
// last thread ended up to half a phase after the first (measured), which timed the scheduler's
// unfairness rather than the daemon.
struct SharedWork {
  std::vector<std::size_t> order;  // value indexes; pass p visits order[] once more
  std::size_t total = 0;           // values to visit this phase (passes x order.size())
  std::atomic<std::size_t> cursor{0};

  // The next batch of at most `batch` visits, as positions [begin, end) of the phase; empty when
  // the phase is done. Lock-free: each position is handed out once.
  std::pair<std::size_t, std::size_t> next(std::size_t batch) {
    std::size_t b = cursor.fetch_add(batch, std::memory_order_relaxed);
    if (b >= total) return {total, total};
    return {b, std::min(total, b + batch)};
  }
  std::size_t at(std::size_t position) const { return order[position % order.size()]; }
};

int run_tcp(Options& o) {
  if (o.value_bytes == 0) o.value_bytes = 1 * kvtier::kMiB;
  if (o.batch == 0) o.batch = 1;
  if (o.label.empty()) o.label = o.address.rfind("unix:", 0) == 0 ? "unix" : "tcp";
  const std::uint64_t vb = o.value_bytes;
  const int T = o.threads;
  if (T < 1) die("--threads must be positive");
  const std::uint64_t per = o.working_set / vb / static_cast<std::uint64_t>(T);
  if (per < o.batch) die("each thread needs at least one batch of values");
  const std::uint64_t n = per * static_cast<std::uint64_t>(T);
  const std::vector<std::byte> pattern = make_pattern(vb);

  // Value i has key numbered_key(i, 4004) and carries the stamp i.
  std::vector<Key> keys;
  for (std::uint64_t i = 0; i < n; ++i) keys.push_back(numbered_key(i, 4004));
  struct Worker {
    std::unique_ptr<kvtier::Client> client;
    std::vector<kvtier::AlignedBuffer> bufs;  // one per batch item: put source and get target
    std::string error;
    std::uint64_t values = 0;    // visits this worker made in the current phase
    Clock::time_point finished;  // when it found the phase's work used up
  };
  std::vector<Worker> w(static_cast<std::size_t>(T));
  for (int t = 0; t < T; ++t) {
    Worker& x = w[static_cast<std::size_t>(t)];
    x.client = connect(o, "daemon_bench-" + std::to_string(t));
    for (std::size_t k = 0; k < o.batch; ++k) {
      x.bufs.emplace_back(vb);
      if (x.bufs.back().empty()) die("out of memory");
      std::memcpy(x.bufs.back().data(), pattern.data(), vb);
    }
  }
  std::atomic<bool> durable_now{false};  // set after the untimed first pass
  std::string how = o.batch == 1 ? std::string("put/get, one value per round trip")
                                 : "put_many/get_many of " + std::to_string(o.batch);
  std::printf("daemon_bench tcp (%s, %s): %d threads, %" PRIu64 " values x %" PRIu64
              " B = %.2f GiB drawn from one shared queue, %s, %d rounds of %d passes per phase\n",
              o.label.c_str(), o.address.c_str(), T, n, vb, double(n * vb) / double(kvtier::kGiB),
              how.c_str(), o.rounds, o.passes);

  // One batch of worker x: the values `idx` (at most o.batch). False on an error, which is left
  // in x.error.
  auto run_batch = [&](Worker& x, bool put, std::span<const std::size_t> idx) -> bool {
    auto fail = [&x](std::string why) {
      x.error = std::move(why);
      return false;
    };
    const std::size_t m = idx.size();
    if (put) {
      std::vector<kvtier::PutItem> puts;
      std::vector<Status> out(m);
      for (std::size_t k = 0; k < m; ++k) {
        stamp(x.bufs[k].data(), vb, idx[k]);
        puts.push_back({keys[idx[k]], x.bufs[k].span().first(vb)});
      }
      // The timed passes (after the first) are durable when asked.
      const kvtier::PutOptions options{.durable = o.durable && durable_now.load(std::memory_order_relaxed)};
      if (m == 1 && o.batch == 1) {
        out[0] = x.client->put(puts[0].key, puts[0].value, options);
      } else {
        Status s = x.client->put_many(puts, out, options);
        if (!s.ok()) return fail("put_many: " + s.to_string());
      }
      for (std::size_t k = 0; k < m; ++k) {
        if (!out[k].ok()) return fail("put: " + out[k].to_string());
      }
      return true;
    }
    std::vector<kvtier::GetItem> gets;
    std::vector<kvtier::GetResult> out(m);
    for (std::size_t k = 0; k < m; ++k) gets.push_back({keys[idx[k]], x.bufs[k].span()});
    if (m == 1 && o.batch == 1) {
      out[0] = x.client->get(gets[0].key, gets[0].dst);
    } else {
      Status s = x.client->get_many(gets, out);
      if (!s.ok()) return fail("get_many: " + s.to_string());
    }
    for (std::size_t k = 0; k < m; ++k) {
      if (!out[k].status.ok() || out[k].size != vb || !stamped(x.bufs[k].data(), vb, idx[k])) {
        return fail("get " + std::to_string(idx[k]) + ": " + out[k].status.to_string() + ", size " +
                    std::to_string(out[k].size) + (out[k].status.ok() ? ", wrong stamp" : ""));
      }
    }
    return true;
  };

  // Phases run by all threads together; main times from the start barrier to the end barrier.
  // `phase` and `work` (but its cursor) are written by main before the start barrier only.
  enum class Phase { kPut, kGet, kCheck, kStop };
  Phase phase = Phase::kPut;
  SharedWork work;
  work.order.resize(n);
  std::iota(work.order.begin(), work.order.end(), 0);
  std::barrier<> start(T + 1), done(T + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < T; ++t) {
    threads.emplace_back([&, t] {
      Worker& x = w[static_cast<std::size_t>(t)];
      std::vector<std::size_t> idx;
      for (;;) {
        start.arrive_and_wait();
        if (phase == Phase::kStop) break;
        x.values = 0;
        const std::size_t batch = phase == Phase::kCheck ? 1 : o.batch;
        for (bool ok = x.error.empty(); ok;) {
          auto [b, e] = work.next(batch);
          if (b == e) break;
          idx.clear();
          for (std::size_t p = b; p < e; ++p) idx.push_back(work.at(p));
          if (phase == Phase::kCheck) std::memset(x.bufs[0].data(), 0, vb);
          ok = run_batch(x, phase == Phase::kPut, idx);
          if (ok && phase == Phase::kCheck &&
              !value_intact(x.bufs[0].data(), vb, idx[0], pattern)) {
            x.error = "value " + std::to_string(idx[0]) + " differs from what was put";
            ok = false;
          }
          x.values += idx.size();
        }
        x.finished = Clock::now();
        done.arrive_and_wait();
      }
    });
  }
  auto stop = [&] {
    phase = Phase::kStop;
    start.arrive_and_wait();
    for (auto& th : threads) th.join();
  };
  std::mt19937_64 rng(1);
  // Runs one phase of `passes` passes; returns its GB/s. `spread` gets the share of the phase
  // between the first and the last thread running out of work (near 0: all 4 clients were busy
  // the whole time).
  auto run_phase = [&](Phase ph, int passes, double* spread = nullptr) {
    phase = ph;
    std::shuffle(work.order.begin(), work.order.end(), rng);
    work.total = static_cast<std::size_t>(passes) * n;
    work.cursor.store(0, std::memory_order_relaxed);
    auto t0 = Clock::now();
    start.arrive_and_wait();
    done.arrive_and_wait();
    double secs = seconds_since(t0);
    for (auto& x : w) {
      if (!x.error.empty()) {
        stop();
        die(x.error);
      }
    }
    auto [first, last] = std::minmax_element(
        w.begin(), w.end(),
        [](const Worker& a, const Worker& b) { return a.finished < b.finished; });
    if (spread != nullptr) {
      *spread = std::chrono::duration<double>(last->finished - first->finished).count() / secs;
    }
    return double(work.total) * double(vb) / 1e9 / secs;
  };

  double first = run_phase(Phase::kPut, 1);
  std::printf("  first put pass (untimed, inserts): %.2f GB/s\n", first);
  durable_now = true;
  if (o.durable) std::printf("  timed puts are durable (PutOptions::durable)\n");
  std::vector<double> puts, gets;
  std::printf("  round   put GB/s   get GB/s   (finish spread put, get)\n");
  for (int r = 0; r < o.rounds; ++r) {
    double sp = 0, sg = 0;
    double p = o.phases == "get" ? 0 : run_phase(Phase::kPut, o.passes, &sp);
    double g = o.phases == "put" ? 0 : run_phase(Phase::kGet, o.passes, &sg);
    puts.push_back(p), gets.push_back(g);
    std::printf("  %5d   %8.2f   %8.2f   (%.1f%%, %.1f%%)\n", r + 1, p, g, 100 * sp, 100 * sg);
  }
  (void)run_phase(Phase::kCheck, 1);
  stop();
  std::printf("  every value read back intact; counters: daemon %s\n",
              daemon_counters(*w[0].client).c_str());
  for (bool put : {true, false}) {
    const auto& v = put ? puts : gets;
    std::printf("RESULT daemon_%s label=%s gb_s=%.2f %s threads=%d batch=%zu value_bytes=%" PRIu64
                " working_set=%" PRIu64 " rounds=%d durable=%d\n",
                put ? "put" : "get", o.label.c_str(), median(v),
                min_max(v, "min=%.2f max=%.2f").c_str(), T, o.batch, vb, n * vb, o.rounds,
                put && o.durable ? 1 : 0);
  }
  return 0;
}

// ---- lookup: LOOKUP round trips of a long chain ----

struct Latency {
  double median_us, p99_us, max_us;
};

template <typename F>
Latency time_calls(std::size_t runs, F&& call) {
  for (int i = 0; i < 100; ++i) call();  // untimed
  std::vector<double> us;
  us.reserve(runs);
  for (std::size_t i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    call();
    us.push_back(seconds_since(t0) * 1e6);
  }
  return {median(us), percentile(us, 0.99), *std::max_element(us.begin(), us.end())};
}

int run_lookup(Options& o) {
  if (o.value_bytes == 0) o.value_bytes = 64;
  if (o.label.empty()) o.label = o.address.rfind("unix:", 0) == 0 ? "unix" : "tcp";
  auto client = connect(o, "daemon_bench-lookup");
  std::vector<Key> chain(o.chain), empty(o.chain);
  for (std::size_t i = 0; i < o.chain; ++i) {
    chain[i] = numbered_key(i, 5005);
    empty[i] = numbered_key(i, 6006);
  }
  std::vector<std::byte> value(o.value_bytes, std::byte{0x5a});
  std::vector<kvtier::PutItem> items;
  for (const Key& k : chain) items.push_back({k, value});
  std::vector<Status> out(items.size());
  Status s = client->put_many(items, out);
  if (!s.ok()) die("put_many: " + s.to_string());
  for (const Status& st : out) {
    if (!st.ok()) die("put: " + st.to_string());
  }
  std::printf("daemon_bench lookup (%s, %s): chain of %zu keys (values of %" PRIu64
              " B), %zu timed round trips after 100 untimed\n",
              o.label.c_str(), o.address.c_str(), o.chain, o.value_bytes, o.runs);

  auto report = [&](const std::string& name, const char* variant, const Latency& l) {
    std::printf("  %-14s %-12s median %8.1f us   p99 %8.1f us   max %8.1f us\n", name.c_str(),
                variant, l.median_us, l.p99_us, l.max_us);
    std::printf("RESULT %s label=%s variant=%s median_us=%.1f p99_us=%.1f max_us=%.1f chain=%zu "
                "runs=%zu%s\n",
                name.c_str(), o.label.c_str(), variant, l.median_us, l.p99_us, l.max_us, o.chain,
                o.runs, name == "ping" ? "" : " goal_median_us=200");
  };
  auto lookup = [&](const std::vector<Key>& keys, std::size_t want) {
    return [&keys, want, &client] {
      auto m = client->lookup(keys);
      if (!m.ok()) die("lookup: " + m.status().to_string());
      if (m->cached != want) {
        die("lookup: " + std::to_string(m->cached) + " cached, expected " + std::to_string(want));
      }
    };
  };
  report("daemon_lookup", "all_cached", time_calls(o.runs, lookup(chain, o.chain)));
  report("daemon_lookup", "none_cached", time_calls(o.runs, lookup(empty, 0)));
  report("ping", "empty", time_calls(o.runs, [&] {
           Status p = client->ping();
           if (!p.ok()) die("ping: " + p.to_string());
         }));

  if (!o.config.empty()) {
    std::unique_ptr<kvtier::Store> store = open_engine(o);
    std::vector<Status> eout(items.size());
    if (Status s = store->put_many(kvtier::kDefaultNamespace, items, eout); !s.ok()) {
      die("engine put_many: " + s.to_string());
    }
    for (const Status& st : eout) {
      if (!st.ok()) die("engine put: " + st.to_string());
    }
    auto elookup = [&](const std::vector<Key>& keys, std::size_t want) {
      return [&keys, want, &store] {
        kvtier::PrefixMatch m = store->lookup(kvtier::kDefaultNamespace, keys).value();
        if (m.cached != want) die("Store::lookup: " + std::to_string(m.cached) + " cached");
      };
    };
    report("engine_lookup", "all_cached", time_calls(o.runs, elookup(chain, o.chain)));
    report("engine_lookup", "none_cached", time_calls(o.runs, elookup(empty, 0)));
    close_engine(store, o);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  program_name() = "daemon_bench";
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) die("missing value for " + k);
    std::string v = argv[++i];
    if (k == "--mode") o.mode = v;
    else if (k == "--address") o.address = v;
    else if (k == "--token") o.token = v;
    else if (k == "--token-file") o.token = read_token_file(v);
    else if (k == "--tls-ca-file") o.tls_ca_file = v;
    else if (k == "--config") o.config = v;
    else if (k == "--engine-dir") o.engine_dir = v;
    else if (k == "--engine-memory") o.engine_memory = v;
    else if (k == "--label") o.label = v;
    else if (k == "--phases") o.phases = v;
    else if (k == "--durable") o.durable = v == "1";
    else if (k == "--value-bytes") o.value_bytes = parse_bytes(v);
    else if (k == "--working-set-bytes") o.working_set = parse_bytes(v);
    else if (k == "--batch") o.batch = std::stoul(v);
    else if (k == "--threads") o.threads = std::stoi(v);
    else if (k == "--rounds") o.rounds = std::stoi(v);
    else if (k == "--passes") o.passes = std::stoi(v);
    else if (k == "--chain") o.chain = std::stoul(v);
    else if (k == "--runs") o.runs = std::stoul(v);
    else die("unknown option " + k + " (see the file header)");
  }
  if (o.address.empty()) die("--address is required (see the file header)");
  if (o.phases != "both" && o.phases != "put" && o.phases != "get") die("--phases is both, put or get");
  if (o.rounds < 1 || o.passes < 1 || o.runs < 1 || o.chain < 1) die("counts must be positive");
  if (o.mode == "shm") return run_shm(o);
  if (o.mode == "tcp") return run_tcp(o);
  if (o.mode == "lookup") return run_lookup(o);
  die("--mode is shm, tcp or lookup");
}
