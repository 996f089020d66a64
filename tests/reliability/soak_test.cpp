// Soak: the real kvtierd under a steady mixed load (puts over a key space larger than DRAM plus
// NVMe, so eviction, demotion and region reclaim run all the time; gets that check every byte;
// lookups; STATS; clients that reconnect) for KVTIER_SOAK_SECONDS, sampling the daemon's RSS,
// open file descriptors and threads from /proc every KVTIER_SOAK_SAMPLE_SECONDS into a CSV
// (KVTIER_SOAK_CSV, default ./soak.csv). At the end the samples after warm-up (the first quarter)
// must stay flat: RSS grows at most 10% + 16 MiB over its first post-warm-up value, fds and threads
// by at most 4. Skipped unless KVTIER_SOAK_SECONDS is set (`make soak`, not CI).
#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "reliability/reliability_support.h"
#include "server/raw_wire.h"
#include "support/silent_tcp.h"
#include "support/test_support.h"

namespace kvtier::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct ProcSample {
  double seconds = 0;
  std::uint64_t rss_kib = 0, fds = 0;
  // The daemon's own threads, and io_uring's workers apart ("iou-wrk-<tid>"): the kernel starts
  // those on demand for I/O it cannot issue inline and lets them exit when idle (a 600 s soak
  // here ended with 7 of them at once), so they are recorded, not held to the bound.
  std::uint64_t threads = 0, io_workers = 0;
};

ProcSample sample_proc(pid_t pid, double seconds) {
  ProcSample s;
  s.seconds = seconds;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream in(line);
    std::string field;
    in >> field;
    if (field == "VmRSS:") in >> s.rss_kib;
  }
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = ::opendir(tasks.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string comm;
      std::getline(std::ifstream(tasks + "/" + e->d_name + "/comm"), comm);
      (comm.starts_with("iou-wrk-") ? s.io_workers : s.threads)++;
    }
    ::closedir(d);
  }
  if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (dirent* e = ::readdir(d)) s.fds += e->d_name[0] != '.';
    ::closedir(d);
  }
  return s;
}

constexpr std::uint64_t kKeySpace = 6000;  // ~600 MB of values: more than 64 MiB DRAM + 256 MiB NVMe

struct LoadTotals {
  std::atomic<std::uint64_t> puts{0}, gets{0}, hits{0}, wrong{0}, errors{0}, reconnects{0};
};

// One client's loop: a put, four gets (every hit checked byte by byte), a lookup;
// a new connection every 500 rounds. Paced so the soak does not own the machine.
void client_loop(const DaemonProcess& d, std::uint64_t seed, Clock::time_point until,
                 LoadTotals& t) {
  NumberedBlocks blocks(99);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::uint64_t> pick(0, kKeySpace - 1);
  std::vector<std::byte> buf(NumberedBlocks::largest());
  std::unique_ptr<Client> c;
  for (std::uint64_t round = 0; Clock::now() < until; ++round) {
    if (!c || round % 500 == 0) {
      c = connect_unix(d, "soak");
      t.reconnects++;
      if (!c) {
        t.errors++;
        std::this_thread::sleep_for(100ms);
        continue;
      }
    }
    {
      std::uint64_t n = pick(rng);
      std::vector<std::byte> v = blocks.value(n);
      Status s = c->put(blocks.key(n), v);
      s.ok() ? t.puts++ : t.errors++;
    }
    for (int i = 0; i < 4; ++i) {
      std::uint64_t n = pick(rng);
      GetResult r = c->get(blocks.key(n), buf);
      t.gets++;
      if (r.status.ok()) {
        t.hits++;
        if (!blocks.intact(n, std::span(buf).first(r.size))) t.wrong++;
      } else if (r.status.code() != StatusCode::kNotFound) {
        t.errors++;
      }
    }
    Key k = blocks.key(pick(rng));
    if (!c->lookup(std::span(&k, 1)).ok()) t.errors++;
    if (round % 100 == 0 && !c->stats().ok()) t.errors++;
    std::this_thread::sleep_for(20ms);
  }
}

// The attacker beside the load (issue 25), one cycle a second until `until`: 50 TCP sockets that
// never say HELLO; a PUT of 8 MiB whose body stops halfway; GET_MANY of 16 x 1 MiB never read;
// a garbage frame. Each cycle's connections close when the next cycle starts.
struct AttackTotals {
  std::atomic<std::uint64_t> cycles{0}, sockets{0};
};

void attacker_loop(const DaemonProcess& d, Clock::time_point until, AttackTotals& t) {
  NumberedBlocks blocks(99);
  std::vector<UniqueFd> silent;
  std::vector<std::unique_ptr<RawWire>> wires;
  while (Clock::now() < until) {
    silent.clear();
    wires.clear();
    for (int i = 0; i < 50; ++i) {
      UniqueFd fd = silent_tcp_connection(d.tcp_address());
      if (fd.valid()) silent.push_back(std::move(fd));
    }
    t.sockets += silent.size();
    auto withheld = std::make_unique<RawWire>(d.unix_address());
    if (withheld->hello()) {
      constexpr std::uint64_t kValue = 8 * kMiB;
      std::vector<std::byte> frame;
      (void)protocol::append_frame(frame, 1, protocol::PutRequest{blocks.key(1'000'000), kValue},
                                   kValue);
      frame.resize(frame.size() + kValue / 2, std::byte{0x77});
      (void)withheld->send_bytes(frame);
      wires.push_back(std::move(withheld));
    }
    auto unread = std::make_unique<RawWire>(d.unix_address());
    if (unread->hello()) {
      int small = 4096;
      ::setsockopt(unread->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
      protocol::GetManyRequest m;
      for (std::uint64_t i = 0; i < 16; ++i) m.items.push_back({blocks.key(i), 1 * kMiB});
      std::vector<std::byte> frames;
      for (int r = 0; r < 4; ++r) (void)protocol::append_frame(frames, 10 + r, m);
      (void)unread->send_bytes(frames);
      wires.push_back(std::move(unread));
    }
    auto garbage = std::make_unique<RawWire>(d.unix_address());
    (void)garbage->send_text("KVTP this is not a frame\r\n\r\n");
    wires.push_back(std::move(garbage));
    t.cycles++;
    std::this_thread::sleep_for(1s);
  }
}

TEST(Soak, RssFdsAndThreadsStayFlatUnderLoad) {
  const std::uint64_t seconds = env_u64("KVTIER_SOAK_SECONDS", 0);
  if (seconds == 0) GTEST_SKIP() << "set KVTIER_SOAK_SECONDS (make soak) to run the soak";
  const std::uint64_t every = std::max<std::uint64_t>(1, env_u64("KVTIER_SOAK_SAMPLE_SECONDS", 10));
  const char* csv_env = std::getenv("KVTIER_SOAK_CSV");
  const std::string csv_path = csv_env && *csv_env ? csv_env : "soak.csv";
  TempDir dir;
  DaemonProcess d(dir.path(),
                  "[dram]\ncapacity_bytes = \"64MiB\"\n[nvme]\ndefault_file_bytes = \"256MiB\"\n"
                  "region_size = \"8MiB\"\n");
  ASSERT_TRUE(d.started()) << d.log();

  const auto t0 = Clock::now();
  const auto until = t0 + std::chrono::seconds(seconds);
  LoadTotals totals;
  std::vector<std::thread> clients;
  for (std::uint64_t i = 0; i < 3; ++i) {
    clients.emplace_back([&, i] { client_loop(d, 1000 + i, until, totals); });
  }
  // KVTIER_SOAK_ATTACKER=0 runs the load alone.
  AttackTotals attack;
  if (env_u64("KVTIER_SOAK_ATTACKER", 1) != 0) {
    clients.emplace_back([&] { attacker_loop(d, until, attack); });
  }
  std::ofstream csv(csv_path);
  csv << "seconds,rss_kib,fds,threads,io_workers,puts,gets,hits,wrong,errors\n";
  std::vector<ProcSample> samples;
  for (auto next = t0; next <= until; next += std::chrono::seconds(every)) {
    std::this_thread::sleep_until(next);
    samples.push_back(
        sample_proc(d.pid(), std::chrono::duration<double>(Clock::now() - t0).count()));
    const ProcSample& s = samples.back();
    csv << s.seconds << ',' << s.rss_kib << ',' << s.fds << ',' << s.threads << ','
        << s.io_workers << ',' << totals.puts << ',' << totals.gets << ',' << totals.hits << ',' << totals.wrong << ','
        << totals.errors << '\n'
        << std::flush;
  }
  for (auto& t : clients) t.join();
  ASSERT_GE(samples.size(), 4u) << "too few samples: raise KVTIER_SOAK_SECONDS";

  const std::size_t warm = samples.size() / 4;
  const ProcSample& base = samples[warm];
  ProcSample peak = base;
  for (std::size_t i = warm; i < samples.size(); ++i) {
    peak.rss_kib = std::max(peak.rss_kib, samples[i].rss_kib);
    peak.fds = std::max(peak.fds, samples[i].fds);
    peak.threads = std::max(peak.threads, samples[i].threads);
    peak.io_workers = std::max(peak.io_workers, samples[i].io_workers);
  }
  std::printf(
      "soak: seconds=%llu samples=%zu puts=%llu gets=%llu hits=%llu wrong=%llu errors=%llu "
      "reconnects=%llu rss_kib first=%llu after_warmup=%llu peak=%llu last=%llu fds "
      "after_warmup=%llu peak=%llu threads after_warmup=%llu peak=%llu io_workers peak=%llu "
      "attack_cycles=%llu attack_sockets=%llu csv=%s\n",
      (unsigned long long)seconds, samples.size(), (unsigned long long)totals.puts.load(),
      (unsigned long long)totals.gets.load(), (unsigned long long)totals.hits.load(),
      (unsigned long long)totals.wrong.load(), (unsigned long long)totals.errors.load(),
      (unsigned long long)totals.reconnects.load(), (unsigned long long)samples.front().rss_kib,
      (unsigned long long)base.rss_kib, (unsigned long long)peak.rss_kib,
      (unsigned long long)samples.back().rss_kib, (unsigned long long)base.fds,
      (unsigned long long)peak.fds, (unsigned long long)base.threads,
      (unsigned long long)peak.threads, (unsigned long long)peak.io_workers,
      (unsigned long long)attack.cycles.load(), (unsigned long long)attack.sockets.load(),
      csv_path.c_str());
  EXPECT_EQ(totals.wrong.load(), 0u);
  EXPECT_EQ(totals.errors.load(), 0u);
  EXPECT_LE(peak.rss_kib, base.rss_kib + base.rss_kib / 10 + 16 * 1024);
  // The attacker's connections come and go each second: at most two cycles of them are open.
  const std::uint64_t attack_fds = attack.cycles.load() > 0 ? 2 * (50 + 3) : 0;
  EXPECT_LE(peak.fds, base.fds + 4 + attack_fds);
  EXPECT_LE(peak.threads, base.threads + 4);
  EXPECT_EQ(d.terminate(), 0) << d.log();
}

}  // namespace
}  // namespace kvtier::testing
