// NVMe tier throughput against fio on the same filesystem (issue 2: "speed lives in benchmarks").
// Run through bench/nvme_vs_fio.sh, which measures fio in the same run and prints the ratios.
//
//   nvme_tier_bench put --dir D [--file F] [--values N] [--value-bytes B] [--qd Q]
//                       [--write-buffers W] [--write-io-bytes B] [--region-bytes B]
//                       [--file-bytes B] [--warmup-values N] [--fio-mb-s X] [--print-file-bytes 1]
//   nvme_tier_bench get --dir D [--file F] [--qd Q] [--threads T] [--seconds S] [--seed N]
//                       [--dst-memory fio|touched|thp|hugetlb] [--progress 1] [--fio-mb-s X]
//
// put: formats the tier file (default a fresh D/nvme/kvtier-bench.dat sized for the values; with
//      --file an existing file is formatted over at its size), puts --warmup-values untimed values
//      (default: enough to cycle every region buffer once, so their first-touch page faults are
//      not measured), then puts N values of B bytes (default 1024 x 4 MiB = 4 GiB) from one
//      thread through NvmeTier::put and times until flush() has returned (every byte written with
//      O_DIRECT and fdatasync'ed). close() then writes the index checkpoint (not timed).
//      Counterpart of fio --rw=write --bs=B --iodepth=Q --direct=1 --end_fsync=1.
// get: reopens the tier (warm restart from that checkpoint) and for S seconds reads batches of Q
//      keys drawn uniformly at random among those written, with get_many into 4 KiB-aligned
//      destination slices, so every read is one O_DIRECT readv straight into the caller's memory
//      and every value's XXH3 checksum is verified (and the value's stamp checked by the bench).
//      Counterpart of fio --rw=randread --bs=B --iodepth=Q --direct=1. --dst-memory: see DstMemory.
//
// Defaults for the tier: region 64 MiB, write_io_bytes 4 MiB, io_depth = Q, 2 write buffers,
// reinsertion off. With --fio-mb-s the ratio kvtier/fio is printed. The last line is
// machine-readable: "RESULT nvme_put|nvme_randget mb_s=... [fio_mb_s=... ratio=...]".
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "kvtier/config.h"
#include "kvtier/key.h"
#include "integrity/checksum.h"
#include "memory/aligned_buffer.h"
#include "nvme/nvme_tier.h"

using namespace kvtier::bench;  // die, parse_bytes, keys, median/percentile

namespace {

using Clock = std::chrono::steady_clock;
using kvtier::kGiB;
using kvtier::kMiB;

struct Args {
  std::string mode;
  std::string dir = "./var/bench";
  std::uint64_t values = 1024;
  std::uint64_t value_bytes = 4 * kMiB;
  std::uint32_t qd = 8;
  std::uint32_t write_buffers = 2;
  std::uint64_t write_io_bytes = 4 * kMiB;
  std::uint64_t region_bytes = 64 * kMiB;
  std::uint64_t file_bytes = 0;  // 0: derived from values
  std::int64_t warmup_values = -1;  // -1: enough to cycle every region buffer once
  double seconds = 10;
  std::uint64_t seed = 42;
  std::uint32_t threads = 1;
  double fio_mb_s = 0;
  bool progress = false;  // get: MB/s of every second on stderr
  // put: the tier's file. Default: a fresh D/nvme/kvtier-bench.dat (an earlier one is removed).
  // An existing file is used at its size and formatted over (format_foreign_devices), so fio and
  // kvtier can read the very same blocks.
  std::string file;
  std::string dst_memory = "fio";  // get: fio | touched | thp | hugetlb (see DstMemory)
  bool print_geometry = false;  // print the file size put would use, and exit
};

Args parse_args(int argc, char** argv) {
  if (argc < 2) die("usage: nvme_tier_bench put|get --dir D [options]; see the file header");
  Args a;
  a.mode = argv[1];
  if (a.mode != "put" && a.mode != "get") die("first argument must be put or get");
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) die("missing value for " + k);
    std::string v = argv[++i];
    if (k == "--dir") a.dir = v;
    else if (k == "--values") a.values = std::stoull(v);
    else if (k == "--value-bytes") a.value_bytes = parse_bytes(v);
    else if (k == "--qd") a.qd = static_cast<std::uint32_t>(std::stoul(v));
    else if (k == "--write-buffers") a.write_buffers = static_cast<std::uint32_t>(std::stoul(v));
    else if (k == "--write-io-bytes") a.write_io_bytes = parse_bytes(v);
    else if (k == "--region-bytes") a.region_bytes = parse_bytes(v);
    else if (k == "--file-bytes") a.file_bytes = parse_bytes(v);
    else if (k == "--warmup-values") a.warmup_values = std::stoll(v);
    else if (k == "--seconds") a.seconds = std::stod(v);
    else if (k == "--seed") a.seed = std::stoull(v);
    else if (k == "--threads") a.threads = static_cast<std::uint32_t>(std::stoul(v));
    else if (k == "--fio-mb-s") a.fio_mb_s = std::stod(v);
    else if (k == "--progress") a.progress = v == "1";
    else if (k == "--file") a.file = v;
    else if (k == "--dst-memory") a.dst_memory = v;
    else if (k == "--print-file-bytes") a.print_geometry = v == "1";
    else die("unknown option " + k);
  }
  return a;
}

// Whole values of `value_bytes` one region holds (entries plus the region summary).
std::uint64_t values_per_region(std::uint64_t value_bytes, std::uint64_t region_bytes) {
  std::uint64_t footprint = kvtier::nvme::entry_footprint(value_bytes);
  std::uint64_t n = 0;
  while (footprint * (n + 1) + kvtier::nvme::summary_pages_for(n + 1) * kvtier::kPageSize <= region_bytes) ++n;
  if (n == 0) die("a value of " + std::to_string(value_bytes) + " B does not fit a region");
  return n;
}

// Untimed puts before the timed ones: by default enough to fill every region buffer once, so the
// first-touch page faults of the tier's buffers (expensive in VMs) are not in the measurement.
std::uint64_t warmup_values(const Args& a) {
  if (a.warmup_values >= 0) return static_cast<std::uint64_t>(a.warmup_values);
  return values_per_region(a.value_bytes, a.region_bytes) * (a.write_buffers + 1);
}

kvtier::NvmeConfig tier_config(const Args& a, const std::string& file) {
  kvtier::NvmeConfig c;
  c.region_size = a.region_bytes;
  c.write_buffers = a.write_buffers;
  c.write_io_bytes = a.write_io_bytes;
  c.io_depth = a.qd;
  c.reinsert_min_hits = 0;
  std::uint64_t file_bytes = a.file_bytes;
  if (file_bytes == 0) {
    // Room for every value (warm-up included) without reclaim, plus two spare regions.
    std::uint64_t per_region = values_per_region(a.value_bytes, a.region_bytes);
    std::uint64_t all = a.values + warmup_values(a);
    std::uint64_t regions = (all + per_region - 1) / per_region + 2;
    file_bytes = kvtier::kPageSize + regions * a.region_bytes;
  }
  c.devices.push_back({file, file_bytes});
  return c;
}

std::string file_path(const Args& a) {
  if (!a.file.empty()) return a.file;
  return (std::filesystem::path(a.dir) / "nvme" / "kvtier-bench.dat").string();
}

// Memory the gets read into. How it is backed decides, on a virtual disk, how large the block
// requests can be: a request holds at most max_segments (254 on virtio-blk) physically contiguous
// runs, so 4 MiB read into scattered 4 KiB pages is cut into requests of about 1 MiB or less,
// while 4 MiB into contiguous memory can go as one request. The modes:
//   fio:     an anonymous mapping left untouched, so the kernel faults its pages in during the
//            first O_DIRECT reads -- what fio does with its default buffers (iomem=malloc) in a
//            read job. The like-for-like mode for the comparison with default fio.
//   touched: the same, written once before the clock starts.
//   thp:     2 MiB-aligned with madvise(MADV_HUGEPAGE), written before the clock starts.
//   hugetlb: MAP_HUGETLB (needs reserved huge pages, vm.nr_hugepages): the counterpart of fio
//            --iomem=shmhuge. Physically contiguous 2 MiB pages, like pinned client memory.
class DstMemory {
 public:
  DstMemory(const std::string& mode, std::uint64_t bytes) : mode_(mode) {
    const std::uint64_t huge = 2 * kMiB;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    if (mode == "fio" || mode == "touched") {
      len_ = bytes;
    } else if (mode == "thp") {
      len_ = bytes + 2 * huge;
    } else if (mode == "hugetlb") {
      len_ = (bytes + huge - 1) / huge * huge;
      flags |= MAP_HUGETLB;
    } else {
      die("--dst-memory must be fio, touched, thp or hugetlb");
    }
    void* p = ::mmap(nullptr, len_, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) {
      die("mmap of " + std::to_string(len_) + " bytes (" + mode + ") failed: " + std::strerror(errno) +
          (mode == "hugetlb" ? " (reserve huge pages: vm.nr_hugepages)" : ""));
    }
    map_ = static_cast<std::byte*>(p);
    base_ = map_;
    if (mode == "thp") {
      auto addr = reinterpret_cast<std::uintptr_t>(map_);
      base_ = reinterpret_cast<std::byte*>((addr + huge - 1) / huge * huge);
      if (::madvise(base_, bytes, MADV_HUGEPAGE) != 0) die(std::string("madvise(MADV_HUGEPAGE): ") + std::strerror(errno));
    }
    if (mode != "fio") std::memset(base_, 0, bytes);
  }
  ~DstMemory() { ::munmap(map_, len_); }
  DstMemory(const DstMemory&) = delete;
  DstMemory& operator=(const DstMemory&) = delete;
  std::span<std::byte> span(std::uint64_t offset, std::uint64_t size) const { return {base_ + offset, size}; }
  std::string describe() const {
    if (mode_ == "fio") return "fio (anonymous mapping, pages first touched by the reads, like fio's buffers)";
    if (mode_ == "touched") return "touched (anonymous mapping, written before timing)";
    if (mode_ == "thp") return "thp (2 MiB transparent huge pages via madvise, written before timing)";
    return "hugetlb (2 MiB reserved huge pages, written before timing)";
  }

 private:
  std::string mode_;
  std::byte* map_ = nullptr;
  std::byte* base_ = nullptr;
  std::uint64_t len_ = 0;
};

void print_counters(kvtier::nvme::NvmeTier& tier) {
  std::map<std::string, double> c;
  tier.visit_counters([&](std::string_view name, double v, kvtier::CounterKind) { c[std::string(name)] = v; });
  std::printf("  counters:");
  for (const char* n : {"nvme_inserts", "nvme_hits", "nvme_misses", "nvme_bytes_written", "nvme_bytes_read",
                        "nvme_direct_reads", "nvme_bounce_reads", "nvme_memory_reads",
                        "nvme_checksum_failures", "nvme_regions_reclaimed"}) {
    std::printf(" %s=%.0f", n + 5, c[n]);
  }
  std::printf("\n");
}

// GB/s of the block checksum (XXH3-64, as the tier links it) over one warm buffer of `bytes`: the
// CPU cost every NVMe read pays after its I/O has completed.
double checksum_gb_s(std::uint64_t bytes) {
  kvtier::AlignedBuffer b(bytes);
  std::memset(b.data(), 0x5a, b.size());
  std::uint64_t sink = 0;
  int reps = 0;
  auto t0 = Clock::now();
  do {
    b.data()[reps % b.size()] = std::byte(reps);
    sink += kvtier::block_checksum(b.span().first(bytes));
    ++reps;
  } while (Clock::now() - t0 < std::chrono::milliseconds(300));
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (sink == 42) std::printf(" ");
  return double(bytes) * reps / 1e9 / secs;
}

void print_ratio(const char* what, double mb_s, double fio_mb_s) {
  if (fio_mb_s > 0) {
    std::printf("%-28s kvtier %9.1f MB/s   fio %9.1f MB/s   ratio %5.1f%%\n", what, mb_s, fio_mb_s,
                100.0 * mb_s / fio_mb_s);
    std::printf("RESULT %s mb_s=%.1f fio_mb_s=%.1f ratio=%.4f\n", what, mb_s, fio_mb_s, mb_s / fio_mb_s);
  } else {
    std::printf("%-28s kvtier %9.1f MB/s   (no fio reference given)\n", what, mb_s);
    std::printf("RESULT %s mb_s=%.1f\n", what, mb_s);
  }
}

int run_put(const Args& a) {
  kvtier::NvmeConfig cfg = tier_config(a, file_path(a));
  if (a.print_geometry) {
    std::printf("%" PRIu64 "\n", cfg.devices[0].size_bytes);
    return 0;
  }
  std::error_code ec;
  // Never delete what is not ours: D/nvme may only hold this bench's files.
  const std::filesystem::path nvme_dir = std::filesystem::path(a.dir) / "nvme";
  if (std::filesystem::exists(nvme_dir, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(nvme_dir, ec)) {
      std::string name = e.path().filename().string();
      if (name != "kvtier-bench.dat" && name != "index.ckpt" && name != "index.ckpt.tmp" &&
          (a.file.empty() || e.path() != std::filesystem::path(a.file))) {
        die(nvme_dir.string() + " holds " + name + ", which is not this benchmark's; use a dedicated --dir");
      }
    }
  }
  if (a.file.empty()) std::filesystem::remove_all(nvme_dir, ec);
  std::filesystem::remove(std::filesystem::path(a.dir) / "nvme" / "index.ckpt", ec);
  std::filesystem::create_directories(std::filesystem::path(a.dir) / "nvme", ec);
  if (ec) die("cannot create " + a.dir + "/nvme: " + ec.message());
  struct stat st {};
  if (!a.file.empty() && ::stat(a.file.c_str(), &st) == 0) {
    if (static_cast<std::uint64_t>(st.st_size) < cfg.devices[0].size_bytes) {
      die(a.file + " is smaller than the " + std::to_string(cfg.devices[0].size_bytes) + " bytes needed");
    }
    cfg.devices[0].size_bytes = static_cast<std::uint64_t>(st.st_size);
    cfg.format_foreign_devices = true;
    // Clear a superblock an earlier run left, so the tier is always formatted afresh.
    int fd = ::open(a.file.c_str(), O_WRONLY);
    std::vector<char> zeros(kvtier::kPageSize, 0);
    if (fd < 0 || ::pwrite(fd, zeros.data(), zeros.size(), 0) != static_cast<ssize_t>(zeros.size()) ||
        ::fsync(fd) != 0) {
      die("cannot clear the first page of " + a.file);
    }
    ::close(fd);
  }
  auto t_open = Clock::now();
  auto opened = kvtier::nvme::NvmeTier::open(cfg, a.dir);
  if (!opened.ok()) die("open: " + opened.status().to_string());
  std::unique_ptr<kvtier::nvme::NvmeTier> tier = std::move(opened).value();
  double open_s = std::chrono::duration<double>(Clock::now() - t_open).count();

  // A few distinct random sources; each put stamps its index into the first 8 bytes, so every
  // value (and checksum) differs.
  constexpr int kSources = 8;
  std::vector<kvtier::AlignedBuffer> src;
  std::mt19937_64 rng(a.seed);
  for (int s = 0; s < kSources; ++s) {
    src.emplace_back(a.value_bytes);
    auto* w = reinterpret_cast<std::uint64_t*>(src.back().data());
    for (std::size_t j = 0; j < src.back().size() / 8; ++j) w[j] = rng();
  }
  std::printf("nvme_tier_bench put: %" PRIu64 " values x %" PRIu64 " B = %.2f GiB, region %" PRIu64
              " MiB, write_io %" PRIu64 " KiB, io_depth %u, write_buffers %u, file %.2f GiB (open+format %.2f s)\n",
              a.values, a.value_bytes, double(a.values * a.value_bytes) / double(kGiB), a.region_bytes / kMiB,
              a.write_io_bytes / 1024, a.qd, a.write_buffers, double(cfg.devices[0].size_bytes) / double(kGiB),
              open_s);

  // Warm-up under keys values.. (untimed), flushed so the timed part starts with an idle device.
  const std::uint64_t warm = warmup_values(a);
  auto tw = Clock::now();
  for (std::uint64_t i = a.values; i < a.values + warm; ++i) {
    kvtier::AlignedBuffer& b = src[i % kSources];
    std::memcpy(b.data(), &i, sizeof i);
    kvtier::Status s = tier->put({kvtier::kDefaultNamespace, numbered_key(i, 7)}, b.span().first(a.value_bytes));
    if (!s.ok()) die("warm-up put " + std::to_string(i) + ": " + s.to_string());
  }
  if (kvtier::Status s = tier->flush(); !s.ok()) die("flush: " + s.to_string());
  std::printf("  warm-up: %" PRIu64 " values in %.2f s (not timed)\n", warm,
              std::chrono::duration<double>(Clock::now() - tw).count());

  // --progress 1: MB/s written to the device in every 100 ms (from the nvme_bytes_written counter).
  std::atomic<bool> done{false};
  std::thread sampler;
  std::string timeline;
  auto t0 = Clock::now();
  if (a.progress) {
    sampler = std::thread([&] {
      double last = 0;
      for (int tick = 1; !done.load(); ++tick) {
        std::this_thread::sleep_until(t0 + std::chrono::milliseconds(100 * tick));
        double now = 0;
        tier->visit_counters([&](std::string_view n, double v, kvtier::CounterKind) {
          if (n == "nvme_bytes_written") now = v;
        });
        if (tick > 1) timeline += std::to_string(static_cast<int>((now - last) / 1e5)) + " ";
        last = now;
      }
    });
  }
  for (std::uint64_t i = 0; i < a.values; ++i) {
    kvtier::AlignedBuffer& b = src[i % kSources];
    std::memcpy(b.data(), &i, sizeof i);
    kvtier::Status s = tier->put({kvtier::kDefaultNamespace, numbered_key(i, 7)}, b.span().first(a.value_bytes));
    if (!s.ok()) die("put " + std::to_string(i) + ": " + s.to_string());
  }
  auto t_puts = Clock::now();
  kvtier::Status fs = tier->flush();
  if (!fs.ok()) die("flush: " + fs.to_string());
  auto t_flushed = Clock::now();
  if (sampler.joinable()) {
    done = true;
    sampler.join();
    std::printf("  device MB/s per 100 ms (written bytes, from the first 100 ms on): %s\n", timeline.c_str());
  }
  if (tier->entry_count() != a.values + warm) die("entry count " + std::to_string(tier->entry_count()));
  print_counters(*tier);
  kvtier::Status cs = tier->close();
  if (!cs.ok()) die("close: " + cs.to_string());

  double bytes = double(a.values) * double(a.value_bytes);
  double puts_s = std::chrono::duration<double>(t_puts - t0).count();
  double total_s = std::chrono::duration<double>(t_flushed - t0).count();
  std::printf("  puts returned after %.3f s (%.1f MB/s); flush()+fdatasync done after %.3f s\n", puts_s,
              bytes / 1e6 / puts_s, total_s);
  print_ratio("nvme_put", bytes / 1e6 / total_s, a.fio_mb_s);
  return 0;
}

int run_get(const Args& a) {
  kvtier::NvmeConfig cfg = tier_config(a, file_path(a));
  // Reopen with the geometry the put run used: the file is already there at its size.
  struct stat st {};
  if (::stat(file_path(a).c_str(), &st) != 0) die("no tier file at " + file_path(a) + "; run put first");
  cfg.devices[0].size_bytes = static_cast<std::uint64_t>(st.st_size);
  auto opened = kvtier::nvme::NvmeTier::open(cfg, a.dir);
  if (!opened.ok()) die("open: " + opened.status().to_string());
  std::unique_ptr<kvtier::nvme::NvmeTier> tier = std::move(opened).value();
  if (tier->recovery_info().mode != kvtier::nvme::RecoveryMode::kCheckpoint) {
    die("expected a warm restart from the checkpoint the put run wrote");
  }
  const std::uint64_t n = tier->entry_count();
  if (n == 0) die("the tier is empty");
  // Size of every value: take it from the index (all values have the same size).
  std::optional<std::uint32_t> vs = tier->value_size({kvtier::kDefaultNamespace, numbered_key(0, 7)});
  if (!vs) die("key 0 is not in the tier");
  const std::uint64_t value_bytes = *vs;
  std::printf("nvme_tier_bench get: %" PRIu64 " values x %" PRIu64 " B, random batches of %u (get_many), "
              "%u thread(s), %.0f s\n", n, value_bytes, a.qd, a.threads, a.seconds);

  std::atomic<std::uint64_t> total_bytes{0}, total_gets{0}, failures{0}, live_bytes{0};
  std::atomic<bool> stop{false};
  // Destination buffers: 4 KiB-aligned slices of one anonymous mapping (see DstMemory).
  const std::uint64_t slot = kvtier::round_up_to_page(value_bytes);
  DstMemory mem(a.dst_memory, std::uint64_t{a.threads} * a.qd * slot);
  std::printf("  destination memory: %s\n", mem.describe().c_str());
  auto worker = [&](std::uint32_t t) {
    std::mt19937_64 rng(a.seed + t);
    std::uniform_int_distribution<std::uint64_t> pick(0, n - 1);
    std::vector<std::span<std::byte>> dst;
    for (std::uint32_t q = 0; q < a.qd; ++q) dst.push_back(mem.span((std::uint64_t{t} * a.qd + q) * slot, value_bytes));
    std::vector<kvtier::GetItem> items(a.qd);
    std::vector<kvtier::GetResult> out(a.qd);
    std::vector<std::uint64_t> which(a.qd);
    std::uint64_t gets = 0, bad = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (std::uint32_t q = 0; q < a.qd; ++q) {
        which[q] = pick(rng);
        items[q] = {numbered_key(which[q], 7), dst[q]};
      }
      tier->get_many(kvtier::kDefaultNamespace, items, out, kvtier::engine::ReadFor::kClient);
      for (std::uint32_t q = 0; q < a.qd; ++q) {
        std::uint64_t stamp;
        std::memcpy(&stamp, dst[q].data(), sizeof stamp);
        if (!out[q].status.ok() || out[q].size != value_bytes || stamp != which[q]) {
          ++bad;
        } else {
          live_bytes.fetch_add(value_bytes, std::memory_order_relaxed);
        }
      }
      gets += a.qd;
    }
    total_gets += gets;
    failures += bad;
  };
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (std::uint32_t t = 0; t < a.threads; ++t) threads.emplace_back(worker, t);
  if (a.progress) {
    std::uint64_t last = 0;
    for (int sec = 0; sec < static_cast<int>(a.seconds); ++sec) {
      std::this_thread::sleep_until(t0 + std::chrono::seconds(sec + 1));
      std::uint64_t now = live_bytes.load();
      std::fprintf(stderr, "%.0f ", double(now - last) / 1e6);
      last = now;
    }
    std::fprintf(stderr, "\n");
  } else {
    std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  }
  stop = true;
  for (auto& th : threads) th.join();
  total_bytes = live_bytes.load();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  print_counters(*tier);
  const double xxh = checksum_gb_s(value_bytes);
  std::printf("  block_checksum (XXH3) of one %" PRIu64 " B value: %.1f GB/s on this CPU, i.e. %.2f ms per value\n",
              value_bytes, xxh, double(value_bytes) / 1e6 / xxh);
  if (failures.load() != 0) die(std::to_string(failures.load()) + " gets failed or returned wrong bytes");
  std::printf("  %" PRIu64 " gets, %.2f GiB in %.2f s\n", total_gets.load(), double(total_bytes.load()) / double(kGiB),
              secs);
  print_ratio("nvme_randget", double(total_bytes.load()) / 1e6 / secs, a.fio_mb_s);
  kvtier::Status cs = tier->close();
  if (!cs.ok()) die("close: " + cs.to_string());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  kvtier::bench::program_name() = "nvme_tier_bench";
  Args a = parse_args(argc, argv);
  return a.mode == "put" ? run_put(a) : run_get(a);
}
