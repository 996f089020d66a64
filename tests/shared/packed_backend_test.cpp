// PackedBackend over a shared directory (FsObjectStore in a temporary directory): staged writes
// become visible only at a flush, two nodes find each other's blocks through the indexes, the
// newest write of a key wins (removals too) in whatever order the indexes are read, damaged
// records and indexes are misses, a lost segment is reported by the next flush, and compaction
// keeps every live block while bounding the garbage. The same backend over S3 is tested against
// Ceph's RADOS Gateway (shared/packed_s3_test.cpp).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "shared/fs/fs_object_store.h"
#include "shared/packed/packed_backend.h"
#include "support/test_support.h"

namespace kvtier::shared::packed::packed_backend_test {
namespace {

using kvtier::testing::matches_pattern;
using kvtier::testing::pattern;
using kvtier::testing::TempDir;
using kvtier::testing::test_key;

Deadline soon() { return Clock::now() + std::chrono::seconds(10); }

PackedOptions small_segments() {
  PackedOptions o;
  o.segment_bytes = 1 << 20;
  o.part_bytes = 256 << 10;
  o.refresh_interval = std::chrono::hours(1);  // the tests refresh by hand
  o.delete_grace = std::chrono::seconds(0);
  return o;
}

std::unique_ptr<PackedBackend> node(const TempDir& dir, PackedOptions o = small_segments()) {
  fs::FsObjectStoreOptions so;
  so.root = dir.path() + "/objects";
  so.fsync = false;
  auto b = std::make_unique<PackedBackend>(std::make_unique<fs::FsObjectStore>(so), o);
  EXPECT_TRUE(b->refresh(true).ok());  // its first whole listing: it serves nothing before
  return b;
}

BlockId id_of(std::uint64_t n, NamespaceId ns = 1) { return BlockId{ns, test_key(n)}; }

Status put(PackedBackend& b, const BlockId& id, const std::vector<std::byte>& value) {
  SharedPut p{id, value};
  Status out;
  b.put_many({&p, 1}, {&out, 1}, soon());
  return out;
}

// The value read back, or the status of the miss.
Result<std::vector<std::byte>> get(PackedBackend& b, const BlockId& id, std::size_t room = 1 << 20) {
  std::vector<std::byte> dst(room);
  SharedGet g{id, dst};
  GetResult r;
  b.get_many({&g, 1}, {&r, 1}, soon());
  if (!r.status.ok()) return r.status;
  dst.resize(r.size);
  return dst;
}

bool contains(PackedBackend& b, const BlockId& id) {
  Status s;
  b.contains_many({&id, 1}, {&s, 1}, soon());
  return s.ok();
}

double counter(const PackedBackend& b, std::string_view name) {
  double v = -1;
  b.visit_counters([&](std::string_view n, double value, CounterKind) {
    if (n == name) v = value;
  });
  return v;
}

TEST(PackedBackend, StagedBlocksAreVisibleOnlyAfterTheFlush) {
  TempDir dir;
  auto a = node(dir);
  const BlockId id = id_of(1);
  ASSERT_TRUE(put(*a, id, pattern(id.key, 5000)).ok());
  EXPECT_FALSE(contains(*a, id)) << "staged is not published";
  ASSERT_TRUE(a->flush(soon()).ok());
  ASSERT_TRUE(contains(*a, id));
  auto v = get(*a, id);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->size(), 5000u);
  EXPECT_TRUE(matches_pattern(*v, id.key));
  // A buffer too small is said from the index, with the size.
  std::vector<std::byte> small(100);
  SharedGet g{id, small};
  GetResult r;
  a->get_many({&g, 1}, {&r, 1}, soon());
  EXPECT_EQ(r.status.code(), StatusCode::kBufferTooSmall);
  EXPECT_EQ(r.size, 5000u);
  EXPECT_EQ(get(*a, id_of(2)).status().code(), StatusCode::kNotFound);
}

TEST(PackedBackend, ManyBlocksGoIntoFewObjects) {
  TempDir dir;
  auto a = node(dir);
  for (std::uint64_t n = 0; n < 200; ++n) {
    const BlockId id = id_of(n);
    ASSERT_TRUE(put(*a, id, pattern(id.key, 20'000)).ok());
  }
  ASSERT_TRUE(a->flush(soon()).ok());
  // 200 x 20 KB = 4 MB in 1 MiB segments: 4 segments and their 4 indexes, not 200 files.
  std::size_t files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir.path() + "/objects")) {
    files += e.is_regular_file() ? 1 : 0;
  }
  EXPECT_LE(files, 10u);
  EXPECT_GE(files, 6u);
  for (std::uint64_t n = 0; n < 200; ++n) {
    auto v = get(*a, id_of(n));
    ASSERT_TRUE(v.ok()) << n;
    EXPECT_TRUE(matches_pattern(*v, id_of(n).key)) << n;
  }
}

TEST(PackedBackend, AnotherNodeFindsTheBlocksThroughTheIndexes) {
  TempDir dir;
  auto a = node(dir);
  auto b = node(dir);
  const BlockId id = id_of(3, 7);
  ASSERT_TRUE(put(*a, id, pattern(id.key, 70'000)).ok());
  ASSERT_TRUE(a->flush(soon()).ok());
  EXPECT_FALSE(contains(*b, id)) << "b has not listed yet";
  ASSERT_TRUE(b->refresh(false).ok());
  ASSERT_TRUE(contains(*b, id));
  auto v = get(*b, id);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(matches_pattern(*v, id.key));
  // Namespaces never alias: the same key in another namespace is another block.
  EXPECT_FALSE(contains(*b, BlockId{8, id.key}));
}

TEST(PackedBackend, TheNewestWriteWinsOnEveryNodeWhateverTheOrder) {
  TempDir dir;
  auto a = node(dir);
  auto b = node(dir);
  const BlockId id = id_of(4);
  ASSERT_TRUE(put(*a, id, pattern(id.key, 1000, 0)).ok());
  ASSERT_TRUE(a->flush(soon()).ok());
  ASSERT_TRUE(put(*b, id, pattern(id.key, 1000, 1)).ok());  // another node replaces it
  ASSERT_TRUE(b->flush(soon()).ok());
  ASSERT_TRUE(a->refresh(false).ok());
  ASSERT_TRUE(b->refresh(false).ok());
  for (PackedBackend* n : {a.get(), b.get()}) {
    auto v = get(*n, id);
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(matches_pattern(*v, id.key, 1)) << "an older version served";
  }
  // A third node reads both indexes at once, in listing order: the same answer.
  auto c = node(dir);
  ASSERT_TRUE(c->refresh(true).ok());
  auto v = get(*c, id);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(matches_pattern(*v, id.key, 1));

  // A removal hides it everywhere, and the older puts stay hidden.
  ASSERT_TRUE(a->remove(id, soon()).ok());
  ASSERT_TRUE(a->flush(soon()).ok());
  for (PackedBackend* n : {a.get(), b.get(), c.get()}) {
    ASSERT_TRUE(n->refresh(true).ok());
    EXPECT_FALSE(contains(*n, id));
    EXPECT_EQ(get(*n, id).status().code(), StatusCode::kNotFound);
  }
  auto d = node(dir);
  ASSERT_TRUE(d->refresh(true).ok());
  EXPECT_FALSE(contains(*d, id)) << "a fresh node resurrected a removed block";
  // Put again after the removal: back.
  ASSERT_TRUE(put(*b, id, pattern(id.key, 1000, 2)).ok());
  ASSERT_TRUE(b->flush(soon()).ok());
  ASSERT_TRUE(d->refresh(false).ok());
  auto again = get(*d, id);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(matches_pattern(*again, id.key, 2));
}

TEST(PackedBackend, DamagedRecordsAndIndexesAreMissesNeverWrongBytes) {
  TempDir dir;
  auto a = node(dir);
  std::vector<BlockId> ids;
  for (std::uint64_t n = 0; n < 4; ++n) {
    ids.push_back(id_of(100 + n));
    ASSERT_TRUE(put(*a, ids.back(), pattern(ids.back().key, 3000)).ok());
  }
  ASSERT_TRUE(a->flush(soon()).ok());
  std::string seg, idx;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir.path() + "/objects")) {
    if (e.path().extension() == ".seg") seg = e.path();
    if (e.path().extension() == ".idx") idx = e.path();
  }
  ASSERT_FALSE(seg.empty());
  // Flip one byte inside the second record's value.
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(sizeof(PackedRecordHeader) + 3000 + sizeof(PackedRecordHeader) + 17));
    f.put('\x5a');
  }
  EXPECT_TRUE(get(*a, ids[0]).ok());
  EXPECT_EQ(get(*a, ids[1]).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(counter(*a, "shared_packed_corrupt_records"), 1);
  // A truncated segment: the records past the end are misses.
  ASSERT_EQ(::truncate(seg.c_str(), static_cast<off_t>(2 * (sizeof(PackedRecordHeader) + 3000) + 10)), 0);
  EXPECT_EQ(get(*a, ids[3]).status().code(), StatusCode::kNotFound);
  // A damaged index is refused whole by a node that reads it.
  {
    std::fstream f(idx, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x01');
  }
  auto b = node(dir);
  ASSERT_TRUE(b->refresh(true).ok());
  EXPECT_FALSE(contains(*b, ids[0]));
  EXPECT_EQ(counter(*b, "shared_packed_indexes_corrupt"), 1);
}

TEST(PackedBackend, SizesFromAnIndexAreBoundedBeforeAnythingIsReadOrAllocated) {
  const std::uint64_t now = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  // A record of 3 GiB in a 4 GiB segment: well formed, and read only into a buffer that holds it.
  SegmentIndex big{1, 1, 4ull << 30, 1, {}};
  PackedIndexEntry e{};
  e.ns = 1;
  e.record_bytes = 3ull << 30;
  e.stamp = now;
  big.entries.push_back(e);
  ASSERT_TRUE(decode_index(encode_index(big)).ok());
  // Sizes no kvtier writes are refused whole: a 1 TiB record, a 1 TiB segment.
  SegmentIndex huge = big;
  huge.segment = 2;
  huge.segment_bytes = 1ull << 40;
  huge.entries[0].record_bytes = 1ull << 40;
  huge.entries[0].key[0] = 1;
  EXPECT_EQ(decode_index(encode_index(huge)).status().code(), StatusCode::kCorruption);
  SegmentIndex long_record = big;
  long_record.segment = 3;
  long_record.entries[0].record_bytes = (4ull << 30) + 8192;
  long_record.segment_bytes = 8ull << 30;
  EXPECT_EQ(decode_index(encode_index(long_record)).status().code(), StatusCode::kCorruption);

  TempDir dir;
  auto a = node(dir);
  fs::FsObjectStoreOptions so;
  so.root = dir.path() + "/objects";
  fs::FsObjectStore store(so);
  for (const SegmentIndex* index : {&big, &huge}) {
    const std::string bytes = encode_index(*index);
    ASSERT_TRUE(store.put(index_name(1, 1, index->segment),
                          std::as_bytes(std::span(bytes.data(), bytes.size())), soon())
                    .ok());
  }
  ASSERT_TRUE(a->refresh(true).ok());
  EXPECT_EQ(counter(*a, "shared_packed_indexes_corrupt"), 1);
  std::vector<std::byte> dst(4096);
  SharedGet g{entry_id(e), dst};
  GetResult r;
  a->get_many({&g, 1}, {&r, 1}, soon());
  EXPECT_EQ(r.status.code(), StatusCode::kBufferTooSmall) << "said from the index, nothing read";
  EXPECT_EQ(counter(*a, "shared_packed_get_requests"), 0);
}

TEST(PackedBackend, AFailedPublicationIsReportedByTheNextFlush) {
  TempDir dir;
  auto a = node(dir);
  const BlockId id = id_of(5);
  ASSERT_TRUE(put(*a, id, pattern(id.key, 1000)).ok());
  // The tree becomes unwritable: the seal fails, and flush says the staged writes are lost.
  ASSERT_EQ(::chmod((dir.path() + "/objects/seg").c_str(), 0500), 0);
  ASSERT_EQ(::chmod((dir.path() + "/objects").c_str(), 0500), 0);
  if (::geteuid() == 0) {
    // root writes through modes: take the directory away instead.
    ::chmod((dir.path() + "/objects").c_str(), 0700);
    std::filesystem::rename(dir.path() + "/objects", dir.path() + "/gone");
  }
  EXPECT_FALSE(a->flush(soon()).ok());
  EXPECT_FALSE(contains(*a, id));
  EXPECT_TRUE(a->flush(soon()).ok()) << "nothing staged since";
}

TEST(PackedBackend, CompactionKeepsEveryLiveBlockAndBoundsTheGarbage) {
  TempDir dir;
  PackedOptions o = small_segments();
  o.max_garbage = 0.25;
  auto a = node(dir, o);
  auto b = node(dir, o);
  std::mt19937_64 rng(42);
  std::map<std::uint64_t, std::uint64_t> live;  // key -> version
  std::uint64_t version = 0;
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 150; ++i) {
      const std::uint64_t n = rng() % 300;
      const BlockId id = id_of(n);
      if (rng() % 4 == 0) {
        ASSERT_TRUE(a->remove(id, soon()).ok());
        live.erase(n);
      } else {
        ++version;
        ASSERT_TRUE(put(*a, id, pattern(id.key, 4000 + (n % 7) * 1000, version)).ok());
        live[n] = version;
      }
    }
    ASSERT_TRUE(a->flush(soon()).ok());
    ASSERT_TRUE(a->maintain().ok());
  }
  ASSERT_TRUE(a->maintain().ok());
  EXPECT_GT(counter(*a, "shared_packed_compactions"), 0);
  EXPECT_LE(counter(*a, "shared_packed_garbage_ratio"), 0.25 + 1e-9);
  ASSERT_TRUE(b->refresh(true).ok());
  for (std::uint64_t n = 0; n < 300; ++n) {
    const BlockId id = id_of(n);
    for (PackedBackend* x : {a.get(), b.get()}) {
      auto v = get(*x, id);
      if (live.count(n) == 0) {
        EXPECT_EQ(v.status().code(), StatusCode::kNotFound) << n << " was removed";
      } else {
        ASSERT_TRUE(v.ok()) << n << ": " << v.status().to_string();
        EXPECT_TRUE(matches_pattern(*v, id.key, live[n])) << n;
      }
    }
  }
}

}  // namespace
}  // namespace kvtier::shared::packed::packed_backend_test
