// NvmeTier against real files with O_DIRECT and io_uring: round trips, reclaim, reinsertion,
// warm restart, crash recovery after SIGKILL, corruption, full disk, bad config, admission.
#include "nvme/nvme_tier.h"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "memory/aligned_buffer.h"
#include "nvme/nvme_test_support.h"
#include "support/aliased_keys.h"
#include "support/child_process.h"
#include "support/test_support.h"

namespace kvtier::nvme {
namespace {

using kvtier::testing::small_nvme_config;
using kvtier::testing::counter_value;
using kvtier::testing::fill_pattern;
using kvtier::testing::matches_pattern;
using kvtier::testing::pattern;
using kvtier::testing::TempDir;
using kvtier::testing::test_key;

std::unique_ptr<NvmeTier> open_tier(const NvmeConfig& c, const std::string& dir) {
  Result<std::unique_ptr<NvmeTier>> t = NvmeTier::open(c, dir);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? std::move(t).value() : nullptr;
}

// Reads key n (of `size` bytes) into an aligned buffer and checks it byte for byte.
::testing::AssertionResult reads_back(NvmeTier& t, std::uint64_t n, std::size_t size, bool aligned = true) {
  AlignedBuffer buf(size + kPageSize);
  std::span<std::byte> dst = aligned ? buf.span().first(size) : buf.span().subspan(8, size);
  GetResult r = t.get({0, test_key(n)}, dst);
  if (!r.status.ok()) return ::testing::AssertionFailure() << "key " << n << ": " << r.status.to_string();
  if (r.size != size) return ::testing::AssertionFailure() << "key " << n << ": size " << r.size;
  if (!matches_pattern(dst.first(size), test_key(n))) return ::testing::AssertionFailure() << "key " << n << ": wrong bytes";
  return ::testing::AssertionSuccess();
}

Status put_n(NvmeTier& t, std::uint64_t n, std::size_t size) {
  std::vector<std::byte> v = pattern(test_key(n), size);
  return t.put({0, test_key(n)}, v);
}

TEST(NvmeTier, RoundTripOfOddSizesFromMemoryAndFromDevice) {
  TempDir dir;
  auto t = open_tier(small_nvme_config(), dir.path());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kFresh);
  const std::size_t sizes[] = {1, 100, 4096, 5000, 8192, 65536 + 17, 300000};
  for (std::size_t i = 0; i < std::size(sizes); ++i) ASSERT_TRUE(put_n(*t, i, sizes[i]).ok());
  // Still in the open region's buffer.
  for (std::size_t i = 0; i < std::size(sizes); ++i) EXPECT_TRUE(reads_back(*t, i, sizes[i]));
  EXPECT_GT(counter_value(*t, "nvme_memory_reads"), 0);
  ASSERT_TRUE(t->flush().ok());
  // Force the region out of memory by filling two more regions.
  for (std::uint64_t n = 100; n < 100 + 24; ++n) ASSERT_TRUE(put_n(*t, n, 100000).ok());
  ASSERT_TRUE(t->flush().ok());
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    EXPECT_TRUE(reads_back(*t, i, sizes[i], /*aligned=*/true));
    EXPECT_TRUE(reads_back(*t, i, sizes[i], /*aligned=*/false));
  }
  EXPECT_GT(counter_value(*t, "nvme_direct_reads"), 0);
  EXPECT_GT(counter_value(*t, "nvme_bounce_reads"), 0);
  EXPECT_EQ(counter_value(*t, "nvme_checksum_failures"), 0);
}

// The write-queue gauges: region buffers in all, free ones, regions waiting for the flusher. A
// flushed tier has nothing queued and every buffer free but (at most) the open region's.
TEST(NvmeTier, WriteQueueGaugesAreEmptyAfterAFlush) {
  TempDir dir;
  auto t = open_tier(small_nvme_config(), dir.path());
  ASSERT_TRUE(t);
  const double buffers = counter_value(*t, "nvme_write_buffers");
  EXPECT_GE(buffers, 2);
  EXPECT_EQ(counter_value(*t, "nvme_free_write_buffers"), buffers);
  for (std::uint64_t n = 0; n < 30; ++n) ASSERT_TRUE(put_n(*t, n, 100000).ok());  // ~3 regions
  ASSERT_TRUE(t->flush().ok());
  EXPECT_EQ(counter_value(*t, "nvme_write_queue_regions"), 0);
  EXPECT_GE(counter_value(*t, "nvme_free_write_buffers"), buffers - 1);
  EXPECT_LE(counter_value(*t, "nvme_free_write_buffers"), buffers);
}

// The store's own reads (uploads to the shared tier) return the same verified bytes but count no
// hit or miss: hit counts are what clients read (and what reinsertion at reclaim goes by).
TEST(NvmeTier, TheStoresOwnReadsCountNoHitOrMiss) {
  TempDir dir;
  auto t = open_tier(small_nvme_config(), dir.path());
  ASSERT_TRUE(t);
  ASSERT_TRUE(put_n(*t, 1, 100000).ok());
  for (bool on_device : {false, true}) {
    SCOPED_TRACE(on_device ? "on the device" : "in the region buffer");
    if (on_device) {  // fill two more regions so the first is read from the device
      for (std::uint64_t n = 100; n < 124; ++n) ASSERT_TRUE(put_n(*t, n, 100000).ok());
      ASSERT_TRUE(t->flush().ok());
    }
    const double hits = counter_value(*t, "nvme_hits");
    const double misses = counter_value(*t, "nvme_misses");
    AlignedBuffer buf(100000 + kPageSize);
    GetResult r =
        t->get({0, test_key(1)}, buf.span().first(100000), engine::ReadFor::kStoreInternal);
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    EXPECT_TRUE(matches_pattern(buf.span().first(100000), test_key(1)));
    EXPECT_TRUE(
        t->get({0, test_key(999)}, buf.span(), engine::ReadFor::kStoreInternal).status.is_not_found());
    EXPECT_EQ(counter_value(*t, "nvme_hits"), hits);
    EXPECT_EQ(counter_value(*t, "nvme_misses"), misses);
    EXPECT_TRUE(reads_back(*t, 1, 100000));  // a client's read counts
    EXPECT_EQ(counter_value(*t, "nvme_hits"), hits + 1);
  }
}

// The caller's buffer may be a client's shared memory that the client writes while the value is
// read into it (a client that timed out and reused it). A checksum that fails over that buffer
// does not condemn the entry: it is read again into the tier's own memory and judged there.
TEST(NvmeTier, AClientWritingTheBufferDuringADirectReadDropsNoEntry) {
  if (kvtier::testing::kUnderSanitizer) {
    GTEST_SKIP() << "the race with a thread playing the client is the point of this test";
  }
  TempDir dir;
  auto t = open_tier(small_nvme_config(), dir.path());
  ASSERT_TRUE(t);
  constexpr std::size_t kSize = 256 * 1024;
  ASSERT_TRUE(put_n(*t, 1, kSize).ok());
  // Out of the region buffer: fill the region, then flush.
  for (std::uint64_t n = 10; n < 20; ++n) ASSERT_TRUE(put_n(*t, n, 200000).ok());
  ASSERT_TRUE(t->flush().ok());
  AlignedBuffer buf(kSize);
  kvtier::testing::Scribbler scribbler(buf.span());
  for (int i = 0; i < 20; ++i) {
    GetResult r = t->get({0, test_key(1)}, buf.span());
    ASSERT_TRUE(r.status.ok()) << i << ": " << r.status.to_string();
    ASSERT_TRUE(t->contains({0, test_key(1)})) << "dropped at read " << i;
  }
  scribbler.stop();
  EXPECT_GT(counter_value(*t, "nvme_rereads"), 0);
  EXPECT_EQ(counter_value(*t, "nvme_checksum_failures"), 0);
  EXPECT_TRUE(reads_back(*t, 1, kSize));
}

// No memory for a bounce buffer (a read into a caller's buffer that is not page-aligned) is a miss
// that says why and keeps the entry: nothing was read, so nothing can be judged.
// A put from memory a client may still write (PUT_MANY_SHM when DRAM cannot take the value) is
// checksummed over the tier's copy: whatever the client did meanwhile, the entry is consistent and
// is served, not dropped when first read from the device (before: checksum of the source, then a
// copy of changed bytes).
TEST(NvmeTier, APutFromClientMemoryIsChecksummedOverTheCopy) {
  if (kvtier::testing::kUnderSanitizer) {
    GTEST_SKIP() << "the race with a thread playing the client is the point of this test";
  }
  TempDir dir;
  auto t = open_tier(small_nvme_config(), dir.path());
  ASSERT_TRUE(t);
  constexpr std::size_t kSize = 256 * 1024;
  std::vector<std::byte> source(kSize);
  {
    kvtier::testing::Scribbler scribbler(source);
    for (std::uint64_t n = 0; n < 12; ++n) {
      ASSERT_TRUE(t->put({0, test_key(n)}, source, NvmeTier::ValueFrom::kClientMemory).ok());
    }
  }
  for (std::uint64_t n = 100; n < 110; ++n) ASSERT_TRUE(put_n(*t, n, 200000).ok());
  ASSERT_TRUE(t->flush().ok());
  AlignedBuffer buf(kSize);
  for (std::uint64_t n = 0; n < 12; ++n) {
    GetResult r = t->get({0, test_key(n)}, buf.span());
    EXPECT_TRUE(r.status.ok()) << n << ": " << r.status.to_string();
  }
  EXPECT_EQ(counter_value(*t, "nvme_checksum_failures"), 0);
}

// Crash recovery scans the device in windows, so the memory it needs does not grow with the
// number of regions: 16,384 regions of 1 MiB (a sparse 16 GiB file) are scanned under an address
// space limit of 96 MiB above what the process had. (727dc88 took 8 KiB per region in one buffer,
// 128 MiB here, and could not restart; on a 4 TB device of 1 MiB regions it would want 32 GiB.)
TEST(NvmeTier, ACrashScanOfManyRegionsNeedsBoundedMemory) {
  if (kvtier::testing::kUnderSanitizer) GTEST_SKIP() << "RLIMIT_AS does not work under a sanitizer";
  TempDir dir;
  NvmeConfig c = small_nvme_config();
  const std::string device = dir.file("device.dat");
  const std::uint64_t bytes = kPageSize + 16384 * c.region_size;
  {
    const int fd = ::open(device.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(bytes)), 0);  // sparse: no blocks
    ::close(fd);
  }
  c.default_file_bytes = 0;
  c.devices = {{device, bytes}};
  c.format_foreign_devices = true;
  {
    auto t = open_tier(c, dir.path());
    ASSERT_TRUE(t);
    for (std::uint64_t i = 0; i < 6; ++i) ASSERT_TRUE(put_n(*t, i, 300 * 1024).ok());
    ASSERT_TRUE(t->close().ok());
  }
  ASSERT_TRUE(std::filesystem::remove(dir.path() + "/nvme/index.ckpt"));  // as after a crash
  pid_t pid = ::fork();
  if (pid == 0) {
    ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    std::ifstream statm("/proc/self/statm");
    std::uint64_t vm_pages = 0;
    statm >> vm_pages;
    rlimit lim{vm_pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) + 96 * kMiB, RLIM_INFINITY};
    if (::setrlimit(RLIMIT_AS, &lim) != 0) ::_exit(5);
    auto t = NvmeTier::open(c, dir.path());
    if (!t.ok()) {
      std::fprintf(stderr, "open: %s\n", t.status().to_string().c_str());
      ::_exit(10);
    }
    if ((*t)->recovery_info().mode != RecoveryMode::kScan) ::_exit(11);
    for (std::uint64_t i = 0; i < 6; ++i) {
      if (!reads_back(**t, i, 300 * 1024)) ::_exit(12);
    }
    ::_exit(0);
  }
  EXPECT_EQ(kvtier::testing::child_exit_code(pid), 0) << "10: the scan could not run in the limit; 11: no scan; 12: lost";
}

TEST(NvmeTier, NoMemoryForABounceBufferIsAMissThatKeepsTheEntry) {
  if (kvtier::testing::kUnderSanitizer) GTEST_SKIP() << "RLIMIT_AS does not work under a sanitizer";
  TempDir dir;
  pid_t pid = ::fork();
  if (pid == 0) {
    // Large allocations from fresh mappings (the limit below), not from heap the test process
    // freed earlier.
    ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    ::malloc_trim(0);
    NvmeConfig c = small_nvme_config();
    c.region_size = 8 * kMiB;
    c.default_file_bytes = kPageSize + 4 * c.region_size;
    auto t = NvmeTier::open(c, dir.path());
    if (!t.ok()) ::_exit(2);
    constexpr std::size_t kSize = 6 * kMiB;
    for (std::uint64_t i = 0; i < 3; ++i) {  // 1 fills a region alone: sealed and written
      if (!put_n(**t, i, kSize).ok()) ::_exit(3);
    }
    if (!(*t)->flush().ok()) ::_exit(4);
    std::vector<std::byte> buf(kSize + 64);
    std::span<std::byte> unaligned(buf.data() + 8, kSize);
    std::ifstream statm("/proc/self/statm");
    std::uint64_t vm_pages = 0;
    statm >> vm_pages;
    // Room for small allocations, not for a 6 MiB bounce buffer.
    rlimit lim{vm_pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) + 2 * kMiB, RLIM_INFINITY};
    if (::setrlimit(RLIMIT_AS, &lim) != 0) ::_exit(5);
    // Heap the test process freed earlier is inside the limit: take it all, then give back a
    // little for the read's small allocations (too little for the bounce buffer).
    std::vector<void*> hog;
    for (void* p; hog.size() < 4096 && (p = std::malloc(512 * 1024)) != nullptr;) hog.push_back(p);
    for (int i = 0; i < 2 && !hog.empty(); ++i) {
      std::free(hog.back());
      hog.pop_back();
    }
    GetResult r = (*t)->get({0, test_key(0)}, unaligned);
    for (void* p : hog) std::free(p);
    std::fprintf(stderr, "get without memory: %s\n", r.status.to_string().c_str());
    if (!r.status.is_not_found()) ::_exit(10);
    if (r.status.message().find("bounce") == std::string::npos) ::_exit(11);
    if (!(*t)->contains({0, test_key(0)})) ::_exit(12);
    lim.rlim_cur = RLIM_INFINITY;
    if (::setrlimit(RLIMIT_AS, &lim) != 0) ::_exit(6);
    r = (*t)->get({0, test_key(0)}, unaligned);
    if (!r.status.ok() || !matches_pattern(unaligned, test_key(0))) ::_exit(13);
    ::_exit(0);
  }
  EXPECT_EQ(kvtier::testing::child_exit_code(pid), 0)
      << "10/11: not a miss that says why; 12: the entry was dropped; 13: no read after";
}

using kvtier::testing::alias_727dc88;

// Two tenants, random puts, gets, removes, probes and presence checks over ids chosen to collide:
// each tenant's own keys, the other tenant's keys under its namespace, and keys aliased to the
// other's index slots under the old tag. Against a model of what each tenant stored: no presence,
// byte, removal or usage ever crosses from one namespace to the other, and a miss leaves the
// caller's buffer untouched. Reads come from region buffers and, after flushes, from the device.
// `regions` small enough makes regions be reclaimed (with hot entries reinserted) all along: a
// block may then be gone, but what is there is still exactly the newest bytes its own tenant put,
// and each namespace's usage is exactly what it still holds.
void run_two_tenants_on_aliased_keys(std::uint64_t regions, bool expect_reclaim) {
  TempDir dir;
  NvmeConfig c = small_nvme_config(regions);
  c.reinsert_min_hits = 1;
  auto t = open_tier(c, dir.path());
  ASSERT_TRUE(t);
  const NamespaceId ns[2] = {0x1234, 0xBEEF};
  std::vector<BlockId> ids;
  for (std::uint64_t i = 0; i < 48; ++i) {
    const Key k = test_key(i);
    ids.push_back({ns[0], k});
    ids.push_back({ns[1], k});
    ids.push_back({ns[1], alias_727dc88(k, ns[0], ns[1])});
    ids.push_back({ns[0], alias_727dc88(k, ns[1], ns[0])});
  }
  struct Stored {
    std::uint32_t size;
    std::uint64_t version;
  };
  std::map<std::pair<NamespaceId, std::string>, Stored> model;  // put and not removed since
  auto model_key = [](const BlockId& id) {
    return std::make_pair(id.ns, std::string(reinterpret_cast<const char*>(id.key.bytes.data()), 16));
  };
  auto stamp = [](const BlockId& id, std::uint64_t version) {
    return version ^ (std::uint64_t{id.ns} << 40);
  };
  std::mt19937_64 rng(23);
  AlignedBuffer buf(8 * kPageSize);
  std::uint64_t version = 0, hits = 0, misses = 0;
  for (int op = 0; op < 6000; ++op) {
    const BlockId& id = ids[rng() % ids.size()];
    const auto it = model.find(model_key(id));
    switch (rng() % 5) {
      case 0:
      case 1: {  // put
        const auto size = static_cast<std::uint32_t>(1 + rng() % 6000);
        ++version;
        ASSERT_TRUE(t->put(id, pattern(id.key, size, stamp(id, version))).ok());
        model[model_key(id)] = Stored{size, version};
        break;
      }
      case 2: {  // get, into an aligned or an unaligned buffer filled with a marker
        std::span<std::byte> dst = (rng() % 2) ? buf.span().first(6000) : buf.span().subspan(8, 6000);
        std::memset(buf.data(), 0xEE, buf.size());
        GetResult r = t->get(id, dst);
        ASSERT_TRUE(r.status.ok() || r.status.is_not_found()) << op << ": " << r.status.to_string();
        if (r.status.ok()) {
          ++hits;
          ASSERT_NE(it, model.end()) << "op " << op << ": a block nobody put under this id";
          ASSERT_EQ(r.size, it->second.size);
          ASSERT_TRUE(matches_pattern(dst.first(r.size), id.key, stamp(id, it->second.version)))
              << "op " << op << ": another block's bytes, or an older version";
        } else {
          ++misses;
          ASSERT_TRUE(it == model.end() || expect_reclaim) << "op " << op << ": lost " << r.status.to_string();
          for (std::size_t b = 0; b < buf.size(); ++b) {
            ASSERT_EQ(buf.data()[b], std::byte{0xEE}) << "op " << op << ": a miss wrote byte " << b;
          }
        }
        break;
      }
      case 3: {  // remove
        Status s = t->remove(id);
        if (it == model.end()) {
          ASSERT_TRUE(s.is_not_found()) << op << ": " << s.to_string();
        } else {
          ASSERT_TRUE(s.ok() || expect_reclaim) << op << ": " << s.to_string();
          model.erase(it);
        }
        break;
      }
      default: {  // probe every pool key of one namespace, and presence
        const NamespaceId n = ns[rng() % 2];
        std::vector<Key> keys;
        for (const BlockId& x : ids) keys.push_back(x.key);
        std::vector<std::uint8_t> found(keys.size());
        t->probe(n, keys, found);
        for (std::size_t i = 0; i < keys.size(); ++i) {
          const bool stored = model.count(model_key(BlockId{n, keys[i]})) != 0;
          ASSERT_EQ(t->contains(BlockId{n, keys[i]}), found[i] == 1) << "op " << op;
          if (!expect_reclaim) {
            ASSERT_EQ(found[i] == 1, stored) << "op " << op << ": probe of pool key " << i;
          }
          if (!stored) {
            ASSERT_EQ(found[i], 0) << "op " << op << ": present, never put";
          }
        }
      }
    }
    if (op % 500 == 499) {
      ASSERT_TRUE(t->flush().ok());
    }
    if (op % 100 == 0) {  // usage: exactly what each namespace still holds
      for (NamespaceId n : ns) {
        NamespaceUsage want;
        for (const auto& [k, v] : model) {
          BlockId x;
          x.ns = k.first;
          std::memcpy(x.key.bytes.data(), k.second.data(), 16);
          if (k.first != n || !t->contains(x)) continue;
          ++want.blocks;
          want.bytes += v.size;
        }
        const NamespaceUsage got = t->namespace_usage(n);
        ASSERT_EQ(got.blocks, want.blocks) << "op " << op << " ns " << n;
        ASSERT_EQ(got.bytes, want.bytes) << "op " << op << " ns " << n;
      }
    }
  }
  EXPECT_EQ(counter_value(*t, "nvme_regions_reclaimed") > 0, expect_reclaim);
  if (expect_reclaim) {
    EXPECT_GT(counter_value(*t, "nvme_reinserted"), 0);
  }
  EXPECT_GT(hits, 200u);
  EXPECT_GT(misses, 200u);
  EXPECT_EQ(counter_value(*t, "nvme_header_mismatches"), 0);
  EXPECT_EQ(counter_value(*t, "nvme_checksum_failures"), 0);
}

TEST(NvmeTier, RandomOperationsOfTwoTenantsOnAliasedKeysNeverCross) {
  run_two_tenants_on_aliased_keys(/*regions=*/64, /*expect_reclaim=*/false);
}

TEST(NvmeTier, RandomOperationsOfTwoTenantsOnAliasedKeysNeverCrossThroughReclaims) {
  run_two_tenants_on_aliased_keys(/*regions=*/4, /*expect_reclaim=*/true);
}

TEST(NvmeTier, BufferTooSmallNamesTheSizeAndMissIsNotFound) {
  TempDir dir;
  auto t = open_tier(small_nvme_config(), dir.path());
  ASSERT_TRUE(put_n(*t, 1, 10000).ok());
  std::vector<std::byte> small(100);
  GetResult r = t->get({0, test_key(1)}, small);
  EXPECT_EQ(r.status.code(), StatusCode::kBufferTooSmall);
  EXPECT_EQ(r.size, 10000u);
  EXPECT_TRUE(t->get({0, test_key(2)}, small).status.is_not_found());
  EXPECT_TRUE(t->get({7, test_key(1)}, small).status.is_not_found()) << "namespaces must not alias";
}

TEST(NvmeTier, LargestValueFitsAndLargerIsTooLarge) {
  TempDir dir;
  auto t = open_tier(small_nvme_config(), dir.path());
  std::size_t max = t->max_value_bytes();
  // The region's start record, the entry's header page and a summary page.
  EXPECT_EQ(max, 1 * kMiB - 3 * kPageSize);
  ASSERT_TRUE(put_n(*t, 1, max).ok());
  EXPECT_TRUE(reads_back(*t, 1, max));
  EXPECT_EQ(put_n(*t, 2, max + 1).code(), StatusCode::kTooLarge);
}

TEST(NvmeTier, ReclaimKeepsEveryReadByteExactAndDropsOldest) {
  TempDir dir;
  NvmeConfig c = small_nvme_config(6);
  c.reinsert_min_hits = 0;
  auto t = open_tier(c, dir.path());
  const std::size_t size = 200000;  // 5 entries per 1 MiB region
  const std::uint64_t n = 200;      // far more than 6 regions hold
  for (std::uint64_t i = 0; i < n; ++i) ASSERT_TRUE(put_n(*t, i, size).ok()) << i;
  ASSERT_TRUE(t->flush().ok());
  EXPECT_GT(counter_value(*t, "nvme_regions_reclaimed"), 0);
  std::uint64_t present = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (!t->contains({0, test_key(i)})) continue;
    ++present;
    EXPECT_TRUE(reads_back(*t, i, size));
  }
  EXPECT_GT(present, 10u);
  EXPECT_LT(present, 6u * 5 + 1);
  EXPECT_TRUE(t->contains({0, test_key(n - 1)})) << "the newest entry must be there";
  EXPECT_FALSE(t->contains({0, test_key(0)})) << "FIFO reclaim drops the oldest";
  EXPECT_EQ(t->entry_count(), present);
  EXPECT_EQ(t->namespace_usage(0).blocks, present);
}

// A reclaimed region whose summary cannot be read cannot list its entries: they are found by a
// scan of the index and removed, so none is left pointing into the region's next generation
// (727dc88 left them, to be read over the next occupant's bytes).
TEST(NvmeTier, AReclaimWithAnUnreadableSummaryLeavesNoEntryBehind) {
  TempDir dir;
  NvmeConfig c = small_nvme_config(4);
  c.reinsert_min_hits = 0;
  const std::size_t size = 200000;  // 5 entries per 1 MiB region
  {
    auto t = open_tier(c, dir.path());
    ASSERT_TRUE(t);
    for (std::uint64_t i = 0; i < 7; ++i) ASSERT_TRUE(put_n(*t, i, size).ok());  // region 0 sealed
    ASSERT_TRUE(t->flush().ok());
    ASSERT_TRUE(t->close().ok());
  }
  // Damage region 0's summary trailer (the last 64 bytes of the region) on the device.
  {
    const std::string device = dir.path() + "/nvme/kvtier-nvme.dat";
    const int fd = ::open(device.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const std::vector<std::byte> junk(64, std::byte{0x5A});
    ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), static_cast<off_t>(kPageSize + c.region_size - 64)), 64);
    ::close(fd);
  }
  auto t = open_tier(c, dir.path());  // from the checkpoint: region 0's entries are indexed
  ASSERT_TRUE(t);
  ASSERT_EQ(t->recovery_info().mode, RecoveryMode::kCheckpoint);
  ASSERT_TRUE(t->contains({0, test_key(0)}));
  // Fill the device until region 0 is reclaimed and written again by other keys.
  for (std::uint64_t i = 100; i < 130; ++i) ASSERT_TRUE(put_n(*t, i, size).ok());
  ASSERT_TRUE(t->flush().ok());
  ASSERT_GT(counter_value(*t, "nvme_header_mismatches"), 0) << "the summary was read after all";
  std::uint64_t present = 0;
  for (std::uint64_t i : {0, 1, 2, 3, 4}) {
    EXPECT_FALSE(t->contains({0, test_key(i)})) << "entry " << i << " of the reclaimed region";
    AlignedBuffer buf(size);
    std::memset(buf.data(), 0xEE, buf.size());
    EXPECT_TRUE(t->get({0, test_key(i)}, buf.span()).status.is_not_found());
    for (std::size_t b = 0; b < buf.size(); ++b) ASSERT_EQ(buf.data()[b], std::byte{0xEE}) << i;
  }
  for (std::uint64_t i = 0; i < 130; ++i) {
    if (!t->contains({0, test_key(i)})) continue;
    ++present;
    EXPECT_TRUE(reads_back(*t, i, size)) << i;
  }
  EXPECT_EQ(t->namespace_usage(0).blocks, present);
}

TEST(NvmeTier, LruReclaimKeepsTheRegionThatIsRead) {
  TempDir dir;
  NvmeConfig c = small_nvme_config(6);
  c.reclaim = ReclaimPolicy::kLru;
  c.reinsert_min_hits = 0;  // survival must come from the region choice, not reinsertion
  auto t = open_tier(c, dir.path());
  const std::size_t size = 200000;
  ASSERT_TRUE(put_n(*t, 0, size).ok());  // lands in the first region
  for (std::uint64_t i = 1; i < 200; ++i) {
    ASSERT_TRUE(put_n(*t, i, size).ok());
    if (i % 3 == 0) {
      ASSERT_TRUE(reads_back(*t, 0, size)) << "after " << i;
    }
  }
  EXPECT_GT(counter_value(*t, "nvme_regions_reclaimed"), 5);
  EXPECT_EQ(counter_value(*t, "nvme_reinserted"), 0);
  EXPECT_TRUE(reads_back(*t, 0, size));
  // Block 1 shares block 0's region (LRU works on regions); block 7 is in the next one.
  EXPECT_TRUE(t->contains({0, test_key(1)}));
  EXPECT_FALSE(t->contains({0, test_key(7)}));

  // The same traffic under FIFO loses block 0 once its region is the oldest.
  TempDir dir2;
  c.reclaim = ReclaimPolicy::kFifo;
  auto f = open_tier(c, dir2.path());
  ASSERT_TRUE(put_n(*f, 0, size).ok());
  bool lost = false;
  for (std::uint64_t i = 1; i < 200 && !lost; ++i) {
    ASSERT_TRUE(put_n(*f, i, size).ok());
    if (i % 3 == 0) lost = !f->contains({0, test_key(0)});
  }
  EXPECT_TRUE(lost);
}

TEST(NvmeTier, SeveralDevicesShareTheRegionsAndRestart) {
  TempDir dir;
  NvmeConfig c = small_nvme_config();
  c.devices.push_back({dir.file("a.dat"), kPageSize + 3 * kMiB});
  c.devices.push_back({dir.file("b.dat"), kPageSize + 4 * kMiB});
  const std::size_t size = 150000;
  {
    auto t = open_tier(c, dir.path());
    for (std::uint64_t i = 0; i < 30; ++i) ASSERT_TRUE(put_n(*t, i, size).ok());
    ASSERT_TRUE(t->flush().ok());
    // Both files got entries: 30 blocks of ~150 KB need more than the 3 regions of a.dat.
    for (std::uint64_t i = 0; i < 30; ++i) EXPECT_TRUE(reads_back(*t, i, size));
    ASSERT_TRUE(t->close().ok());
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/nvme/kvtier-nvme.dat")) << "explicit devices only";
  auto t = open_tier(c, dir.path());
  EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kCheckpoint);
  for (std::uint64_t i = 0; i < 30; ++i) EXPECT_TRUE(reads_back(*t, i, size));
  // Swapping the devices' order is refused (DataDirDamage tests it), not read as another set.
  t.reset();
  std::swap(c.devices[0], c.devices[1]);
  auto swapped = NvmeTier::open(c, dir.path());
  ASSERT_FALSE(swapped.ok());
  EXPECT_NE(swapped.status().message().find("in the order they were formatted"), std::string::npos)
      << swapped.status().to_string();
}

TEST(NvmeTier, HotEntriesAreReinsertedWhenTheirRegionIsReclaimed) {
  TempDir dir;
  NvmeConfig c = small_nvme_config(6);
  c.reinsert_min_hits = 1;
  auto t = open_tier(c, dir.path());
  const std::size_t size = 200000;
  ASSERT_TRUE(put_n(*t, 0, size).ok());  // the hot block
  for (std::uint64_t i = 1; i < 300; ++i) {
    ASSERT_TRUE(put_n(*t, i, size).ok());
    if (i % 4 == 0) {
      ASSERT_TRUE(reads_back(*t, 0, size)) << "after " << i;
    }
  }
  EXPECT_GT(counter_value(*t, "nvme_reinserted"), 0);
  EXPECT_TRUE(reads_back(*t, 0, size));
  EXPECT_FALSE(t->contains({0, test_key(1)})) << "cold entries are not reinserted";
}

// Regression: a put arriving just as reclaim reinserts hot entries into the new region used to be
// appended past the room the reinsertion left, overwriting the summary or the buffer's end.
TEST(NvmeTier, PutAfterReinsertionStillFitsItsRegion) {
  // Exactly the room left after the start record and the reinserted entry; the largest value.
  for (std::size_t c_size : {std::size_t{(1024 - 4 - 304 - 4) * 1024}, std::size_t{1 * kMiB - 3 * kPageSize}}) {
    TempDir dir;
    NvmeConfig c = small_nvme_config(2);
    c.reinsert_min_hits = 1;
    auto t = open_tier(c, dir.path());
    ASSERT_TRUE(put_n(*t, 1, 300 * 1024).ok());
    ASSERT_TRUE(reads_back(*t, 1, 300 * 1024));     // hot: reinserted when its region goes
    ASSERT_TRUE(put_n(*t, 2, 800 * 1024).ok());     // seals region 0
    ASSERT_TRUE(put_n(*t, 3, c_size).ok());         // seals 1, reclaims 0, reinserts 1, appends 3
    EXPECT_TRUE(reads_back(*t, 3, c_size));
    ASSERT_TRUE(t->flush().ok());
    ASSERT_TRUE(put_n(*t, 4, 100 * 1024).ok());
    ASSERT_TRUE(t->flush().ok());
    EXPECT_TRUE(reads_back(*t, 3, c_size)) << c_size;
    EXPECT_EQ(counter_value(*t, "nvme_checksum_failures"), 0);
  }
}

// In a forked child that may then limit its file size: the tier on `dir` with keys 0..2 (300 KiB
// each, all of region 0) durable. _exits 2 to 4 when that fails.
std::unique_ptr<NvmeTier> child_tier_with_three_durable_blocks(const std::string& dir) {
  ::signal(SIGXFSZ, SIG_IGN);  // as kvtierd does: a write past the limit fails with EFBIG
  auto t = NvmeTier::open(small_nvme_config(), dir);
  if (!t.ok()) ::_exit(2);
  for (std::uint64_t i = 0; i < 3; ++i) {
    if (!put_n(**t, i, 300 * 1024).ok()) ::_exit(3);
  }
  if (!(*t)->flush().ok()) ::_exit(4);
  return std::move(t).value();
}

TEST(NvmeTier, AFailedRegionWriteFailsTheNextFlush) {
  TempDir dir;
  pid_t pid = ::fork();
  if (pid == 0) {
    std::unique_ptr<NvmeTier> t = child_tier_with_three_durable_blocks(dir.path());
    // From now on the file may not grow past 1 MiB + one page: region 1 cannot be written.
    rlimit lim{kMiB + kPageSize, RLIM_INFINITY};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    for (std::uint64_t i = 3; i < 7; ++i) (void)put_n(*t, i, 300 * 1024);  // seals region 0, fills 1
    (void)put_n(*t, 7, 900 * 1024);                                          // seals region 1
    Status f = t->flush();
    std::fprintf(stderr, "flush after a failed write: %s\n", f.to_string().c_str());
    if (f.ok()) ::_exit(10);
    // What an earlier flush made durable is still there.
    for (std::uint64_t i = 0; i < 3; ++i) {
      if (!reads_back(*t, i, 300 * 1024)) ::_exit(11);
    }
    ::_exit(0);
  }
  EXPECT_EQ(kvtier::testing::child_exit_code(pid), 0) << "10: flush hid the failure; 11: durable blocks lost";
}

// Every caller whose writes a failure may have dropped hears of it: flush(since) reports each
// failure after `since` to every caller that passes it (a durable put's persist), and flush()
// reports each once to its own callers (Store::flush), whoever else heard of it first. (Until
// the audit of 2026-12-07 the first caller of either took the failure, so a persist could hide
// it from a Store::flush whose blocks it dropped.)
// Flushes that arrive while a sync runs share the next one (group commit): eight callers, the
// first sync held until the seven others have asked, cost two syncs, and all eight answer OK
// with their puts readable.
TEST(NvmeTier, FlushesWaitingForOneSyncShareTheNext) {
  constexpr int kCallers = 8;
  TempDir dir;
  NvmeConfig c = small_nvme_config();
  c.flush_interval = std::chrono::milliseconds(0);  // no periodic writer: flushes sync alone
  auto t = open_tier(c, dir.path());
  ASSERT_TRUE(t);
  std::atomic<bool> first{true};
  t->TEST_on_sync([&] {
    if (!first.exchange(false)) return;
    // Held until every other caller has asked for a sync (10 s at most).
    for (int i = 0; i < 2000 && counter_value(*t, "nvme_sync_requests") < kCallers; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::vector<Status> answers(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      Status p = put_n(*t, static_cast<std::uint64_t>(i), 64 * kKiB);
      answers[static_cast<std::size_t>(i)] = p.ok() ? t->flush(t->failed_writes()) : p;
    });
  }
  for (std::thread& th : callers) th.join();
  for (std::size_t i = 0; i < answers.size(); ++i) {
    EXPECT_TRUE(answers[i].ok()) << answers[i].to_string();
    EXPECT_TRUE(reads_back(*t, i, 64 * kKiB)) << i;
  }
  EXPECT_EQ(counter_value(*t, "nvme_sync_requests"), kCallers);
  EXPECT_EQ(counter_value(*t, "nvme_syncs"), 2);
}

TEST(NvmeTier, AFailedRegionWriteIsReportedToEveryCallerItConcerns) {
  TempDir dir;
  pid_t pid = ::fork();
  if (pid == 0) {
    std::unique_ptr<NvmeTier> t = child_tier_with_three_durable_blocks(dir.path());
    const std::uint64_t before = t->failed_writes();
    rlimit lim{kMiB + kPageSize, RLIM_INFINITY};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    for (std::uint64_t i = 3; i < 7; ++i) (void)put_n(*t, i, 300 * 1024);
    (void)put_n(*t, 7, 900 * 1024);  // seals regions 1 and 2, whose writes fail
    std::uint64_t failed_now = 0;
    if (t->flush(before, &failed_now).ok()) ::_exit(10);
    if (failed_now <= before) ::_exit(11);
    lim.rlim_cur = RLIM_INFINITY;  // the disk recovers
    ::setrlimit(RLIMIT_FSIZE, &lim);
    if (t->flush(before).ok()) ::_exit(12);       // a second caller of the same mark hears it too
    if (!t->flush(failed_now).ok()) ::_exit(13);  // nothing failed after this mark
    if (t->flush().ok()) ::_exit(14);             // flush()'s callers hear it once
    if (!t->flush().ok()) ::_exit(15);
    ::_exit(0);
  }
  EXPECT_EQ(kvtier::testing::child_exit_code(pid), 0)
      << "10, 12, 14: a failure hidden; 11: not counted; 13, 15: reported again";
}

// A region whose write failed keeps, through a checkpoint, only the entries it wrote before the
// failure, readable with their region (recorded sealed without a summary); no entry may point
// into a region's next occupant (727dc88: entries of a region recorded free stayed, and an
// O_DIRECT read put that occupant's bytes in the caller's buffer before the header check). Every
// entry the restart keeps reads back exactly, also after every region is reused.
TEST(NvmeTier, ACheckpointKeepsNoEntryOfARegionThatFailedToWrite) {
  TempDir dir;
  pid_t pid = ::fork();
  if (pid == 0) {
    std::unique_ptr<NvmeTier> t = child_tier_with_three_durable_blocks(dir.path());
    // Region 1 can be written up to half-way: key 3 reaches the device with the open region,
    // the rest and the region's summary cannot.
    rlimit lim{kPageSize + kMiB + kMiB / 2, RLIM_INFINITY};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    if (!put_n(*t, 3, 300 * 1024).ok()) ::_exit(5);  // seals region 0, opens region 1
    if (!t->flush().ok()) ::_exit(6);               // key 3 is on the device
    for (std::uint64_t i = 4; i < 6; ++i) (void)put_n(*t, i, 300 * 1024);
    (void)put_n(*t, 7, 900 * 1024);  // seals region 1: its write fails past the limit
    if (t->flush().ok()) ::_exit(10);
    // flush() stops at the open region's failed write without waiting for the flusher: region
    // 1's own write must have failed before the disk recovers, or it would just succeed later.
    for (int i = 0; i < 1000 && counter_value(*t, "nvme_write_queue_regions") != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (counter_value(*t, "nvme_write_queue_regions") != 0) ::_exit(12);
    lim.rlim_cur = RLIM_INFINITY;  // the disk recovers: close() writes the rest and a checkpoint
    ::setrlimit(RLIMIT_FSIZE, &lim);
    for (int i = 0; i < 3 && !t->flush().ok(); ++i) {
    }  // failures queued before the recovery are reported once each
    Status c = t->close();
    std::fprintf(stderr, "close after the failed write: %s\n", c.to_string().c_str());
    ::_exit(c.ok() ? 0 : 11);
  }
  ASSERT_EQ(kvtier::testing::child_exit_code(pid), 0);
  auto t = open_tier(small_nvme_config(), dir.path());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kCheckpoint);
  for (std::uint64_t i = 0; i < 8; ++i) {
    if (!t->contains({0, test_key(i)})) continue;
    EXPECT_TRUE(reads_back(*t, i, i == 7 ? 900 * 1024 : 300 * 1024)) << "kept entry " << i;
  }
  // Key 3 was written before the failure (flush() said so): it stays, with its region (recorded
  // sealed without a summary).
  EXPECT_TRUE(reads_back(*t, 3, 300 * 1024)) << "an entry written before the failure was lost";
  for (std::uint64_t i = 0; i < 3; ++i) EXPECT_TRUE(t->contains({0, test_key(i)})) << i;
  // Reuse every region; nothing of the lost entries comes back, byte or entry.
  for (std::uint64_t n = 100; n < 160; ++n) ASSERT_TRUE(put_n(*t, n, 300 * 1024).ok());
  ASSERT_TRUE(t->flush().ok());
  for (std::uint64_t i = 3; i < 6; ++i) {
    AlignedBuffer buf(300 * 1024);
    std::memset(buf.data(), 0xEE, buf.size());
    GetResult r = t->get({0, test_key(i)}, buf.span());
    if (r.status.ok()) {
      EXPECT_TRUE(matches_pattern(buf.span().first(r.size), test_key(i))) << i;
      continue;
    }
    for (std::size_t b = 0; b < buf.size(); ++b) ASSERT_EQ(buf.data()[b], std::byte{0xEE}) << i;
  }
}

// flush() writing the open region itself fails (the file may not grow past one page + 100 KiB)
// and says so, and the failure is counted in nvme_write_errors like the background writers'.
TEST(NvmeTier, AFailedOpenRegionWriteInFlushIsCounted) {
  TempDir dir;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    NvmeConfig c = small_nvme_config();
    c.flush_interval = std::chrono::milliseconds(0);  // no background writer: flush() alone
    auto t = NvmeTier::open(c, dir.path());
    if (!t.ok()) ::_exit(2);
    rlimit lim{kPageSize + 100 * kKiB, RLIM_INFINITY};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    for (std::uint64_t i = 0; i < 3; ++i) {
      if (!put_n(**t, i, 300 * kKiB).ok()) ::_exit(3);  // all in region 0's buffer
    }
    if ((*t)->flush().ok()) ::_exit(10);
    if (counter_value(**t, "nvme_write_errors") != 1) ::_exit(11);
    ::_exit(0);
  }
  EXPECT_EQ(kvtier::testing::child_exit_code(pid), 0) << "10: flush hid the failure; 11: not counted once";
}

TEST(NvmeTier, WarmRestartFromCheckpoint) {
  TempDir dir;
  const std::size_t size = 50000;
  {
    auto t = open_tier(small_nvme_config(), dir.path());
    for (std::uint64_t i = 0; i < 60; ++i) ASSERT_TRUE(put_n(*t, i, size).ok());
    std::vector<std::byte> buf(size);
    ASSERT_TRUE(t->get({0, test_key(3)}, buf).status.ok());
    ASSERT_TRUE(t->remove({0, test_key(5)}).ok());
    ASSERT_TRUE(t->close().ok());
  }
  ASSERT_TRUE(std::filesystem::exists(dir.path() + "/nvme/index.ckpt"));
  {
    auto t = open_tier(small_nvme_config(), dir.path());
    EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kCheckpoint) << t->recovery_info().checkpoint_note;
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/nvme/index.ckpt"))
        << "a loaded checkpoint must be gone before writes resume";
    EXPECT_EQ(t->entry_count(), 59u);
    for (std::uint64_t i = 0; i < 60; ++i) {
      if (i == 5) {
        EXPECT_FALSE(t->contains({0, test_key(i)})) << "removal is kept across a clean restart";
      } else {
        EXPECT_TRUE(reads_back(*t, i, size));
      }
    }
    // New writes after the restart land in new regions and survive the next restart too.
    for (std::uint64_t i = 100; i < 110; ++i) ASSERT_TRUE(put_n(*t, i, size).ok());
    ASSERT_TRUE(t->close().ok());
  }
  auto t = open_tier(small_nvme_config(), dir.path());
  EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kCheckpoint);
  for (std::uint64_t i = 100; i < 110; ++i) EXPECT_TRUE(reads_back(*t, i, size));
  EXPECT_TRUE(reads_back(*t, 0, size));
}

TEST(NvmeTier, CorruptCheckpointFallsBackToScan) {
  TempDir dir;
  {
    auto t = open_tier(small_nvme_config(), dir.path());
    for (std::uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(put_n(*t, i, 30000).ok());
    ASSERT_TRUE(t->close().ok());
  }
  {
    std::fstream f(dir.path() + "/nvme/index.ckpt", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x5a');
  }
  auto t = open_tier(small_nvme_config(), dir.path());
  EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kScan);
  EXPECT_NE(t->recovery_info().checkpoint_note.find("checksum"), std::string::npos);
  for (std::uint64_t i = 0; i < 20; ++i) EXPECT_TRUE(reads_back(*t, i, 30000));
}

// The child writes blocks, flushing every `flush_every` and reporting through a pipe the highest
// block number made durable; the parent kills it with SIGKILL at a point of its choosing.
struct KilledWriter {
  std::uint64_t durable = 0;  // blocks [0, durable) were flushed before the kill
};

KilledWriter run_and_kill(const std::string& dir, const NvmeConfig& c, std::size_t size,
                          std::uint64_t flush_every, std::uint64_t kill_after_reports) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    auto t = NvmeTier::open(c, dir);
    if (!t.ok()) ::_exit(2);
    for (std::uint64_t i = 0; i < 100000; ++i) {
      std::vector<std::byte> v = pattern(test_key(i), size);
      if (!(*t)->put({0, test_key(i)}, v).ok()) ::_exit(3);
      if ((i + 1) % flush_every == 0) {
        if (!(*t)->flush().ok()) ::_exit(4);
        std::uint64_t durable = i + 1;
        if (::write(fds[1], &durable, sizeof durable) != sizeof durable) ::_exit(5);
      }
    }
    ::_exit(0);  // not reached in the tests: the parent kills first
  }
  ::close(fds[1]);
  KilledWriter w;
  for (std::uint64_t r = 0; r < kill_after_reports; ++r) {
    std::uint64_t d;
    if (::read(fds[0], &d, sizeof d) != sizeof d) break;
    w.durable = d;
  }
  ::kill(pid, SIGKILL);  // mid-write: the child is busy putting the next blocks
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
  // Drain reports that raced with the kill: they were durable too.
  std::uint64_t d;
  while (::read(fds[0], &d, sizeof d) == sizeof d) w.durable = d;
  ::close(fds[0]);
  return w;
}

// A child puts 3 blocks into the open region (no flush() call) and tells the parent, which waits
// `wait` and kills it. Returns how many of the blocks a reopened tier has.
int blocks_after_idle_kill(const NvmeConfig& c, std::chrono::milliseconds wait) {
  TempDir dir;
  const std::size_t size = 50000;
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    auto t = NvmeTier::open(c, dir.path());
    if (!t.ok()) ::_exit(2);
    for (std::uint64_t i = 0; i < 3; ++i) {
      if (!put_n(**t, i, size).ok()) ::_exit(3);
    }
    char done = 1;
    if (::write(fds[1], &done, 1) != 1) ::_exit(5);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  char done = 0;
  EXPECT_EQ(::read(fds[0], &done, 1), 1);
  ::close(fds[0]);
  std::this_thread::sleep_for(wait);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  auto t = open_tier(c, dir.path());
  if (!t) return -1;
  int found = 0;
  for (std::uint64_t i = 0; i < 3; ++i) found += reads_back(*t, i, size) ? 1 : 0;
  return found;
}

TEST(NvmeTier, OpenRegionIsWrittenOutWithinTheFlushInterval) {
  NvmeConfig c = small_nvme_config();
  c.flush_interval = std::chrono::milliseconds(50);
  // 2 s is 40 intervals: the writer thread has run long before the kill.
  EXPECT_EQ(blocks_after_idle_kill(c, std::chrono::seconds(2)), 3);
  // Without it, entries of a region that has not filled live only in memory.
  c.flush_interval = std::chrono::milliseconds(0);
  EXPECT_EQ(blocks_after_idle_kill(c, std::chrono::seconds(0)), 0);
}

TEST(NvmeTier, SigkillMidWriteKeepsEveryFlushedBlockAndReturnsOnlyExactBytes) {
  TempDir dir;
  NvmeConfig c = small_nvme_config(40);
  const std::size_t size = 70000;
  KilledWriter w = run_and_kill(dir.path(), c, size, /*flush_every=*/7, /*kill_after_reports=*/20);
  ASSERT_GT(w.durable, 0u);
  auto t = open_tier(c, dir.path());
  EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kScan);
  for (std::uint64_t i = 0; i < w.durable; ++i) EXPECT_TRUE(reads_back(*t, i, size)) << "durable block lost";
  // Anything past the last flush may or may not be there, but what is there is exact.
  std::uint64_t extra = 0;
  for (std::uint64_t i = w.durable; i < w.durable + 2000; ++i) {
    if (!t->contains({0, test_key(i)})) continue;
    AlignedBuffer buf(size);
    GetResult r = t->get({0, test_key(i)}, buf.span().first(size));
    if (r.status.ok()) {
      ++extra;
      EXPECT_TRUE(matches_pattern(buf.span().first(size), test_key(i)));
    }
  }
  std::printf("durable=%lu extra=%lu recovery: %lu entries, %lu regions scanned, %lu torn\n",
              static_cast<unsigned long>(w.durable), static_cast<unsigned long>(extra),
              static_cast<unsigned long>(t->recovery_info().entries),
              static_cast<unsigned long>(t->recovery_info().regions_scanned),
              static_cast<unsigned long>(t->recovery_info().torn_entries));
  // The recovered tier keeps working and restarts warm.
  ASSERT_TRUE(put_n(*t, 999999, size).ok());
  ASSERT_TRUE(t->close().ok());
  t.reset();  // releases the device
  auto again = open_tier(c, dir.path());
  EXPECT_EQ(again->recovery_info().mode, RecoveryMode::kCheckpoint);
  EXPECT_TRUE(reads_back(*again, 999999, size));
  for (std::uint64_t i = 0; i < w.durable; ++i) EXPECT_TRUE(reads_back(*again, i, size));
}

TEST(NvmeTier, SigkillAfterReclaimDoesNotResurrectOverwrittenData) {
  TempDir dir;
  NvmeConfig c = small_nvme_config(4);
  c.reinsert_min_hits = 0;
  const std::size_t size = 150000;
  // Many more blocks than 4 regions hold: regions are reclaimed and rewritten before the kill.
  KilledWriter w = run_and_kill(dir.path(), c, size, /*flush_every=*/5, /*kill_after_reports=*/12);
  ASSERT_GT(w.durable, 20u);
  auto t = open_tier(c, dir.path());
  std::uint64_t present = 0;
  for (std::uint64_t i = 0; i < w.durable + 100; ++i) {
    AlignedBuffer buf(size);
    GetResult r = t->get({0, test_key(i)}, buf.span().first(size));
    if (!r.status.ok()) continue;
    ++present;
    EXPECT_TRUE(matches_pattern(buf.span().first(size), test_key(i))) << i;
  }
  EXPECT_GT(present, 0u);
  // The last flushed blocks are the newest and cannot have been reclaimed yet.
  EXPECT_TRUE(reads_back(*t, w.durable - 1, size));
}

TEST(NvmeTier, FlippedBytesMissAndLeaveTheRest) {
  TempDir dir;
  const std::size_t size = 20000;
  {
    auto t = open_tier(small_nvme_config(), dir.path());
    for (std::uint64_t i = 0; i < 30; ++i) ASSERT_TRUE(put_n(*t, i, size).ok());
    ASSERT_TRUE(t->flush().ok());
    // Flip bytes inside the values of blocks 3 and 17, on the device, behind the tier's back.
    for (std::uint64_t victim : {3, 17}) {
      auto ext = t->TEST_value_extent({0, test_key(victim)});
      ASSERT_TRUE(ext);
      std::string path = dir.path() + "/nvme/kvtier-nvme.dat";
      int fd = ::open(path.c_str(), O_RDWR);
      ASSERT_GE(fd, 0);
      char b;
      ASSERT_EQ(::pread(fd, &b, 1, static_cast<off_t>(ext->second + 1234)), 1);
      b = static_cast<char>(b ^ 0x40);
      ASSERT_EQ(::pwrite(fd, &b, 1, static_cast<off_t>(ext->second + 1234)), 1);
      ::fsync(fd);
      ::close(fd);
    }
    ASSERT_TRUE(t->close().ok());
  }
  auto t = open_tier(small_nvme_config(), dir.path());
  for (std::uint64_t i = 0; i < 30; ++i) {
    AlignedBuffer buf(size);
    GetResult r = t->get({0, test_key(i)}, buf.span().first(size));
    if (i == 3 || i == 17) {
      EXPECT_TRUE(r.status.is_not_found()) << i;
    } else {
      EXPECT_TRUE(r.status.ok()) << i;
      EXPECT_TRUE(matches_pattern(buf.span().first(size), test_key(i)));
    }
  }
  EXPECT_EQ(counter_value(*t, "nvme_checksum_failures"), 2);
  EXPECT_FALSE(t->contains({0, test_key(3)})) << "a block that failed verification is forgotten";
}

// Blocks 0..n-1 of `size` bytes written and flushed, then the checkpoint close() left removed: the
// next open rebuilds the index from the devices, as after a crash.
void write_then_lose_checkpoint(const NvmeConfig& c, const std::string& dir, std::uint64_t n, std::size_t size) {
  {
    auto t = open_tier(c, dir);
    ASSERT_NE(t, nullptr);
    for (std::uint64_t i = 0; i < n; ++i) ASSERT_TRUE(put_n(*t, i, size).ok());
    ASSERT_TRUE(t->flush().ok());
  }
  std::filesystem::remove(dir + "/nvme/index.ckpt");
}

TEST(NvmeTier, GarbageOverTheRegionsAfterACrashIsNeverReturned) {
  TempDir dir;
  const std::size_t size = 30000;
  NvmeConfig c = small_nvme_config();
  ASSERT_NO_FATAL_FAILURE(write_then_lose_checkpoint(c, dir.path(), 60, size));
  // Scribble random bytes over random pages of the regions (the superblock is left alone).
  std::string path = dir.path() + "/nvme/kvtier-nvme.dat";
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::uint64_t s = 99;
  std::vector<char> junk(kPageSize);
  const std::uint64_t pages = c.default_file_bytes / kPageSize;
  for (int k = 0; k < 300; ++k) {
    for (char& ch : junk) ch = static_cast<char>(kvtier::testing::splitmix64(s));
    std::uint64_t page = 1 + kvtier::testing::splitmix64(s) % (pages - 1);
    ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), static_cast<off_t>(page * kPageSize)), static_cast<ssize_t>(kPageSize));
  }
  ::fsync(fd);
  ::close(fd);
  auto t = open_tier(c, dir.path());
  std::uint64_t good = 0;
  for (std::uint64_t i = 0; i < 60; ++i) {
    AlignedBuffer buf(size);
    GetResult r = t->get({0, test_key(i)}, buf.span().first(size));
    if (!r.status.ok()) continue;
    ++good;
    EXPECT_TRUE(matches_pattern(buf.span().first(size), test_key(i))) << i;
  }
  std::printf("after 300 scribbled pages: %lu of 60 blocks still readable\n", static_cast<unsigned long>(good));
  // And the tier keeps working on top of the damage.
  ASSERT_TRUE(put_n(*t, 500, size).ok());
  EXPECT_TRUE(reads_back(*t, 500, size));
}

// A summary whose checksums verify but which lists an entry outside its region (a writer's bug, a
// stale or forged file) is not trusted: the region is read in full instead, and its entries, which
// are intact, all read back. (Found by fuzz/nvme_recovery_fuzzer.cpp: the entry's page was taken
// as is and a read of that block indexed past the region table.)
TEST(NvmeTier, SummaryListingAnEntryOutsideItsRegionIsRescanned) {
  TempDir dir;
  const std::size_t size = 30000;
  NvmeConfig c = small_nvme_config();
  ASSERT_NO_FATAL_FAILURE(write_then_lose_checkpoint(c, dir.path(), 60, size));
  std::fstream f(dir.path() + "/nvme/kvtier-nvme.dat", std::ios::in | std::ios::out | std::ios::binary);
  const std::uint64_t region_end = kPageSize + c.region_size;  // region 0
  SummaryTrailer trailer;
  f.seekg(static_cast<std::streamoff>(region_end - sizeof trailer));
  f.read(reinterpret_cast<char*>(&trailer), sizeof trailer);
  ASSERT_EQ(trailer.magic, kSummaryMagic);
  ASSERT_GT(trailer.entry_count, 0u);
  std::vector<SummaryEntry> entries(trailer.entry_count);
  const std::uint64_t entries_at = region_end - std::uint64_t{trailer.summary_pages} * kPageSize;
  f.seekg(static_cast<std::streamoff>(entries_at));
  f.read(reinterpret_cast<char*>(entries.data()), static_cast<std::streamsize>(entries.size() * sizeof(SummaryEntry)));
  entries[0].page_in_region = 0x7fffffff;
  trailer.entries_checksum = block_checksum(std::as_bytes(std::span(entries)));
  trailer.trailer_checksum = trailer_checksum(trailer);
  f.seekp(static_cast<std::streamoff>(entries_at));
  f.write(reinterpret_cast<const char*>(entries.data()), static_cast<std::streamsize>(entries.size() * sizeof(SummaryEntry)));
  f.seekp(static_cast<std::streamoff>(region_end - sizeof trailer));
  f.write(reinterpret_cast<const char*>(&trailer), sizeof trailer);
  f.close();
  ASSERT_TRUE(f.good() || !f.is_open());

  auto t = open_tier(c, dir.path());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kScan);
  EXPECT_GE(t->recovery_info().regions_scanned, 1u);
  for (std::uint64_t i = 0; i < 60; ++i) EXPECT_TRUE(reads_back(*t, i, size));
}

TEST(NvmeTier, FullDiskIsAClearError) {
  TempDir dir;
  // A child with a 2 MiB file size limit cannot reserve a 13 MiB device file.
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{2 * kMiB, 2 * kMiB};
    ::setrlimit(RLIMIT_FSIZE, &lim);
    auto t = NvmeTier::open(small_nvme_config(), dir.path());
    if (t.ok()) ::_exit(10);
    bool clear = t.status().code() == StatusCode::kNoSpace &&
                 t.status().message().find("kvtier-nvme.dat") != std::string::npos;
    std::fprintf(stderr, "open on a full disk: %s\n", t.status().to_string().c_str());
    ::_exit(clear ? 0 : 11);
  }
  EXPECT_EQ(kvtier::testing::child_exit_code(pid), 0) << "10: opened anyway, 11: unclear error";
}

TEST(NvmeTier, BadConfigIsAClearError) {
  TempDir dir;
  NvmeConfig c = small_nvme_config();
  c.region_size = 1 * kMiB + 100;
  auto t = NvmeTier::open(c, dir.path());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("region_size"), std::string::npos) << t.status().message();

  NvmeConfig d = small_nvme_config();
  d.devices.push_back({dir.file("no-such-dir/dev.dat"), 8 * kMiB});
  auto t2 = NvmeTier::open(d, dir.path());
  ASSERT_FALSE(t2.ok());
  EXPECT_NE(t2.status().message().find("no-such-dir"), std::string::npos);
}

TEST(NvmeTier, RefusesToFormatAForeignFile) {
  TempDir dir;
  std::string path = dir.file("someone-elses.dat");
  {
    std::ofstream f(path, std::ios::binary);
    std::string data(16 * kMiB, 'x');
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  NvmeConfig c = small_nvme_config();
  c.devices.push_back({path, 8 * kMiB + kPageSize});
  auto t = NvmeTier::open(c, dir.path());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("format_foreign_devices"), std::string::npos);
  c.format_foreign_devices = true;
  auto t2 = NvmeTier::open(c, dir.path());
  ASSERT_TRUE(t2.ok()) << t2.status().to_string();
  EXPECT_EQ((*t2)->recovery_info().mode, RecoveryMode::kFresh);
}

TEST(NvmeTier, ASecondOpenOfTheSameDeviceIsRefused) {
  TempDir dir;
  auto first = open_tier(small_nvme_config(), dir.path());
  ASSERT_TRUE(first);
  auto second = NvmeTier::open(small_nvme_config(), dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kBusy);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status().message();
  first.reset();
  EXPECT_TRUE(NvmeTier::open(small_nvme_config(), dir.path()).ok()) << "the lock goes with its owner";
}

// A real block device: a loop device over a file (needs root and /dev/loop-control; skipped
// otherwise, with the reason).
class LoopDevice {
 public:
  explicit LoopDevice(const std::string& image, std::uint64_t bytes) {
    if (::geteuid() != 0) {
      why_ = "not root";
      return;
    }
    if (::truncate(image.c_str(), static_cast<off_t>(bytes)) != 0) {
      int fd = ::open(image.c_str(), O_CREAT | O_WRONLY, 0600);
      if (fd >= 0) ::close(fd);
      if (::truncate(image.c_str(), static_cast<off_t>(bytes)) != 0) {
        why_ = "cannot size the image";
        return;
      }
    }
    std::string cmd = "losetup -f --show " + image + " 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    char line[256] = {};
    if (p && std::fgets(line, sizeof line, p)) path_ = line;
    if (p) ::pclose(p);
    while (!path_.empty() && (path_.back() == '\n' || path_.back() == ' ')) path_.pop_back();
    if (path_.empty()) why_ = "losetup failed (no loop devices here)";
  }
  ~LoopDevice() {
    if (!path_.empty()) (void)std::system(("losetup -d " + path_).c_str());
  }
  const std::string& path() const { return path_; }
  const std::string& why_not() const { return why_; }

 private:
  std::string path_, why_;
};

TEST(NvmeTier, WorksOnABlockDevice) {
  TempDir dir;
  LoopDevice loop(dir.file("disk.img"), kPageSize + 10 * kMiB);
  if (loop.path().empty()) GTEST_SKIP() << loop.why_not();
  NvmeConfig c = small_nvme_config();
  c.devices.push_back({loop.path(), 0});  // 0: the whole device
  const std::size_t size = 100000;
  {
    auto t = open_tier(c, dir.path());
    ASSERT_TRUE(t);
    EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kFresh);
    for (std::uint64_t i = 0; i < 40; ++i) ASSERT_TRUE(put_n(*t, i, size).ok());
    ASSERT_TRUE(t->close().ok());
  }
  auto t = open_tier(c, dir.path());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kCheckpoint);
  std::uint64_t present = 0;
  for (std::uint64_t i = 0; i < 40; ++i) {
    if (!t->contains({0, test_key(i)})) continue;
    ++present;
    EXPECT_TRUE(reads_back(*t, i, size));
  }
  EXPECT_GT(present, 30u) << "10 regions of 1 MiB hold most of the 40 blocks";
}

TEST(NvmeTier, ChangedGeometryReformats) {
  TempDir dir;
  {
    auto t = open_tier(small_nvme_config(), dir.path());
    ASSERT_TRUE(put_n(*t, 1, 5000).ok());
    ASSERT_TRUE(t->close().ok());
  }
  NvmeConfig c = small_nvme_config();
  c.region_size = 2 * kMiB;
  c.default_file_bytes = kPageSize + 6 * c.region_size;
  auto t = open_tier(c, dir.path());
  EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kFresh);
  EXPECT_FALSE(t->contains({0, test_key(1)}));
}

TEST(NvmeTier, WriteBudgetRejectsBeyondTheBurst) {
  TempDir dir;
  NvmeConfig c = small_nvme_config();
  c.write_budget_mb_s = 1;        // 1 MB/s
  c.write_budget_burst_s = 0.5;   // 500 kB burst
  auto t = open_tier(c, dir.path());
  int accepted = 0, rejected = 0;
  for (std::uint64_t i = 0; i < 20; ++i) {
    Status s = put_n(*t, i, 100000);
    if (s.ok()) ++accepted;
    else if (s.code() == StatusCode::kRejected) ++rejected;
  }
  EXPECT_GE(accepted, 3);
  EXPECT_LE(accepted, 6);
  EXPECT_GE(rejected, 14);
  EXPECT_EQ(counter_value(*t, "nvme_admission_rejected"), rejected);
}

TEST(NvmeTier, ConcurrentWritersAndReadersSeeOnlyExactBytes) {
  TempDir dir;
  auto t = open_tier(small_nvme_config(10), dir.path());
  const std::size_t size = 40000;
  std::atomic<std::uint64_t> written{0};
  std::atomic<int> bad{0};
  std::atomic<std::uint64_t> hits{0};
  std::atomic<int> writers_left{2};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (std::uint64_t i = 0; i < 400; ++i) {
        std::uint64_t n = i * 2 + w;
        if (put_n(*t, n, size).ok()) written.fetch_add(1);
        if (i % 50 == 0) (void)t->flush();
      }
      writers_left.fetch_sub(1);
    });
  }
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      AlignedBuffer buf(size);
      // Reads for as long as the writers write (and at least 3000 times), bounded by count.
      for (std::uint64_t i = 0; i < 1000000 && (i < 3000 || writers_left.load() > 0); ++i) {
        std::uint64_t n = (i * 7 + r) % 800;
        GetResult g = t->get({0, test_key(n)}, buf.span().first(size));
        if (!g.status.ok()) continue;
        hits.fetch_add(1);
        if (!matches_pattern(buf.span().first(size), test_key(n))) bad.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(hits.load(), 0u);
  EXPECT_EQ(written.load(), 800u);
  EXPECT_EQ(counter_value(*t, "nvme_checksum_failures"), 0);
}

TEST(NvmeTier, GetManyMixesHitsMissesAndSizes) {
  TempDir dir;
  auto t = open_tier(small_nvme_config(), dir.path());
  for (std::uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(put_n(*t, i, 10000 + i * 4096).ok());
  ASSERT_TRUE(t->flush().ok());
  for (std::uint64_t i = 100; i < 130; ++i) ASSERT_TRUE(put_n(*t, i, 100000).ok());  // push them to disk
  std::vector<AlignedBuffer> bufs;
  std::vector<GetItem> items;
  for (std::uint64_t i = 0; i < 12; ++i) {
    bufs.emplace_back(64 * kKiB);
    items.push_back({test_key(i), bufs.back().span().first(i == 4 ? 100 : 64 * kKiB)});
  }
  std::vector<GetResult> out(items.size());
  t->get_many(0, items, out, engine::ReadFor::kClient);
  for (std::uint64_t i = 0; i < 12; ++i) {
    if (i >= 10) {
      EXPECT_TRUE(out[i].status.is_not_found());
    } else if (i == 4) {
      EXPECT_EQ(out[i].status.code(), StatusCode::kBufferTooSmall);
    } else {
      ASSERT_TRUE(out[i].status.ok()) << i << " " << out[i].status.to_string();
      EXPECT_EQ(out[i].size, 10000 + i * 4096);
      EXPECT_TRUE(matches_pattern(items[i].dst.first(out[i].size), test_key(i)));
    }
  }
}

}  // namespace
}  // namespace kvtier::nvme
