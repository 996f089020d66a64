// nvme.erase_removed (issue 27): once a removal or replacement is answered (its flush returned),
// no page of the older value is left on the device, wherever the entry was (open region, in
// memory or written, a sealed region, a region restored from the checkpoint, moved by a reclaim's
// reinsertion); and once every region has been written again, no page of any block the tier
// dropped is left either. Each test counts the pages of the data file that hold a page of a
// removed value, and runs once without erasure to show that the count is not zero by accident.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "memory/aligned_buffer.h"
#include "nvme/format.h"
#include "nvme/nvme_tier.h"
#include "nvme/nvme_test_support.h"
#include "support/device_pages.h"
#include "support/test_support.h"

namespace kvtier::nvme::erasure {
namespace {

using kvtier::testing::counter_value;
using kvtier::testing::PageSet;
using kvtier::testing::matches_pattern;
using kvtier::testing::pattern;
using kvtier::testing::TempDir;
using kvtier::testing::test_key;

constexpr std::size_t kSize = 100 * 1024;  // 25 pages

NvmeConfig config(bool erase, std::uint64_t regions, ReclaimPolicy reclaim = ReclaimPolicy::kFifo) {
  NvmeConfig c = kvtier::testing::small_nvme_config(regions);
  c.reclaim = reclaim;
  c.reinsert_min_hits = 0;
  c.flush_interval = std::chrono::milliseconds(0);  // the tests decide when the open region is written
  c.erase_removed = erase;
  return c;
}

BlockId id_of(std::uint64_t n) { return {0, test_key(n)}; }
std::vector<std::byte> version(std::uint64_t n, std::uint64_t v) { return pattern(test_key(n), kSize, v); }
Status put_version(NvmeTier& t, std::uint64_t n, std::uint64_t v) { return t.put(id_of(n), version(n, v)); }

bool reads_version(NvmeTier& t, std::uint64_t n, std::uint64_t v) {
  AlignedBuffer buf(kSize);
  GetResult r = t.get(id_of(n), buf.span().first(kSize));
  return r.status.ok() && r.size == kSize && matches_pattern(buf.span().first(kSize), test_key(n), v);
}

std::string data_file(const TempDir& dir) { return (std::filesystem::path(dir.path()) / "nvme" / "kvtier-nvme.dat").string(); }

// A removal as the store makes one: the removal, then a flush of what it appended.
Status remove_and_flush(NvmeTier& t, std::uint64_t n) {
  std::uint64_t since = 0;
  KVTIER_RETURN_IF_ERROR(t.remove(id_of(n), &since));
  return t.flush(since);
}

Status invalidate_and_flush(NvmeTier& t, std::uint64_t n) {
  std::uint64_t since = 0;
  KVTIER_RETURN_IF_ERROR(t.invalidate(id_of(n), &since));
  return t.flush(since);
}

// Blocks 1 (sealed region), 2 (open region, written), 3 (open region, in memory only) removed;
// block 4 replaced on the tier itself (v1 over v0, both in the open region); block 5 invalidated
// (a newer version went to DRAM) from a sealed region; blocks 100-109 fill regions and stay.
// Returns the pages of the removed and replaced values still on the device once each is answered.
std::size_t pages_left_after_removals(bool erase, std::string* problems) {
  TempDir dir;
  Result<std::unique_ptr<NvmeTier>> opened = NvmeTier::open(config(erase, 12), dir.path());
  if (!opened.ok()) {
    *problems += opened.status().to_string();
    return 0;
  }
  NvmeTier& t = **opened;
  auto check = [&](const Status& s, const char* what) {
    if (!s.ok()) *problems += std::string(what) + ": " + s.to_string() + "\n";
  };
  check(put_version(t, 1, 0), "put 1");
  check(put_version(t, 5, 0), "put 5");
  for (std::uint64_t n = 100; n < 110; ++n) check(put_version(t, n, 0), "put filler");  // seals 1, 5
  check(put_version(t, 2, 0), "put 2");
  check(t.flush(), "flush");
  check(put_version(t, 3, 0), "put 3");
  check(put_version(t, 4, 0), "put 4 v0");
  check(t.flush(), "flush");
  PageSet gone;
  for (std::uint64_t n : {1, 2, 3, 4, 5}) gone.add(version(n, 0));
  if (gone.count_in(data_file(dir)) == 0) *problems += "the values were never on the device\n";

  check(remove_and_flush(t, 1), "remove 1");
  check(remove_and_flush(t, 2), "remove 2");
  check(remove_and_flush(t, 3), "remove 3");
  const std::uint64_t since = t.failed_writes();
  check(put_version(t, 4, 1), "put 4 v1");
  check(t.flush(since), "flush 4 v1");
  check(invalidate_and_flush(t, 5), "invalidate 5");
  const std::size_t left = gone.count_in(data_file(dir));

  // What was not removed is untouched.
  if (!reads_version(t, 4, 1)) *problems += "block 4 does not read v1\n";
  for (std::uint64_t n = 100; n < 110; ++n) {
    if (!reads_version(t, n, 0)) *problems += "filler " + std::to_string(n) + " is not intact\n";
  }
  if (erase && counter_value(t, "nvme_erased_bytes") < 5 * kSize) *problems += "nvme_erased_bytes too low\n";
  if (counter_value(t, "nvme_checksum_failures") + counter_value(t, "nvme_header_mismatches") != 0) {
    *problems += "verification failures counted\n";
  }
  return left;
}

TEST(NvmeErasure, NoPageOfARemovedOrReplacedValueIsLeftOnceAnswered) {
  std::string problems;
  EXPECT_EQ(pages_left_after_removals(true, &problems), 0u);
  EXPECT_EQ(problems, "");
  problems.clear();
  EXPECT_GT(pages_left_after_removals(false, &problems), 0u) << "without erasure the test shows nothing";
  EXPECT_EQ(problems, "");
}

// A value restored from the checkpoint (its region sealed in an earlier life) is erased too.
TEST(NvmeErasure, AnEntryRestoredFromTheCheckpointIsErased) {
  TempDir dir;
  const NvmeConfig c = config(true, 12);
  {
    Result<std::unique_ptr<NvmeTier>> t = NvmeTier::open(c, dir.path());
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(put_version(**t, 1, 0).ok());
    ASSERT_TRUE(put_version(**t, 2, 0).ok());
    ASSERT_TRUE((*t)->close().ok());
  }
  Result<std::unique_ptr<NvmeTier>> t = NvmeTier::open(c, dir.path());
  ASSERT_TRUE(t.ok());
  ASSERT_EQ((*t)->recovery_info().mode, RecoveryMode::kCheckpoint);
  PageSet gone;
  gone.add(version(1, 0));
  ASSERT_GT(gone.count_in(data_file(dir)), 0u);
  ASSERT_TRUE(remove_and_flush(**t, 1).ok());
  EXPECT_EQ(gone.count_in(data_file(dir)), 0u);
  EXPECT_TRUE(reads_version(**t, 2, 0));
}

// Readers of blocks being removed and overwritten get the exact bytes or a miss, and an erasure
// under a read is a raced read, never counted as damage (the entry is not judged by pages the
// removal overwrote).
TEST(NvmeErasure, ReadsRacingErasuresGetExactBytesOrAMissAndCountNoDamage) {
  TempDir dir;
  Result<std::unique_ptr<NvmeTier>> t = NvmeTier::open(config(true, 40), dir.path());
  ASSERT_TRUE(t.ok());
  constexpr std::uint64_t kBlocks = 200;
  for (std::uint64_t n = 1; n <= kBlocks; ++n) ASSERT_TRUE(put_version(**t, n, 0).ok());
  ASSERT_TRUE((*t)->flush().ok());
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> wrong{0}, hits{0};
  auto reader = [&](std::uint64_t seed) {
    AlignedBuffer buf(kSize);
    for (std::uint64_t i = seed; !stop.load(); i += 7) {
      const std::uint64_t n = 1 + i % kBlocks;
      GetResult r = (*t)->get(id_of(n), buf.span().first(kSize));
      if (!r.status.ok()) continue;
      hits.fetch_add(1);
      if (!matches_pattern(buf.span().first(kSize), test_key(n), 0)) wrong.fetch_add(1);
    }
  };
  std::thread r1(reader, 0), r2(reader, 3);
  for (std::uint64_t n = 1; n <= kBlocks; ++n) {
    ASSERT_TRUE(remove_and_flush(**t, n).ok());
    std::this_thread::yield();
  }
  stop.store(true);
  r1.join();
  r2.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
  EXPECT_EQ(counter_value(**t, "nvme_checksum_failures"), 0);
  EXPECT_EQ(counter_value(**t, "nvme_header_mismatches"), 0);
  std::printf("reads that hit: %llu, raced: %.0f\n", static_cast<unsigned long long>(hits.load()),
              counter_value(**t, "nvme_raced_reads"));
}

// A reclaim's reinsertion moves a hot block to the front of its region; removed while that region
// is still open, neither its copy nor its former pages are left.
TEST(NvmeErasure, ABlockMovedByReinsertionLeavesNoCopyWhenRemoved) {
  TempDir dir;
  NvmeConfig c = config(true, 4);
  c.reinsert_min_hits = 1;
  Result<std::unique_ptr<NvmeTier>> t = NvmeTier::open(c, dir.path());
  ASSERT_TRUE(t.ok());
  // Block 5 is the fifth entry of region 0 and the only one read.
  for (std::uint64_t n = 1; n <= 9; ++n) ASSERT_TRUE(put_version(**t, n, 0).ok());
  ASSERT_TRUE(reads_version(**t, 5, 0));
  // Regions 1-3 fill, then region 0 is reclaimed and block 5 moved to its first entry.
  for (std::uint64_t n = 10; n <= 37 && counter_value(**t, "nvme_reinserted") == 0; ++n) {
    ASSERT_TRUE(put_version(**t, n, 0).ok());
  }
  ASSERT_EQ(counter_value(**t, "nvme_reinserted"), 1);
  ASSERT_TRUE(reads_version(**t, 5, 0));
  ASSERT_TRUE((*t)->flush().ok());
  PageSet gone;
  gone.add(version(5, 0));
  ASSERT_EQ(gone.count_in(data_file(dir)), 25u) << "one copy on the device";
  ASSERT_TRUE(remove_and_flush(**t, 5).ok());
  EXPECT_EQ(gone.count_in(data_file(dir)), 0u);
}

// Regions cycle under LRU with reinsertion, so hot blocks are moved within their region and cold
// ones dropped, with sizes that differ so no generation of a region is laid out as the one before;
// then every block left is removed and the tier closed (every region written whole): no page of
// any block is left, neither of those removed nor of those the tier dropped. Without erasure,
// many are.
std::size_t pages_left_after_cycling(bool erase, std::string* problems) {
  TempDir dir;
  NvmeConfig c = config(erase, 4, ReclaimPolicy::kLru);
  c.reinsert_min_hits = 1;
  Result<std::unique_ptr<NvmeTier>> opened = NvmeTier::open(c, dir.path());
  if (!opened.ok()) {
    *problems += opened.status().to_string();
    return 0;
  }
  NvmeTier& t = **opened;
  auto value = [](std::uint64_t n) { return pattern(test_key(n), 40 * kKiB + (n % 7) * 24 * kKiB); };
  PageSet all;
  for (std::uint64_t n = 1; n <= 150; ++n) {
    all.add(value(n));
    if (!t.put(id_of(n), value(n)).ok()) *problems += "put failed\n";
    // Every third block is read (hot: reinserted at its region's reclaim), block 1 every time.
    for (std::uint64_t read : {n % 3 == 0 ? n : 1, std::uint64_t{1}}) {
      AlignedBuffer buf(value(read).size());
      (void)t.get(id_of(read), buf.span());
    }
  }
  if (counter_value(t, "nvme_reinserted") == 0) *problems += "nothing was reinserted\n";
  for (std::uint64_t n = 1; n <= 150; ++n) {
    Status s = remove_and_flush(t, n);
    if (!s.ok() && !s.is_not_found()) *problems += "remove: " + s.to_string() + "\n";
  }
  if (t.entry_count() != 0) *problems += "entries left\n";
  if (Status s = t.close(); !s.ok()) *problems += "close: " + s.to_string() + "\n";
  return all.count_in(data_file(dir));
}

TEST(NvmeErasure, NoPageOfAnyBlockIsLeftOnceEveryRegionIsWrittenAgain) {
  std::string problems;
  EXPECT_EQ(pages_left_after_cycling(true, &problems), 0u);
  EXPECT_EQ(problems, "");
  problems.clear();
  EXPECT_GT(pages_left_after_cycling(false, &problems), 0u) << "without erasure the test shows nothing";
  EXPECT_EQ(problems, "");
}

}  // namespace
}  // namespace kvtier::nvme::erasure
