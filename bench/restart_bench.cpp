// NVMe tier restart: index bytes per entry, and the time to reopen a tier of 1 M entries after a
// SIGKILL (crash scan) and after a clean close() (checkpoint). Issue 2: "speed lives in benchmarks".
//
//   restart_bench [--dir D] [--entries N] [--value-bytes B] [--verify N] [--drop-caches 1]
//
// 1. A forked child opens a fresh NvmeTier (one file D/restart-<pid>/nvme/restart.dat, sized for
//    N entries of B bytes with 10% to spare; 64 MiB regions, default tier settings otherwise), puts
//    N entries (default 1,000,000 x 4 KiB), calls flush(), reports its entry count and index size
//    through a pipe and waits; the parent kills it with SIGKILL.
// 2. The parent times NvmeTier::open() (recovery_info() must say "scan"), checks the entry count,
//    and gets --verify random entries (default 1,000) to check they verify.
// 3. It times close() (seals, flushes, writes the checkpoint), then NvmeTier::open() again
//    (recovery_info() must say "checkpoint"), and checks the entries again.
// Bytes per entry: NvmeTier::index_memory_bytes() / entry_count(), in the child after the puts,
// after the scan and after the checkpoint load. The data directory is removed at the end.
// The device reads of both recoveries are O_DIRECT; the checkpoint file is read through the page
// cache, which still holds it right after close(). --drop-caches 1 (root) syncs and drops the
// page cache (echo 1 > /proc/sys/vm/drop_caches, system-wide) before each open: a cold restart.
//
// Last lines: "RESULT restart mode=scan|checkpoint open_s=... recovery_s=... entries=..." and
// "RESULT index_bytes_per_entry ...".
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench_support.h"
#include "kvtier/config.h"
#include "kvtier/key.h"
#include "memory/aligned_buffer.h"
#include "nvme/nvme_tier.h"

using namespace kvtier::bench;  // die, parse_bytes, keys, median/percentile

namespace {

using Clock = std::chrono::steady_clock;

const char* mode_name(kvtier::nvme::RecoveryMode m) {
  switch (m) {
    case kvtier::nvme::RecoveryMode::kFresh: return "fresh";
    case kvtier::nvme::RecoveryMode::kCheckpoint: return "checkpoint";
    case kvtier::nvme::RecoveryMode::kScan: return "scan";
  }
  return "?";
}

struct ChildReport {
  std::uint64_t entries = 0;
  std::uint64_t index_bytes = 0;
  double fill_s = 0;
  double flush_s = 0;
  char error[200] = {};
};

// The child: fill, flush, report, wait for the SIGKILL.
[[noreturn]] void child_main(const kvtier::NvmeConfig& cfg, const std::string& data_dir, std::uint64_t entries,
                             std::uint64_t value_bytes, int fd) {
  ChildReport rep;
  auto fail = [&](const std::string& m) {
    std::snprintf(rep.error, sizeof rep.error, "%s", m.c_str());
    (void)!::write(fd, &rep, sizeof rep);
    ::_exit(1);
  };
  auto opened = kvtier::nvme::NvmeTier::open(cfg, data_dir);
  if (!opened.ok()) fail("open: " + opened.status().to_string());
  std::unique_ptr<kvtier::nvme::NvmeTier> tier = std::move(opened).value();
  kvtier::AlignedBuffer value(value_bytes);
  std::mt19937_64 rng(5);
  for (std::size_t j = 0; j < value.size() / 8; ++j) reinterpret_cast<std::uint64_t*>(value.data())[j] = rng();
  auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < entries; ++i) {
    std::memcpy(value.data(), &i, sizeof i);  // every value differs, and names its key
    kvtier::Status s = tier->put({kvtier::kDefaultNamespace, numbered_key(i, 3)}, value.span().first(value_bytes));
    if (!s.ok()) fail("put " + std::to_string(i) + ": " + s.to_string());
  }
  auto t1 = Clock::now();
  kvtier::Status fs = tier->flush();
  if (!fs.ok()) fail("flush: " + fs.to_string());
  auto t2 = Clock::now();
  rep.entries = tier->entry_count();
  rep.index_bytes = tier->index_memory_bytes();
  rep.fill_s = std::chrono::duration<double>(t1 - t0).count();
  rep.flush_s = std::chrono::duration<double>(t2 - t1).count();
  (void)!::write(fd, &rep, sizeof rep);
  for (;;) ::pause();  // killed here, with the tier open and its flusher running
}

// Gets `count` random entries and checks size and stamp; returns the number that failed.
std::uint64_t verify(kvtier::nvme::NvmeTier& tier, std::uint64_t entries, std::uint64_t value_bytes,
                     std::uint64_t count) {
  kvtier::AlignedBuffer dst(value_bytes);
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<std::uint64_t> pick(0, entries - 1);
  std::uint64_t bad = 0;
  for (std::uint64_t n = 0; n < count; ++n) {
    std::uint64_t i = pick(rng);
    kvtier::GetResult g = tier.get({kvtier::kDefaultNamespace, numbered_key(i, 3)}, dst.span().first(value_bytes));
    std::uint64_t stamp = ~i;
    if (g.status.ok()) std::memcpy(&stamp, dst.data(), sizeof stamp);
    if (!g.status.ok() || g.size != value_bytes || stamp != i) ++bad;
  }
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  kvtier::bench::program_name() = "restart_bench";
  std::string dir = "./var/bench";
  std::uint64_t entries = 1'000'000;
  std::uint64_t value_bytes = 4096;
  std::uint64_t verify_count = 1000;
  bool drop_caches = false;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) die("missing value for " + k);
    std::string v = argv[++i];
    if (k == "--dir") dir = v;
    else if (k == "--entries") entries = std::stoull(v);
    else if (k == "--value-bytes") value_bytes = std::stoull(v);
    else if (k == "--verify") verify_count = std::stoull(v);
    else if (k == "--drop-caches") drop_caches = v == "1";
    else die("unknown option " + k + " (see the file header)");
  }
  if (entries == 0) die("--entries must be > 0");

  const std::string data_dir = (std::filesystem::path(dir) / ("restart-" + std::to_string(::getpid()))).string();
  kvtier::bench::cleanup_dir() = data_dir;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(data_dir) / "nvme", ec);
  if (ec) die("cannot create " + data_dir + ": " + ec.message());
  kvtier::NvmeConfig cfg;
  const std::uint64_t footprint = kvtier::nvme::entry_footprint(value_bytes);
  const std::uint64_t file_bytes = (entries * footprint / 10 * 11 + 4 * cfg.region_size) / cfg.region_size * cfg.region_size +
                                   kvtier::kPageSize;
  cfg.devices.push_back({(std::filesystem::path(data_dir) / "nvme" / "restart.dat").string(), file_bytes});
  std::printf("restart_bench: %" PRIu64 " entries x %" PRIu64 " B (%.2f GiB of entries), file %.2f GiB, region %" PRIu64
              " MiB, io_depth %u, write_buffers %u, page cache %s before each open\n",
              entries, value_bytes, double(entries * footprint) / double(kvtier::kGiB), double(file_bytes) / double(kvtier::kGiB),
              cfg.region_size / kvtier::kMiB, cfg.io_depth, cfg.write_buffers, drop_caches ? "dropped" : "kept");
  std::fflush(stdout);

  // 1. The child fills and is killed. Fork before this process starts any thread or ring.
  int pipefd[2];
  if (::pipe(pipefd) != 0) die("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    ::close(pipefd[0]);
    child_main(cfg, data_dir, entries, value_bytes, pipefd[1]);
  }
  ::close(pipefd[1]);
  ChildReport rep;
  std::size_t got = 0;
  while (got < sizeof rep) {
    ssize_t n = ::read(pipefd[0], reinterpret_cast<char*>(&rep) + got, sizeof rep - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::kill(pid, SIGKILL);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  if (got != sizeof rep) die("the child died before reporting");
  if (rep.error[0]) die(std::string("child: ") + rep.error);
  if (!WIFSIGNALED(wstatus) || WTERMSIG(wstatus) != SIGKILL) die("the child was not killed by SIGKILL");
  std::printf("  child: %" PRIu64 " puts in %.1f s (%.0f puts/s), flush %.2f s; then SIGKILL\n", entries, rep.fill_s,
              double(entries) / rep.fill_s, rep.flush_s);
  std::printf("  index after the puts: %" PRIu64 " entries, %" PRIu64 " bytes = %.1f bytes/entry\n", rep.entries,
              rep.index_bytes, double(rep.index_bytes) / double(rep.entries));
  if (rep.entries != entries) die("the child's tier holds " + std::to_string(rep.entries) + " entries");

  struct Row {
    const char* mode;
    double open_s, recovery_s;
    std::uint64_t entries, index_bytes, regions_scanned, torn, bad;
  };
  std::vector<Row> rows;
  auto reopen = [&](kvtier::nvme::RecoveryMode want) {
    if (drop_caches) {
      ::sync();
      FILE* f = std::fopen("/proc/sys/vm/drop_caches", "w");
      if (!f || std::fputs("1\n", f) < 0 || std::fclose(f) != 0) die("cannot drop the page cache (root needed)");
    }
    auto t0 = Clock::now();
    auto opened = kvtier::nvme::NvmeTier::open(cfg, data_dir);
    double open_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!opened.ok()) die("open: " + opened.status().to_string());
    std::unique_ptr<kvtier::nvme::NvmeTier> tier = std::move(opened).value();
    const kvtier::nvme::RecoveryInfo& ri = tier->recovery_info();
    if (ri.mode != want) {
      die(std::string("recovery mode is ") + mode_name(ri.mode) + ", expected " + mode_name(want) +
          (ri.checkpoint_note.empty() ? "" : " (" + ri.checkpoint_note + ")"));
    }
    Row row{mode_name(ri.mode), open_s, ri.seconds, tier->entry_count(), tier->index_memory_bytes(), ri.regions_scanned,
            ri.torn_entries, 0};
    if (row.entries != entries) die(std::string(row.mode) + ": " + std::to_string(row.entries) + " entries came back");
    row.bad = verify(*tier, entries, value_bytes, verify_count);
    if (row.bad) die(std::string(row.mode) + ": " + std::to_string(row.bad) + " sampled gets failed");
    std::printf("  open after %-13s %.3f s (recovery_info: mode %s, %.3f s, %" PRIu64 " entries, %" PRIu64
                " regions read in full, %" PRIu64 " torn), index %.1f bytes/entry, %" PRIu64 " sampled gets OK\n",
                want == kvtier::nvme::RecoveryMode::kScan ? "SIGKILL:" : "close():", open_s, row.mode, ri.seconds,
                row.entries, row.regions_scanned, row.torn, double(row.index_bytes) / double(row.entries), verify_count);
    rows.push_back(row);
    return tier;
  };

  // 2. After the SIGKILL: crash scan.
  std::unique_ptr<kvtier::nvme::NvmeTier> tier = reopen(kvtier::nvme::RecoveryMode::kScan);
  // 3. Clean close (checkpoint), then reopen.
  auto tc = Clock::now();
  kvtier::Status cs = tier->close();
  double close_s = std::chrono::duration<double>(Clock::now() - tc).count();
  if (!cs.ok()) die("close: " + cs.to_string());
  tier.reset();
  std::uintmax_t ckpt = std::filesystem::file_size(std::filesystem::path(data_dir) / "nvme" / "index.ckpt", ec);
  std::printf("  close() (seal, flush, write checkpoint of %.1f MB): %.3f s\n", ec ? 0.0 : double(ckpt) / 1e6, close_s);
  tier = reopen(kvtier::nvme::RecoveryMode::kCheckpoint);
  (void)tier->close();
  tier.reset();
  std::filesystem::remove_all(data_dir, ec);

  for (const Row& r : rows) {
    std::printf("RESULT restart mode=%s open_s=%.3f recovery_s=%.3f entries=%" PRIu64 " regions_scanned=%" PRIu64
                " torn=%" PRIu64 " page_cache=%s\n",
                r.mode, r.open_s, r.recovery_s, r.entries, r.regions_scanned, r.torn, drop_caches ? "dropped" : "kept");
  }
  std::printf("RESULT index_bytes_per_entry after_puts=%.1f after_scan=%.1f after_checkpoint=%.1f entries=%" PRIu64 "\n",
              double(rep.index_bytes) / double(rep.entries), double(rows[0].index_bytes) / double(rows[0].entries),
              double(rows[1].index_bytes) / double(rows[1].entries), entries);
  return 0;
}
