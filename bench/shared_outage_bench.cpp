// Load driver and checker of the shared-tier outage scenario (issue 4: ride-through), run by
// bench/shared_outage.sh, which freezes or kills the shared tier under it.
//
//   shared_outage_bench --mode load   --address ADDR [--token-file F] --out DIR --stop-file F
//                       [--marks F] [--threads 3] [--rate 24] [--value-bytes 512K] [--gets 2]
//                       [--chain 8] [--max-seconds 300] [--max-puts 20000]
//   shared_outage_bench --mode verify --address ADDR [--token-file F] --acked DIR/acked.tsv
//                       [--value-bytes 512K]
//
// load: --threads threads, one Client each, run "ticks" at --rate ticks per second in all (each
//   thread at its own steady pace, so the load stays the same whatever the daemon does). A tick:
//     put           one new block (--value-bytes; a fixed pattern stamped with its number)
//     get_hit       --gets blocks this thread put earlier (uniformly chosen: in DRAM or on NVMe),
//                   each compared byte for byte with what was put
//     lookup_local  LOOKUP of the last --chain blocks this thread put: all must be cached
//     lookup_tail   LOOKUP of the last 2 blocks put then 2 never put: exactly 2 cached (the
//                   daemon asks the shared tier about the tail, within its read deadline)
//     get_miss      GET of a block never put: NotFound (the daemon asks the shared tier)
//   A failed operation is any answer but the expected one: an error status, a put not OK, a get of
//   a block put earlier that is not OK or not byte-exact, a LOOKUP that counts other than
//   expected, a get_miss that is not NotFound. After a connection error the thread reconnects.
//   Every operation is logged with its wall-clock start (CLOCK_REALTIME, ns) and latency. The
//   run ends when --stop-file exists, after --max-seconds, or after --max-puts puts. Then the
//   phases come from --marks, lines "steady NS", "outage NS", "resume NS", "drained NS"
//   (wall-clock ns, as `date +%s%N` writes them): warmup < steady <= before < outage <= outage
//   phase < resume <= drain < drained <= after (a mark not written: that phase never began). Writes DIR/ops.tsv (every operation), DIR/acked.tsv (every block whose put was
//   acknowledged: number, wall-clock ns of the acknowledgement, phase) and prints latency per
//   operation and phase, and the p99 ratios outage/before of the local hits.
//   A stall monitor thread sleeps 1 ms at a time and records every wake-up later than 10 ms: the
//   driver itself was not running then (the machine was busy), so slow operations in the same
//   moments say little about the daemon. Stalls are reported per phase.
// verify: GETs every block of an acked.tsv through the daemon at --address (meant to be a FRESH
//   kvtierd, empty local tiers, on the same shared tier: whatever it returns came from the shared
//   tier) and counts, per phase, blocks intact (byte-exact), corrupt, missing and failed.
//
// Every loop is bounded by counts and time; every call by the Client's 10 s timeout.
// Output: "RESULT <name> key=value ..." lines, as the other benchmarks.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "kvtier/client.h"
#include "kvtier/key.h"
#include "memory/aligned_buffer.h"
#include "stamped_value.h"

using namespace kvtier::bench;  // die, parse_bytes, keys, percentile, stamped values
using kvtier::Key;
using kvtier::Status;

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kPutSalt = 7007;   // keys of blocks put
constexpr std::uint64_t kMissSalt = 8008;  // keys never put
constexpr int kReconnectAttempts = 100;    // 100 ms apart: 10 s
constexpr std::size_t kFailuresShown = 20;
constexpr auto kStallTick = std::chrono::milliseconds(1);
constexpr auto kStallThreshold = std::chrono::milliseconds(10);

struct Options {
  std::string mode;
  std::string address;
  std::string token;
  std::string out_dir;
  std::string stop_file;
  std::string marks;
  std::string acked;
  int threads = 3;
  double rate = 24;  // ticks per second, all threads together
  std::uint64_t value_bytes = 512 * kvtier::kKiB;
  int gets = 2;
  std::size_t chain = 8;
  double max_seconds = 300;
  std::uint64_t max_puts = 20000;
};

enum class Op : std::uint8_t { kPut, kGetHit, kLookupLocal, kLookupTail, kGetMiss };
constexpr int kOps = 5;
constexpr const char* kOpNames[kOps] = {"put", "get_hit", "lookup_local", "lookup_tail", "get_miss"};

enum class Phase : std::uint8_t { kWarmup, kBefore, kOutage, kDrain, kAfter };
constexpr int kPhases = 5;
constexpr const char* kPhaseNames[kPhases] = {"warmup", "before", "outage", "drain", "after"};

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The wall-clock marks the script wrote; a mark not written yet is "never".
struct Marks {
  std::int64_t steady = INT64_MIN, outage = INT64_MAX, resume = INT64_MAX, drained = INT64_MAX;

  Phase phase_of(std::int64_t t) const {
    if (t < steady) return Phase::kWarmup;
    if (t < outage) return Phase::kBefore;
    if (t < resume) return Phase::kOutage;
    if (t < drained) return Phase::kDrain;
    return Phase::kAfter;
  }
};

Marks read_marks(const std::string& path) {
  Marks m;
  if (path.empty()) return m;
  std::ifstream f(path);
  std::string name;
  std::int64_t ns = 0;
  while (f >> name >> ns) {
    if (name == "steady") m.steady = ns;
    else if (name == "outage") m.outage = ns;
    else if (name == "resume") m.resume = ns;
    else if (name == "drained") m.drained = ns;
  }
  return m;
}

std::unique_ptr<kvtier::Client> try_connect(const Options& o, const std::string& name, Status* why) {
  kvtier::ClientOptions co;
  co.address = o.address;
  co.token = o.token;
  co.client_name = name;
  co.timeout = std::chrono::milliseconds(10'000);
  auto c = kvtier::Client::connect(co);
  if (!c.ok()) {
    *why = c.status();
    return nullptr;
  }
  return std::move(c).value();
}

std::unique_ptr<kvtier::Client> connect(const Options& o, const std::string& name) {
  Status why;
  auto c = try_connect(o, name, &why);
  if (!c) die("connect " + o.address + ": " + why.to_string());
  return c;
}

// ---- load ----------------------------------------------------------------------------------------

struct OpRecord {
  std::int64_t start_ns;
  float latency_us;
  Op op;
  bool ok;
};

struct Ack {
  std::uint64_t number;
  std::int64_t at_ns;  // when the put's reply arrived
};

struct Failure {
  std::int64_t at_ns;
  Op op;
  std::string why;
};

// One client thread of the load: its own connection, blocks and records.
class Worker {
 public:
  Worker(const Options& o, int index, const std::vector<std::byte>& pattern)
      : o_(o), index_(index), pattern_(pattern), put_buf_(o.value_bytes),
        get_buf_(o.value_bytes), rng_(static_cast<std::uint64_t>(index) + 1) {
    if (put_buf_.empty() || get_buf_.empty()) die("out of memory");
    std::memcpy(put_buf_.data(), pattern.data(), o.value_bytes);
    client_ = connect(o, name());
  }

  // Ticks at the worker's pace until `stop`, the time limit or its share of --max-puts.
  void run(const std::atomic<bool>& stop, Clock::time_point start) {
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(o_.threads / o_.rate));
    const auto offset = interval * index_ / o_.threads;
    const auto end = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o_.max_seconds));
    const std::uint64_t max_ticks = o_.max_puts / static_cast<std::uint64_t>(o_.threads);
    for (std::uint64_t j = 0; j < max_ticks && !stop.load() && client_; ++j) {
      auto at = start + offset + interval * static_cast<std::int64_t>(j);
      if (at > end) break;
      std::this_thread::sleep_until(at);
      tick(j);
    }
  }

  const std::vector<OpRecord>& records() const { return records_; }
  const std::vector<Ack>& acks() const { return acks_; }
  const std::vector<Failure>& failures() const { return failures_; }
  const std::string& fatal() const { return fatal_; }

 private:
  std::string name() const { return "shared_outage_bench-" + std::to_string(index_); }

  void tick(std::uint64_t j) {
    put_new((static_cast<std::uint64_t>(index_) << 40) | j);
    for (int g = 0; g < o_.gets && client_ && !acked_.empty(); ++g) get_hit();
    if (client_ && acked_.size() >= o_.chain) lookup_local();
    if (client_ && acked_.size() >= 2) lookup_tail();
    if (client_) get_miss();
  }

  // Runs `call` (which returns an empty string when the answer was the expected one, else why
  // not) and records it. `status` is what the Client returned, to see a broken connection.
  template <typename F>
  void timed(Op op, F&& call) {
    const std::int64_t start_ns = wall_ns();
    const auto t0 = Clock::now();
    Status status;
    std::string why = call(status);
    const float us = std::chrono::duration<float, std::micro>(Clock::now() - t0).count();
    records_.push_back({start_ns, us, op, why.empty()});
    if (!why.empty()) failures_.push_back({start_ns, op, why});
    if (status.code() == kvtier::StatusCode::kIOError ||
        status.code() == kvtier::StatusCode::kClosed) {
      reconnect();
    }
  }

  // A new connection after the old one broke (the Client answers Closed from then on).
  void reconnect() {
    client_.reset();
    for (int i = 0; i < kReconnectAttempts && !client_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      Status why;
      client_ = try_connect(o_, name(), &why);
      if (!client_) fatal_ = "cannot reconnect: " + why.to_string();
    }
    if (client_) fatal_.clear();
  }

  void put_new(std::uint64_t number) {
    stamp(put_buf_.data(), o_.value_bytes, number);
    timed(Op::kPut, [&](Status& s) -> std::string {
      s = client_->put(numbered_key(number, kPutSalt), put_buf_.span().first(o_.value_bytes));
      if (!s.ok()) return "put " + std::to_string(number) + ": " + s.to_string();
      acked_.push_back(number);
      acks_.push_back({number, wall_ns()});
      return "";
    });
  }

  void get_hit() {
    std::uniform_int_distribution<std::size_t> pick(0, acked_.size() - 1);
    const std::uint64_t number = acked_[pick(rng_)];
    std::memset(get_buf_.data(), 0, 64);  // a stale stamp must not pass for a fresh one
    timed(Op::kGetHit, [&](Status& s) -> std::string {
      kvtier::GetResult r = client_->get(numbered_key(number, kPutSalt), get_buf_.span());
      s = r.status;
      std::string what = "get " + std::to_string(number) + ": ";
      if (!r.status.ok()) return what + r.status.to_string();
      if (r.size != o_.value_bytes) return what + "size " + std::to_string(r.size);
      if (!value_intact(get_buf_.data(), o_.value_bytes, number, pattern_)) {
        return what + "bytes differ from what was put";
      }
      return "";
    });
  }

  void lookup(Op op, const std::vector<Key>& chain, std::size_t want) {
    timed(op, [&](Status& s) -> std::string {
      kvtier::Result<kvtier::PrefixMatch> m = client_->lookup(chain);
      s = m.ok() ? Status::Ok() : m.status();
      if (!m.ok()) return std::string(kOpNames[int(op)]) + ": " + m.status().to_string();
      if (m->cached != want) {
        return std::string(kOpNames[int(op)]) + ": " + std::to_string(m->cached) +
               " cached, expected " + std::to_string(want);
      }
      return "";
    });
  }

  void lookup_local() {
    std::vector<Key> chain;
    for (std::size_t i = acked_.size() - o_.chain; i < acked_.size(); ++i) {
      chain.push_back(numbered_key(acked_[i], kPutSalt));
    }
    lookup(Op::kLookupLocal, chain, o_.chain);
  }

  void lookup_tail() {
    std::vector<Key> chain = {numbered_key(acked_[acked_.size() - 2], kPutSalt),
                              numbered_key(acked_.back(), kPutSalt), next_missing_key(),
                              next_missing_key()};
    lookup(Op::kLookupTail, chain, 2);
  }

  void get_miss() {
    const Key key = next_missing_key();
    timed(Op::kGetMiss, [&](Status& s) -> std::string {
      kvtier::GetResult r = client_->get(key, get_buf_.span());
      s = r.status;
      if (r.status.is_not_found()) return "";
      return "get_miss: " + (r.status.ok() ? std::string("a block never put was found")
                                           : r.status.to_string());
    });
  }

  Key next_missing_key() {
    return numbered_key((static_cast<std::uint64_t>(index_) << 40) | missing_++, kMissSalt);
  }

  const Options& o_;
  const int index_;
  const std::vector<std::byte>& pattern_;
  kvtier::AlignedBuffer put_buf_, get_buf_;
  std::mt19937_64 rng_;
  std::unique_ptr<kvtier::Client> client_;  // null when reconnecting failed
  std::vector<std::uint64_t> acked_;        // numbers of blocks put, in order
  std::uint64_t missing_ = 0;
  std::vector<OpRecord> records_;
  std::vector<Ack> acks_;
  std::vector<Failure> failures_;
  std::string fatal_;
};

struct Stall {
  std::int64_t at_ns;  // when the late sleep began
  double ms;           // how long it took
};

// Sleeps kStallTick at a time until `stop`; records every sleep that took over kStallThreshold.
std::vector<Stall> monitor_stalls(const std::atomic<bool>& stop) {
  std::vector<Stall> stalls;
  while (!stop.load()) {
    const std::int64_t at = wall_ns();
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(kStallTick);
    const auto took = Clock::now() - t0;
    if (took > kStallThreshold) {
      stalls.push_back({at, std::chrono::duration<double, std::milli>(took).count()});
    }
  }
  return stalls;
}

struct Stats {
  std::size_t n = 0, failed = 0;
  double p50 = 0, p99 = 0, max = 0;
};

Stats stats_of(const std::vector<OpRecord>& all, const Marks& marks, Op op, Phase phase) {
  std::vector<double> us;
  Stats s;
  for (const OpRecord& r : all) {
    if (r.op != op || marks.phase_of(r.start_ns) != phase) continue;
    us.push_back(r.latency_us);
    if (!r.ok) ++s.failed;
  }
  s.n = us.size();
  if (s.n == 0) return s;
  s.p50 = percentile(us, 0.50);
  s.p99 = percentile(us, 0.99);
  s.max = *std::max_element(us.begin(), us.end());
  return s;
}

void write_files(const Options& o, const Marks& marks, const std::vector<OpRecord>& ops,
                 const std::vector<Ack>& acks) {
  std::ofstream f(o.out_dir + "/ops.tsv");
  f << "start_ns\top\tlatency_us\tok\tphase\n";
  for (const OpRecord& r : ops) {
    f << r.start_ns << '\t' << kOpNames[int(r.op)] << '\t' << r.latency_us << '\t' << r.ok << '\t'
      << kPhaseNames[int(marks.phase_of(r.start_ns))] << '\n';
  }
  std::ofstream a(o.out_dir + "/acked.tsv");
  for (const Ack& k : acks) {
    a << k.number << '\t' << k.at_ns << '\t' << kPhaseNames[int(marks.phase_of(k.at_ns))] << '\n';
  }
  if (!f || !a) die("cannot write " + o.out_dir + "/ops.tsv or acked.tsv");
}

void report_stalls(const Marks& marks, const std::vector<Stall>& stalls) {
  for (int ph = 0; ph < kPhases; ++ph) {
    std::size_t n = 0;
    double total = 0, worst = 0;
    for (const Stall& s : stalls) {
      if (marks.phase_of(s.at_ns) != Phase(ph)) continue;
      ++n, total += s.ms, worst = std::max(worst, s.ms);
    }
    std::printf("RESULT outage_stalls phase=%s stalls=%zu stalled_ms=%.0f worst_ms=%.0f\n",
                kPhaseNames[ph], n, total, worst);
  }
}

void report(const Options& o, const Marks& marks, const std::vector<OpRecord>& ops,
            const std::vector<Ack>& acks, const std::vector<Failure>& failures) {
  std::printf("  %-13s %-7s %7s %7s %10s %10s %10s\n", "op", "phase", "n", "failed", "p50 us",
              "p99 us", "max us");
  for (int op = 0; op < kOps; ++op) {
    for (int ph = 0; ph < kPhases; ++ph) {
      Stats s = stats_of(ops, marks, Op(op), Phase(ph));
      if (s.n == 0) continue;
      std::printf("  %-13s %-7s %7zu %7zu %10.0f %10.0f %10.0f\n", kOpNames[op], kPhaseNames[ph],
                  s.n, s.failed, s.p50, s.p99, s.max);
      std::printf("RESULT outage_op op=%s phase=%s n=%zu failed=%zu p50_us=%.0f p99_us=%.0f "
                  "max_us=%.0f\n",
                  kOpNames[op], kPhaseNames[ph], s.n, s.failed, s.p50, s.p99, s.max);
    }
  }
  for (Op op : {Op::kPut, Op::kGetHit, Op::kLookupLocal, Op::kLookupTail, Op::kGetMiss}) {
    Stats b = stats_of(ops, marks, op, Phase::kBefore), d = stats_of(ops, marks, op, Phase::kOutage);
    if (b.n == 0 || d.n == 0) continue;
    std::printf("RESULT outage_p99_ratio op=%s before_p99_us=%.0f outage_p99_us=%.0f ratio=%.2f "
                "goal=2.00\n",
                kOpNames[int(op)], b.p99, d.p99, d.p99 / b.p99);
  }
  std::size_t by_phase[kPhases] = {};
  for (const Ack& k : acks) ++by_phase[int(marks.phase_of(k.at_ns))];
  std::printf("RESULT outage_load ops=%zu failed_ops=%zu acked=%zu acked_warmup=%zu "
              "acked_before=%zu acked_outage=%zu acked_drain=%zu acked_after=%zu value_bytes=%" PRIu64
              " threads=%d rate=%.1f\n",
              ops.size(), failures.size(), acks.size(), by_phase[0], by_phase[1], by_phase[2],
              by_phase[3], by_phase[4], o.value_bytes, o.threads, o.rate);
  for (std::size_t i = 0; i < failures.size() && i < kFailuresShown; ++i) {
    const Failure& f = failures[i];
    std::printf("  failure %zu at %" PRId64 " (%s): %s\n", i + 1, f.at_ns,
                kPhaseNames[int(marks.phase_of(f.at_ns))], f.why.c_str());
  }
}

int run_load(const Options& o) {
  if (o.out_dir.empty() || o.stop_file.empty()) die("--out and --stop-file are required");
  if (o.threads < 1 || o.rate <= 0 || o.chain < 1 || o.value_bytes < 64) die("bad load options");
  const std::vector<std::byte> pattern = make_pattern(o.value_bytes);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) workers.push_back(std::make_unique<Worker>(o, t, pattern));
  std::printf("shared_outage_bench load (%s): %d threads, %.1f ticks/s in all, a tick = put of "
              "%" PRIu64 " B + %d get_hit + lookup_local (%zu) + lookup_tail (2+2) + get_miss\n",
              o.address.c_str(), o.threads, o.rate, o.value_bytes, o.gets, o.chain);
  std::fflush(stdout);

  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&stop, start, &w] { w->run(stop, start); });
  std::vector<Stall> stalls;
  std::thread monitor([&stop, &stalls] { stalls = monitor_stalls(stop); });
  // The stop file is polled here, not by the workers, so their pace has no extra system calls.
  const auto limit = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o.max_seconds + 1));
  while (Clock::now() < limit && !std::filesystem::exists(o.stop_file)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop.store(true);
  for (auto& th : threads) th.join();
  monitor.join();

  std::vector<OpRecord> ops;
  std::vector<Ack> acks;
  std::vector<Failure> failures;
  for (auto& w : workers) {
    ops.insert(ops.end(), w->records().begin(), w->records().end());
    acks.insert(acks.end(), w->acks().begin(), w->acks().end());
    failures.insert(failures.end(), w->failures().begin(), w->failures().end());
    if (!w->fatal().empty()) std::printf("  a worker stopped early: %s\n", w->fatal().c_str());
  }
  std::sort(ops.begin(), ops.end(), [](auto& a, auto& b) { return a.start_ns < b.start_ns; });
  std::sort(acks.begin(), acks.end(), [](auto& a, auto& b) { return a.at_ns < b.at_ns; });
  std::sort(failures.begin(), failures.end(), [](auto& a, auto& b) { return a.at_ns < b.at_ns; });
  const Marks marks = read_marks(o.marks);
  std::printf("  ran %.1f s\n", std::chrono::duration<double>(Clock::now() - start).count());
  write_files(o, marks, ops, acks);
  report(o, marks, ops, acks, failures);
  report_stalls(marks, stalls);
  return 0;
}

// ---- verify --------------------------------------------------------------------------------------

int run_verify(const Options& o) {
  if (o.acked.empty()) die("--acked is required");
  std::ifstream f(o.acked);
  if (!f) die("cannot read " + o.acked);
  auto client = connect(o, "shared_outage_bench-verify");
  const std::vector<std::byte> pattern = make_pattern(o.value_bytes);
  kvtier::AlignedBuffer buf(o.value_bytes);
  if (buf.empty()) die("out of memory");
  struct Count {
    std::size_t acked = 0, intact = 0, corrupt = 0, missing = 0, errors = 0;
  };
  Count c[kPhases];
  std::vector<std::string> notes;
  std::uint64_t number = 0;
  std::int64_t at = 0;
  std::string phase;
  while (f >> number >> at >> phase) {
    int ph = int(std::find(kPhaseNames, kPhaseNames + kPhases, phase) - kPhaseNames);
    if (ph == kPhases) die("unknown phase " + phase + " in " + o.acked);
    Count& k = c[ph];
    ++k.acked;
    std::memset(buf.data(), 0, 64);
    kvtier::GetResult r = client->get(numbered_key(number, kPutSalt), buf.span());
    if (r.status.ok() && r.size == o.value_bytes &&
        value_intact(buf.data(), o.value_bytes, number, pattern)) {
      ++k.intact;
      continue;
    }
    if (r.status.is_not_found()) ++k.missing;
    else if (r.status.ok()) ++k.corrupt;
    else ++k.errors;
    if (notes.size() < kFailuresShown) {
      notes.push_back(phase + " block " + std::to_string(number) + ": " +
                      (r.status.ok() ? "wrong bytes or size" : r.status.to_string()));
    }
    if (!r.status.ok() && !r.status.is_not_found()) {
      client = connect(o, "shared_outage_bench-verify");
    }
  }
  std::printf("shared_outage_bench verify (%s): %s\n", o.address.c_str(), o.acked.c_str());
  for (int ph = 0; ph < kPhases; ++ph) {
    const Count& k = c[ph];
    std::printf("RESULT outage_verify phase=%s acked=%zu intact=%zu corrupt=%zu missing=%zu "
                "errors=%zu\n",
                kPhaseNames[ph], k.acked, k.intact, k.corrupt, k.missing, k.errors);
  }
  for (const std::string& n : notes) std::printf("  %s\n", n.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  program_name() = "shared_outage_bench";
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) die("missing value for " + k);
    std::string v = argv[++i];
    if (k == "--mode") o.mode = v;
    else if (k == "--address") o.address = v;
    else if (k == "--token-file") o.token = read_token_file(v);
    else if (k == "--out") o.out_dir = v;
    else if (k == "--stop-file") o.stop_file = v;
    else if (k == "--marks") o.marks = v;
    else if (k == "--acked") o.acked = v;
    else if (k == "--threads") o.threads = std::stoi(v);
    else if (k == "--rate") o.rate = std::stod(v);
    else if (k == "--value-bytes") o.value_bytes = parse_bytes(v);
    else if (k == "--gets") o.gets = std::stoi(v);
    else if (k == "--chain") o.chain = std::stoul(v);
    else if (k == "--max-seconds") o.max_seconds = std::stod(v);
    else if (k == "--max-puts") o.max_puts = std::stoull(v);
    else die("unknown option " + k + " (see the file header)");
  }
  if (o.address.empty()) die("--address is required (see the file header)");
  if (o.mode == "load") return run_load(o);
  if (o.mode == "verify") return run_verify(o);
  die("--mode is load or verify");
}
