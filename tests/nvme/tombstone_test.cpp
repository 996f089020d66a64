// Removals and replacements on the NVMe tier survive a crash (issue 27): a removed entry stays on
// the device until its region is reused, and recovery must not find it again. Each test removes
// or replaces an entry in a forked child, makes that durable (flush), SIGKILLs the child, and
// reopens the tier as a restarted daemon would (the crash scan): the entry must be a miss.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <chrono>
#include <thread>

#include "memory/aligned_buffer.h"
#include "nvme/format.h"
#include "nvme/nvme_tier.h"
#include "nvme/nvme_test_support.h"
#include "support/child_process.h"
#include "support/test_support.h"

namespace kvtier::nvme::tombstone_recovery {
namespace {

using kvtier::testing::counter_value;
using kvtier::testing::crash_after;
using kvtier::testing::matches_pattern;
using kvtier::testing::pattern;
using kvtier::testing::TempDir;
using kvtier::testing::test_key;

constexpr std::size_t kSize = 100 * 1024;

NvmeConfig config(std::uint64_t regions, ReclaimPolicy reclaim = ReclaimPolicy::kFifo) {
  NvmeConfig c = kvtier::testing::small_nvme_config(regions);
  c.reclaim = reclaim;
  c.reinsert_min_hits = 0;
  return c;
}

BlockId id_of(std::uint64_t n) { return {0, test_key(n)}; }

// Version v of block n: the pattern of key n + v, so versions differ and each names its key.
std::vector<std::byte> version(std::uint64_t n, std::uint64_t v) { return pattern(test_key(n + 1000 * v), kSize); }

Status put_version(NvmeTier& t, std::uint64_t n, std::uint64_t v) { return t.put(id_of(n), version(n, v)); }

// "miss", "v<N>" for the version read, or what went wrong.
std::string read_version(NvmeTier& t, std::uint64_t n) {
  AlignedBuffer buf(kSize);
  GetResult r = t.get(id_of(n), buf.span().first(kSize));
  if (r.status.is_not_found()) return "miss";
  if (!r.status.ok()) return r.status.to_string();
  for (std::uint64_t v = 0; v < 10; ++v) {
    if (r.size == kSize && matches_pattern(buf.span().first(kSize), test_key(n + 1000 * v))) {
      return "v" + std::to_string(v);
    }
  }
  return "bytes of no version";
}

// Fills the open region with other blocks (from `first` on) until it is sealed and written.
Status seal_with_others(NvmeTier& t, std::uint64_t first) {
  for (std::uint64_t n = first; n < first + 10; ++n) KVTIER_RETURN_IF_ERROR(put_version(t, n, 0));
  return t.flush();
}

std::unique_ptr<NvmeTier> open_tier(const NvmeConfig& c, const std::string& dir) {
  Result<std::unique_ptr<NvmeTier>> t = NvmeTier::open(c, dir);
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  return t.ok() ? std::move(t).value() : nullptr;
}

// Where the removed entry is when it is removed.
enum class Where { kOpenRegion, kSealedRegion, kCheckpointed };

std::string where_name(const ::testing::TestParamInfo<Where>& info) {
  switch (info.param) {
    case Where::kOpenRegion: return "OpenRegion";
    case Where::kSealedRegion: return "SealedRegion";
    case Where::kCheckpointed: return "Checkpointed";
  }
  return "unknown";
}

class TombstoneRecovery : public ::testing::TestWithParam<Where> {
 protected:
  // In the child: block 1 (v0) on the device at GetParam()'s place, then `change` made durable.
  template <typename Change>
  std::string crash_after_change(const std::string& dir, Change change) {
    const NvmeConfig c = config(12);
    if (GetParam() == Where::kCheckpointed) {
      auto t = open_tier(c, dir);
      if (!t || !put_version(*t, 1, 0).ok() || !t->close().ok()) return "setup failed";
    }
    return crash_after(c, dir, [&](NvmeTier& tier) -> std::string {
      if (GetParam() != Where::kCheckpointed && !put_version(tier, 1, 0).ok()) return "put failed";
      Status s = GetParam() == Where::kSealedRegion ? seal_with_others(tier, 100) : tier.flush();
      if (!s.ok()) return s.to_string();
      if (read_version(tier, 1) != "v0") return "v0 not readable before the change";
      const std::uint64_t since = tier.failed_writes();
      if (Status ch = change(tier); !ch.ok()) return ch.to_string();
      if (Status f = tier.flush(since); !f.ok()) return f.to_string();
      return "ok " + read_version(tier, 1);
    });
  }
};

TEST_P(TombstoneRecovery, ARemovedEntryStaysRemovedAfterACrash) {
  TempDir dir;
  ASSERT_EQ(crash_after_change(dir.path(), [](NvmeTier& t) { return t.remove(id_of(1)); }), "ok miss");
  auto t = open_tier(config(12), dir.path());
  EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kScan);
  EXPECT_EQ(read_version(*t, 1), "miss") << "the removed entry came back";
  // Its neighbours were not removed with it.
  if (GetParam() == Where::kSealedRegion) {
    EXPECT_EQ(read_version(*t, 100), "v0");
  }
}

// A newer version given to a tier above (DRAM) invalidates the copy here; the newer version was
// not written here before the crash: the older one must not come back in its place.
TEST_P(TombstoneRecovery, AnInvalidatedEntryStaysGoneAfterACrash) {
  TempDir dir;
  ASSERT_EQ(crash_after_change(dir.path(), [](NvmeTier& t) {
              std::uint64_t since = 0;
              return t.invalidate(id_of(1), &since);
            }), "ok miss");
  auto t = open_tier(config(12), dir.path());
  EXPECT_EQ(read_version(*t, 1), "miss") << "the replaced version came back";
}

// A tombstone erases what was written before it, never what is written after.
TEST_P(TombstoneRecovery, AVersionPutAfterTheRemovalSurvivesTheCrash) {
  TempDir dir;
  ASSERT_EQ(crash_after_change(dir.path(),
                        [](NvmeTier& t) {
                          KVTIER_RETURN_IF_ERROR(t.remove(id_of(1)));
                          return put_version(t, 1, 2);
                        }),
            "ok v2");
  auto t = open_tier(config(12), dir.path());
  EXPECT_EQ(read_version(*t, 1), "v2");
}

INSTANTIATE_TEST_SUITE_P(Where, TombstoneRecovery,
                         ::testing::Values(Where::kOpenRegion, Where::kSealedRegion, Where::kCheckpointed),
                         where_name);

TEST(TombstoneRecovery, RemovalsSurviveACleanRestartAndThenACrash) {
  TempDir dir;
  const NvmeConfig c = config(12);
  {
    auto t = open_tier(c, dir.path());
    ASSERT_TRUE(put_version(*t, 1, 0).ok());
    ASSERT_TRUE(put_version(*t, 2, 0).ok());
    ASSERT_TRUE(t->flush().ok());
    ASSERT_TRUE(t->remove(id_of(1)).ok());
    ASSERT_TRUE(t->close().ok());
  }
  ASSERT_EQ(crash_after(c, dir.path(), [&](NvmeTier& tier) -> std::string {
              if (tier.recovery_info().mode != RecoveryMode::kCheckpoint) return "no checkpoint";
              return read_version(tier, 1) + " " + read_version(tier, 2);
            }),
            "miss v0");
  auto t = open_tier(c, dir.path());
  EXPECT_EQ(t->recovery_info().mode, RecoveryMode::kScan);
  EXPECT_EQ(read_version(*t, 1), "miss");
  EXPECT_EQ(read_version(*t, 2), "v0");
}

// The regions cycle many times after the removal: the entry's region and the tombstone's are
// both reused, in the order FIFO reclaims them, and the entry never comes back.
TEST(TombstoneRecovery, RemovalsStayThroughReclaimsInEitherPolicy) {
  for (ReclaimPolicy policy : {ReclaimPolicy::kFifo, ReclaimPolicy::kLru}) {
    SCOPED_TRACE(policy == ReclaimPolicy::kFifo ? "fifo" : "lru");
    TempDir dir;
    const NvmeConfig c = config(4, policy);
    const std::string answer = crash_after(c, dir.path(), [&](NvmeTier& tier) -> std::string {
      // Block 1 in the first region, removed; block 2 in it too, read over and over (under LRU it
      // keeps its region from being reclaimed while others are).
      if (!put_version(tier, 1, 0).ok() || !put_version(tier, 2, 0).ok()) return "put failed";
      if (!tier.remove(id_of(1)).ok()) return "remove failed";
      for (std::uint64_t n = 10; n < 160; ++n) {
        if (!put_version(tier, n, 0).ok()) return "put failed";
        (void)read_version(tier, 2);
        if (!tier.flush().ok()) return "flush failed";
      }
      return read_version(tier, 1) + " " + std::to_string(counter_value(tier, "nvme_regions_reclaimed"));
    });
    ASSERT_EQ(answer.substr(0, 5), "miss ") << answer;
    EXPECT_GT(std::stoi(answer.substr(5)), 8) << "the regions did not cycle";
    auto t = open_tier(c, dir.path());
    EXPECT_EQ(read_version(*t, 1), "miss") << "the removed entry came back";
  }
}

// Under LRU, a region holding a tombstone whose entry's region is still on the device is passed
// over, however cold: reusing it first would let recovery find the entry again.
TEST(TombstoneRecovery, LruKeepsATombstoneWhileTheEntryItHidesIsOnTheDevice) {
  TempDir dir;
  const NvmeConfig c = config(4, ReclaimPolicy::kLru);
  const std::string answer = crash_after(c, dir.path(), [&](NvmeTier& tier) -> std::string {
    // Region A: block 1 and hot block 2. Region B: block 1's tombstone, then cold blocks.
    if (!put_version(tier, 1, 0).ok() || !put_version(tier, 2, 0).ok()) return "put failed";
    if (!seal_with_others(tier, 100).ok()) return "seal failed";
    if (!tier.remove(id_of(1)).ok()) return "remove failed";
    if (!seal_with_others(tier, 200).ok()) return "seal failed";
    // Region A read often, B never: plain LRU would reuse B before A.
    for (std::uint64_t n = 300; n < 330; ++n) {
      (void)read_version(tier, 2);
      if (!put_version(tier, n, 0).ok()) return "put failed";
      if (!tier.flush().ok()) return "flush failed";
      if (read_version(tier, 2) == "miss") break;  // A went after all (as the oldest)
    }
    return read_version(tier, 1);
  });
  ASSERT_EQ(answer, "miss");
  auto t = open_tier(c, dir.path());
  EXPECT_EQ(read_version(*t, 1), "miss") << "the removed entry came back";
}

// Found by the audit of 2026-12-07: an invalidation that lands while a reclaim has taken the
// block's entry out of the index, before reinsertion puts it back into the new region, found
// nothing, wrote no tombstone, and the block's old bytes came back after a crash from the new
// region. Every block is read once (hot: reinserted); a thread invalidates each block it sees
// missing from the index, as a replacing put does, while puts keep reclaiming regions.
TEST(TombstoneRecovery, AnInvalidationRacingAReclaimLeavesNothingToRecover) {
  NvmeConfig c = config(6);
  c.reinsert_min_hits = 1;
  std::uint64_t raced = 0;
  for (int attempt = 0; attempt < 10; ++attempt) {
    TempDir dir;
    const std::string answer = crash_after(c, dir.path(), [&](NvmeTier& tier) -> std::string {
      std::atomic<std::uint64_t> next{1};
      for (; next < 55; ++next) {
        if (!put_version(tier, next, 0).ok()) return "put failed";
        (void)read_version(tier, next);
      }
      std::atomic<bool> stop{false};
      std::set<std::uint64_t> invalidated;  // blocks the spy found absent and invalidated (NotFound)
      std::thread spy([&] {
        while (!stop.load()) {
          for (std::uint64_t n = 1; n < next.load() && !stop.load(); ++n) {
            std::uint64_t since = 0;
            if (!tier.contains(id_of(n)) && tier.invalidate(id_of(n), &since).is_not_found()) {
              invalidated.insert(n);
            }
          }
        }
      });
      for (int i = 0; i < 40; ++i, ++next) {
        (void)put_version(tier, next, 0);
        (void)read_version(tier, next);
      }
      stop.store(true);
      spy.join();
      if (Status f = tier.flush(); !f.ok()) return f.to_string();
      std::string out;
      for (std::uint64_t n : invalidated) out += std::to_string(n) + " ";
      return out;
    });
    auto t = open_tier(c, dir.path());
    ASSERT_NE(t, nullptr);
    std::istringstream in(answer);
    for (std::uint64_t n; in >> n;) {
      ++raced;
      EXPECT_EQ(read_version(*t, n), "miss") << "attempt " << attempt << ": block " << n
                                              << " was invalidated, yet its old bytes came back";
    }
  }
  std::printf("invalidations that found no entry: %llu\n", static_cast<unsigned long long>(raced));
  EXPECT_GT(raced, 0u) << "the race was never run";
}

// A reclaim drops block 1 from the index, and the start record of the region's new generation
// fails to write: until page 0 is written, recovery still finds the old generation with block 1
// in it. A removal of block 1 then must leave a tombstone (and wait for it), although the index
// has no entry: before, it answered NotFound with nothing written, and a crash brought block 1
// back (audit of 2026-12-07, F3).
TEST(TombstoneRecovery, ARemovalOfABlockDroppedByAReclaimWhoseStartRecordFailedStaysRemoved) {
  TempDir dir;
  NvmeConfig c = config(4);
  c.flush_interval = std::chrono::milliseconds(0);  // page 0 is written only by the removal's flush
  const std::string answer = crash_after(c, dir.path(), [&](NvmeTier& tier) -> std::string {
    ::signal(SIGXFSZ, SIG_IGN);  // as kvtierd: a write past the limit fails with EFBIG
    for (std::uint64_t n = 1; n <= 36; ++n) {
      if (!put_version(tier, n, 0).ok()) return "put failed";  // regions 0-3, block 1 in region 0
    }
    if (!tier.flush().ok()) return "flush failed";
    rlimit lim{kPageSize, RLIM_INFINITY};  // no write reaches a region
    ::setrlimit(RLIMIT_FSIZE, &lim);
    (void)put_version(tier, 37, 0);  // reclaims region 0 (FIFO): its start record fails
    (void)tier.flush();
    if (tier.contains(id_of(1))) return "block 1 was not dropped";
    if (counter_value(tier, "nvme_write_errors") == 0) return "no write failed";
    lim.rlim_cur = RLIM_INFINITY;  // the disk recovers
    ::setrlimit(RLIMIT_FSIZE, &lim);
    std::uint64_t since = 0;  // as the store removes: the tombstone, then a flush when one was appended
    Status removed = tier.remove(id_of(1), &since);
    if (removed.ok()) {
      if (Status f = tier.flush(since); !f.ok()) return "flush after the removal: " + f.to_string();
    } else if (!removed.is_not_found()) {
      return removed.to_string();
    }
    return "answered " + read_version(tier, 1);
  });
  ASSERT_EQ(answer, "answered miss");
  auto t = open_tier(c, dir.path());
  EXPECT_EQ(read_version(*t, 1), "miss") << "the removed block came back";
  EXPECT_EQ(read_version(*t, 37), "v0");
}

// Found by the audit of 2026-12-07: a region whose write failed after it held a synced tombstone
// was recorded free in the checkpoint, reused first after a clean restart, and its start record
// ended the tombstone while the removed entry was still in an older region: a crash then brought
// the removed block back. Region 1 here can be written only a quarter of the way.
TEST(TombstoneRecovery, ATombstoneInARegionWhoseWriteFailedOutlivesACleanRestart) {
  TempDir dir;
  const NvmeConfig c = config(8);
  ASSERT_EQ(kvtier::testing::in_child([&]() -> std::string {
              ::signal(SIGXFSZ, SIG_IGN);  // as kvtierd: a write past the limit fails with EFBIG
              auto t = open_tier(c, dir.path());
              if (!t) return "open failed";
              for (std::uint64_t n = 1; n <= 10; ++n) {
                if (!put_version(*t, n, 0).ok()) return "put failed";  // region 0, sealed
              }
              if (!t->flush().ok()) return "flush failed";
              const std::uint64_t since = t->failed_writes();
              if (!t->remove(id_of(1)).ok() || !t->flush(since).ok()) return "remove not durable";
              rlimit lim{kPageSize + kMiB + kMiB / 4, RLIM_INFINITY};
              ::setrlimit(RLIMIT_FSIZE, &lim);
              for (std::uint64_t n = 20; n < 30; ++n) (void)put_version(*t, n, 0);  // seals region 1
              (void)t->flush();
              for (int i = 0; i < 1000 && counter_value(*t, "nvme_write_queue_regions") != 0; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
              }
              if (counter_value(*t, "nvme_write_errors") == 0) return "no write failed";
              lim.rlim_cur = RLIM_INFINITY;  // the disk recovers
              ::setrlimit(RLIMIT_FSIZE, &lim);
              for (int i = 0; i < 3 && !t->flush().ok(); ++i) {
              }  // each failure is reported once
              return t->close().ok() ? "closed " + read_version(*t, 1) : "close failed";
            }),
            "closed miss");
  ASSERT_EQ(crash_after(c, dir.path(), [&](NvmeTier& tier) -> std::string {
              if (tier.recovery_info().mode != RecoveryMode::kCheckpoint) return "no checkpoint";
              // The next region opened: before the fix, region 1.
              if (!put_version(tier, 500, 0).ok() || !tier.flush().ok()) return "put failed";
              return read_version(tier, 1);
            }),
            "miss");
  auto t = open_tier(c, dir.path());
  EXPECT_EQ(read_version(*t, 1), "miss") << "the acknowledged removal of block 1 was undone";
  EXPECT_EQ(read_version(*t, 500), "v0");
}

// What a format 2 tier writes: a region start record first, tombstones counted, and the
// superblocks of format 2.
TEST(TombstoneRecovery, RegionsStartWithTheirStartRecordAndTombstonesAreCounted) {
  TempDir dir;
  auto t = open_tier(config(4), dir.path());
  ASSERT_TRUE(put_version(*t, 1, 0).ok());
  ASSERT_TRUE(t->remove(id_of(1)).ok());
  EXPECT_TRUE(t->remove(id_of(1)).is_not_found());
  ASSERT_TRUE(t->flush().ok());
  EXPECT_EQ(counter_value(*t, "nvme_tombstones"), 1);
  ASSERT_TRUE(t->close().ok());
  t.reset();
  const std::string path = dir.path() + "/nvme/kvtier-nvme.dat";
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  // The superblock page, then region 0: start record, the entry (header and 25 value pages), the
  // tombstone.
  std::vector<std::byte> pages(29 * kPageSize);
  ASSERT_EQ(::pread(fd, pages.data(), pages.size(), 0), static_cast<ssize_t>(pages.size()));
  ::close(fd);
  Superblock sb;
  std::memcpy(&sb, pages.data(), sizeof sb);
  EXPECT_EQ(sb.format_version, 2u);
  EntryHeader start, entry, tombstone;
  ASSERT_TRUE(decode_entry_header(pages.data() + kPageSize, &start));
  EXPECT_EQ(start.flags, kRegionStart);
  ASSERT_TRUE(decode_entry_header(pages.data() + 2 * kPageSize, &entry));
  EXPECT_EQ(entry.flags, 0);
  EXPECT_EQ(entry.value_size, kSize);
  ASSERT_TRUE(decode_entry_header(pages.data() + 28 * kPageSize, &tombstone));
  EXPECT_EQ(tombstone.flags, kTombstone);
  EXPECT_EQ(tombstone.value_size, 0u);
  EXPECT_EQ(std::memcmp(tombstone.key, test_key(1).bytes.data(), 16), 0);
}

}  // namespace
}  // namespace kvtier::nvme::tombstone_recovery
