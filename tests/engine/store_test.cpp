// Store (TieredStore) end to end on real files: tier ordering, demotion, promotion, prefix
// lookup, batches, pins, flush durability across SIGKILL, warm restart, bad config.
#include "kvtier/store.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "memory/aligned_buffer.h"
#include "engine/store_test_util.h"
#include "support/child_process.h"
#include "support/test_support.h"
#include "sync/mutex.h"

namespace kvtier {
namespace {

using kvtier::testing::counter_value;
using kvtier::testing::in_child_then_sigkill;
using kvtier::testing::matches_pattern;
using kvtier::testing::pattern;
using kvtier::testing::TempDir;
using kvtier::testing::test_key;

using kvtier::testing::open_store;
using kvtier::testing::small_store;

constexpr std::size_t kBlock = 64 * kKiB;

Status put_n(Store& s, std::uint64_t n, std::size_t size = kBlock, NamespaceId ns = 0) {
  std::vector<std::byte> v = pattern(test_key(n), size);
  return s.put(ns, test_key(n), v);
}

GetResult get_n(Store& s, std::uint64_t n, std::size_t size = kBlock, NamespaceId ns = 0) {
  AlignedBuffer buf(size);
  GetResult r = s.get(ns, test_key(n), buf.span().first(size));
  if (r.status.ok() && !matches_pattern(buf.span().first(r.size), test_key(n))) {
    r.status = Status::Corruption("wrong bytes for key " + std::to_string(n));
  }
  return r;
}

TEST(Store, EvictedBlocksAreDemotedAndPromotedBack) {
  TempDir dir;
  auto s = open_store(small_store(dir.path()));
  for (std::uint64_t i = 0; i < 40; ++i) ASSERT_TRUE(put_n(*s, i).ok());
  EXPECT_GT(counter_value(*s, "store_demotions"), 0);
  // Everything is still cached somewhere, byte-exact.
  int dram = 0, nvme = 0;
  for (std::uint64_t i = 0; i < 40; ++i) {
    GetResult r = get_n(*s, i);
    ASSERT_TRUE(r.status.ok()) << i << ": " << r.status.to_string();
    (r.tier == Tier::kDram ? dram : nvme)++;
  }
  EXPECT_GT(nvme, 0);
  EXPECT_GT(counter_value(*s, "store_promotions"), 0);
  // A block just promoted is now served from DRAM.
  GetResult first = get_n(*s, 0);
  ASSERT_TRUE(first.status.ok());
  GetResult again = get_n(*s, 0);
  EXPECT_EQ(again.tier, Tier::kDram);
}

TEST(Store, LookupPrefixCountsLeadingChunksAcrossTiers) {
  TempDir dir;
  auto s = open_store(small_store(dir.path()));
  ModelLayout layout{"test/model", "bf16", 4, 2, 64, 0, 1, 16, 1, ""};
  Result<Key> ns = namespace_key(layout);
  ASSERT_TRUE(ns.ok());
  std::vector<std::uint32_t> tokens(16 * 30);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::uint32_t>(i * 31 + 7);
  std::vector<Key> chain = chunk_keys(*ns, tokens, 16);
  ASSERT_EQ(chain.size(), 30u);
  EXPECT_EQ(s->lookup(0, chain)->cached, 0u);
  std::vector<std::byte> v(kBlock, std::byte{1});
  for (std::size_t i = 0; i < 20; ++i) ASSERT_TRUE(s->put(0, chain[i], v).ok());
  PrefixMatch m = s->lookup(0, chain).value();
  EXPECT_EQ(m.cached, 20u);
  EXPECT_EQ(m.in_dram + m.in_nvme, 20u);
  EXPECT_GT(m.in_nvme, 0u) << "20 blocks do not fit the 8-block DRAM tier";
  EXPECT_GT(m.in_dram, 0u);
  // A hole ends the prefix even if later chunks are cached.
  ASSERT_TRUE(s->remove(0, chain[5]).ok());
  EXPECT_EQ(s->lookup(0, chain)->cached, 5u);
  // Another namespace sees nothing.
  EXPECT_EQ(s->lookup(1, chain)->cached, 0u);
}

// Store::lookup probes the first 64 keys alone and the rest of the chain only if those are all
// held. Holes on and next to that edge, and anywhere after it, must end the prefix exactly where
// a key-by-key contains() says, over DRAM and NVMe.
TEST(Store, LookupPrefixAgreesWithContainsAcrossProbeWindows) {
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  c.dram.capacity_bytes = 200 * 4 * kKiB;  // the rest of the 700 blocks is demoted to NVMe
  c.nvme.default_file_bytes = kPageSize + 24 * kMiB;
  auto s = open_store(c);
  ASSERT_NE(s, nullptr);
  std::vector<Key> chain;
  for (std::uint64_t i = 0; i < 700; ++i) chain.push_back(test_key(10'000 + i));
  std::vector<std::byte> v(4 * kKiB, std::byte{7});
  for (const Key& k : chain) ASSERT_TRUE(s->put(0, k, v).ok());
  auto expected = [&] {
    std::size_t n = 0;
    while (n < chain.size() && s->contains(0, chain[n])) ++n;
    return n;
  };
  ASSERT_EQ(expected(), chain.size());
  PrefixMatch all = s->lookup(0, chain).value();
  EXPECT_EQ(all.cached, chain.size());
  EXPECT_EQ(all.in_dram + all.in_nvme, all.cached);
  EXPECT_GT(all.in_dram, 0u);
  EXPECT_GT(all.in_nvme, 0u);
  for (std::size_t hole : {699u, 448u, 447u, 193u, 192u, 191u, 65u, 64u, 63u, 1u, 0u}) {
    ASSERT_TRUE(s->remove(0, chain[hole]).ok()) << hole;
    PrefixMatch m = s->lookup(0, chain).value();
    EXPECT_EQ(m.cached, hole);
    EXPECT_EQ(m.cached, expected()) << hole;
    EXPECT_EQ(m.in_dram + m.in_nvme, m.cached) << hole;
  }
  // A chain shorter than the first window, and one longer than it that is held through its end.
  EXPECT_EQ(s->lookup(0, std::span(chain).first(1))->cached, 0u);
  std::vector<Key> tail(chain.begin() + 449, chain.begin() + 449 + 192);
  EXPECT_EQ(s->lookup(0, tail)->cached, tail.size());
}

TEST(Store, BatchesAnswerEachItem) {
  TempDir dir;
  auto s = open_store(small_store(dir.path()));
  std::vector<std::vector<std::byte>> values;
  std::vector<PutItem> puts;
  for (std::uint64_t i = 0; i < 20; ++i) values.push_back(pattern(test_key(i), kBlock));
  for (std::uint64_t i = 0; i < 20; ++i) puts.push_back({test_key(i), values[i]});
  std::vector<Status> st(puts.size());
  ASSERT_TRUE(s->put_many(0, puts, st).ok());
  for (const Status& x : st) EXPECT_TRUE(x.ok()) << x.to_string();
  std::vector<AlignedBuffer> bufs;
  std::vector<GetItem> gets;
  for (std::uint64_t i = 0; i < 25; ++i) {
    bufs.emplace_back(kBlock);
    gets.push_back({test_key(i), bufs.back().span()});
  }
  std::vector<GetResult> out(gets.size());
  ASSERT_TRUE(s->get_many(0, gets, out).ok());
  for (std::uint64_t i = 0; i < 25; ++i) {
    if (i < 20) {
      ASSERT_TRUE(out[i].status.ok()) << i;
      EXPECT_TRUE(matches_pattern(gets[i].dst.first(out[i].size), test_key(i)));
    } else {
      EXPECT_TRUE(out[i].status.is_not_found());
    }
  }
}

// A batch whose result span is not the items' length is the caller's mistake: InvalidArgument in
// every slot and as the call's answer, as Client's batch calls say it, never an abort.
TEST(Store, BatchSpansOfDifferentLengthsAreInvalidArguments) {
  TempDir dir;
  auto s = open_store(small_store(dir.path()));
  std::vector<std::byte> value = pattern(test_key(1), kBlock);
  std::vector<PutItem> puts = {{test_key(1), value}, {test_key(2), value}};
  std::vector<Status> one(1);
  Status put = s->put_many(0, puts, one);
  EXPECT_EQ(put.code(), StatusCode::kInvalidArgument) << put.to_string();
  EXPECT_NE(put.message().find("put_many: 2 items but 1 result slots"), std::string::npos);
  EXPECT_EQ(one[0].code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(s->contains(0, test_key(1)));  // nothing was stored
  AlignedBuffer buf(kBlock);
  std::vector<GetItem> gets = {{test_key(1), buf.span()}};
  std::vector<GetResult> three(3);
  EXPECT_EQ(s->get_many(0, gets, three).code(), StatusCode::kInvalidArgument);
  for (const GetResult& r : three) EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
}

TEST(Store, PinPromotesAndHoldsInDram) {
  TempDir dir;
  auto s = open_store(small_store(dir.path()));
  ASSERT_TRUE(put_n(*s, 0).ok());
  for (std::uint64_t i = 1; i < 30; ++i) ASSERT_TRUE(put_n(*s, i).ok());  // pushes 0 to NVMe
  ASSERT_TRUE(s->pin(0, test_key(0), std::chrono::seconds(60)).ok());
  for (std::uint64_t i = 100; i < 140; ++i) ASSERT_TRUE(put_n(*s, i).ok());
  GetResult r = get_n(*s, 0);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.tier, Tier::kDram) << "a pinned block stays in DRAM under pressure";
  ASSERT_TRUE(s->unpin(0, test_key(0)).ok());
  EXPECT_TRUE(s->pin(0, test_key(999), std::chrono::seconds(1)).is_not_found());
}

TEST(Store, ReplacingAKeyNeverServesTheOldBytes) {
  TempDir dir;
  auto s = open_store(small_store(dir.path()));
  ASSERT_TRUE(put_n(*s, 1).ok());
  for (std::uint64_t i = 10; i < 40; ++i) ASSERT_TRUE(put_n(*s, i).ok());  // 1 is on NVMe now
  std::vector<std::byte> v2 = pattern(test_key(1), kBlock, /*version=*/2);
  ASSERT_TRUE(s->put(0, test_key(1), v2).ok());
  for (std::uint64_t i = 40; i < 70; ++i) ASSERT_TRUE(put_n(*s, i).ok());  // and the new one too
  AlignedBuffer buf(kBlock);
  GetResult r = s->get(0, test_key(1), buf.span());
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(matches_pattern(buf.span(), test_key(1), 2));
}

// A replacing put that DRAM refuses (larger than DRAM) is stored on NVMe; the older version DRAM
// still held must go with it, or reads, a durable put's persist and close() would take the older
// bytes for the newest (the audit of 2026-12-07 saw a durable put answered OK and the older
// value served after a restart).
TEST(Store, AReplacementDramRefusesRetiresTheOlderDramCopy) {
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  constexpr std::size_t kLarge = 768 * kKiB;  // more than DRAM's capacity, less than a region
  ASSERT_GT(dram::block_charge(kLarge), c.dram.capacity_bytes);
  {
    auto s = open_store(c);
    ASSERT_TRUE(put_n(*s, 1).ok());  // version 1 in DRAM only
    std::vector<std::byte> v2 = pattern(test_key(1), kLarge, /*version=*/2);
    ASSERT_TRUE(s->put(0, test_key(1), v2, PutOptions{.durable = true}).ok());
    AlignedBuffer buf(kLarge);
    GetResult r = s->get(0, test_key(1), buf.span());
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    ASSERT_EQ(r.size, kLarge);
    EXPECT_TRUE(matches_pattern(buf.span().first(kLarge), test_key(1), 2));
    ASSERT_TRUE(s->close().ok());  // writes DRAM's dirty blocks down: none of key 1 is left
  }
  auto s = open_store(c);
  AlignedBuffer buf(kLarge);
  GetResult r = s->get(0, test_key(1), buf.span());
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  ASSERT_EQ(r.size, kLarge);
  EXPECT_TRUE(matches_pattern(buf.span().first(kLarge), test_key(1), 2));
}

TEST(Store, ValueLimitsAndEmptyValues) {
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  c.max_value_bytes = 2 * kMiB;
  auto s = open_store(c);
  EXPECT_EQ(s->put(0, test_key(1), {}).code(), StatusCode::kInvalidArgument);
  std::vector<std::byte> big(2 * kMiB + 1);
  EXPECT_EQ(s->put(0, test_key(1), big).code(), StatusCode::kTooLarge);
  // Larger than DRAM but within the NVMe region: goes straight to NVMe.
  ASSERT_TRUE(put_n(*s, 2, 900 * kKiB).ok());
  EXPECT_TRUE(get_n(*s, 2, 900 * kKiB).status.ok());
  std::vector<std::byte> small(10);
  GetResult r = s->get(0, test_key(2), small);
  EXPECT_EQ(r.status.code(), StatusCode::kBufferTooSmall);
  EXPECT_EQ(r.size, 900 * kKiB);
}

TEST(Store, FlushedBlocksSurviveSigkillAndCloseRestartsWarm) {
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  c.nvme.default_file_bytes = kPageSize + 40 * kMiB;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    auto s = Store::open(c);
    if (!s.ok()) ::_exit(2);
    // Few enough blocks that none is evicted from NVMe; most are still only in DRAM at flush.
    for (std::uint64_t i = 0; i < 100; ++i) {
      if (!put_n(**s, i).ok()) ::_exit(3);
    }
    if (!(*s)->flush().ok()) ::_exit(4);
    char ok = 1;
    if (::write(fds[1], &ok, 1) != 1) ::_exit(5);
    for (std::uint64_t i = 100; i < 100000; ++i) (void)put_n(**s, i);
    ::_exit(0);
  }
  ::close(fds[1]);
  char ok = 0;
  ASSERT_EQ(::read(fds[0], &ok, 1), 1);
  ::kill(pid, SIGKILL);
  int status;
  ::waitpid(pid, &status, 0);
  ::close(fds[0]);
  {
    auto s = open_store(c);
    EXPECT_EQ(s->recovery_summary().rfind("scan", 0), 0u) << s->recovery_summary();
    for (std::uint64_t i = 0; i < 100; ++i) {
      GetResult r = get_n(*s, i);
      EXPECT_TRUE(r.status.ok()) << "flushed block " << i << " lost: " << r.status.to_string();
    }
    ASSERT_TRUE(s->close().ok());
  }
  auto s = open_store(c);
  EXPECT_EQ(s->recovery_summary().rfind("checkpoint", 0), 0u) << s->recovery_summary();
  for (std::uint64_t i = 0; i < 100; ++i) EXPECT_TRUE(get_n(*s, i).status.ok()) << i;
}

// persist() and durable puts: what they acknowledged survives a SIGKILL of the process; blocks put
// alongside without them (still in DRAM only: no open-region writer, no region filled) do not,
// which shows the test can tell the two apart.
TEST(Store, PersistedBlocksSurviveSigkillAndOthersAreLost) {
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  c.nvme.default_file_bytes = kPageSize + 40 * kMiB;
  c.nvme.flush_interval = std::chrono::milliseconds(0);
  std::unique_ptr<Store> open;  // the child keeps it open through the kill
  const std::string verdict = in_child_then_sigkill([&]() -> std::string {
    auto s = Store::open(c);
    if (!s.ok()) return s.status().to_string();
    open = std::move(s).value();
    Store* store = open.get();
    std::vector<std::vector<std::byte>> values;
    std::vector<PutItem> durable;
    for (std::uint64_t i = 0; i < 3; ++i) values.push_back(pattern(test_key(i), kBlock));
    for (std::uint64_t i = 0; i < 3; ++i) durable.push_back({test_key(i), values[i]});
    std::vector<Status> out(durable.size());
    (void)store->put_many(0, durable, out, PutOptions{.durable = true});
    for (const Status& st : out) {
      if (!st.ok()) return "durable put: " + st.to_string();
    }
    for (std::uint64_t i = 3; i < 6; ++i) {
      if (Status p = put_n(*store, i); !p.ok()) return "put: " + p.to_string();
    }
    if (Status d = store->put(0, test_key(6), values[0], PutOptions{.durable = true}); !d.ok()) {
      return "durable put: " + d.to_string();
    }
    const std::vector<Key> later = {test_key(4), test_key(99)};  // 99 was never put
    std::vector<Status> persisted(later.size());
    (void)store->persist(0, later, persisted);
    if (!persisted[0].ok() || !persisted[1].is_not_found()) {
      return "persist: " + persisted[0].to_string() + ", " + persisted[1].to_string();
    }
    return "ok";
  });
  ASSERT_EQ(verdict, "ok");
  auto s = open_store(c);
  for (std::uint64_t i : {0, 1, 2, 4}) {
    GetResult r = get_n(*s, i);
    EXPECT_TRUE(r.status.ok()) << "persisted block " << i << " lost: " << r.status.to_string();
  }
  AlignedBuffer six(kBlock);
  ASSERT_TRUE(s->get(0, test_key(6), six.span()).status.ok());  // a single durable put
  EXPECT_TRUE(matches_pattern(six.span().first(kBlock), test_key(0)));
  for (std::uint64_t i : {3, 5}) EXPECT_TRUE(get_n(*s, i).status.is_not_found()) << i;
}

// The promise of docs/RELIABILITY.md, "Removals and replacements": once a REMOVE or a put is
// answered, no read returns the older bytes, crash or not. Blocks 0-3 are flushed to NVMe; then
// 0 is replaced (the new version in DRAM only), 1 removed, 2 replaced by a version too large for
// DRAM (stored on NVMe) and the process killed with no flush: 0 and 1 are misses or (never here)
// newer, 2 is its new version, 3 untouched.
TEST(Store, ARemovalOrReplacementAnsweredSurvivesSigkill) {
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  c.nvme.default_file_bytes = kPageSize + 40 * kMiB;
  c.nvme.flush_interval = std::chrono::milliseconds(0);  // nothing written behind the test's back
  const std::size_t large = c.dram.capacity_bytes + kBlock;
  std::unique_ptr<Store> open;  // the child keeps it open through the kill
  const std::string verdict = in_child_then_sigkill([&]() -> std::string {
    auto s = Store::open(c);
    if (!s.ok()) return s.status().to_string();
    open = std::move(s).value();
    Store& store = *open;
    for (std::uint64_t i = 0; i < 4; ++i) {
      if (Status p = put_n(store, i); !p.ok()) return "put: " + p.to_string();
    }
    if (Status f = store.flush(); !f.ok()) return "flush: " + f.to_string();
    std::vector<std::byte> newer = pattern(test_key(100), kBlock);
    if (Status p = store.put(0, test_key(0), newer); !p.ok()) return "replace: " + p.to_string();
    if (Status r = store.remove(0, test_key(1)); !r.ok()) return "remove: " + r.to_string();
    std::vector<std::byte> big = pattern(test_key(2), large);
    if (Status p = store.put(0, test_key(2), big); !p.ok()) return "large replace: " + p.to_string();
    return "ok";
  });
  ASSERT_EQ(verdict, "ok");
  auto s = open_store(c);
  EXPECT_TRUE(get_n(*s, 0).status.is_not_found()) << "the replaced version of block 0 came back";
  EXPECT_TRUE(get_n(*s, 1).status.is_not_found()) << "removed block 1 came back";
  GetResult two = get_n(*s, 2, large);
  EXPECT_TRUE(two.status.ok() ? two.size == large : two.status.is_not_found())
      << "block 2: " << two.status.to_string() << ", " << two.size << " bytes";
  EXPECT_TRUE(get_n(*s, 3).status.ok());
}

// A batch that replaces blocks the NVMe tier holds waits for their tombstones once, not once per
// block; a single replacing put waits for one sync of its own.
TEST(Store, AReplacingBatchWaitsForOneSync) {
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  c.nvme.flush_interval = std::chrono::milliseconds(0);  // no background syncs in the counts
  auto s = open_store(c);
  for (std::uint64_t i = 0; i < 6; ++i) ASSERT_TRUE(put_n(*s, i).ok());
  ASSERT_TRUE(s->flush().ok());
  std::vector<std::vector<std::byte>> values;
  std::vector<PutItem> items;
  for (std::uint64_t i = 0; i < 6; ++i) values.push_back(pattern(test_key(i), kBlock));
  for (std::uint64_t i = 0; i < 6; ++i) items.push_back({test_key(i), values[i]});
  const double before = counter_value(*s, "nvme_sync_requests");
  std::vector<Status> out(items.size());
  ASSERT_TRUE(s->put_many(0, items, out).ok());
  for (const Status& st : out) EXPECT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(counter_value(*s, "nvme_tombstones"), 6);
  EXPECT_EQ(counter_value(*s, "nvme_sync_requests") - before, 1);
  ASSERT_TRUE(s->flush().ok());
  const double single = counter_value(*s, "nvme_sync_requests");
  ASSERT_TRUE(put_n(*s, 0).ok());
  EXPECT_EQ(counter_value(*s, "nvme_sync_requests") - single, 1);
  ASSERT_TRUE(put_n(*s, 100).ok());  // a new key: no tombstone, no sync
  EXPECT_EQ(counter_value(*s, "nvme_sync_requests") - single, 1);
}

// A durable batch larger than the NVMe tier: its own writes reclaim its first items before the
// sync. Only items still on NVMe at the sync may be answered OK (the audit of 2026-12-07 saw 60 of
// 60 answered OK with 15 already reclaimed), and every one answered OK survives a SIGKILL.
TEST(Store, PersistAnswersOkOnlyForEntriesStillThereAtTheSync) {
  constexpr std::uint64_t kItems = 60;
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  c.dram.capacity_bytes = 2 * kItems * dram::block_charge(kBlock);  // all of them in DRAM first
  c.nvme.default_file_bytes = kPageSize + 3 * kMiB;
  c.nvme.flush_interval = std::chrono::milliseconds(0);
  // The child answers one character per item: '1' when it was answered OK.
  std::unique_ptr<Store> open;  // the child keeps it open through the kill
  const std::string ok = in_child_then_sigkill([&]() -> std::string {
    auto s = Store::open(c);
    if (!s.ok()) return s.status().to_string();
    open = std::move(s).value();
    Store* store = open.get();
    std::vector<std::vector<std::byte>> values;
    std::vector<PutItem> items;
    for (std::uint64_t i = 0; i < kItems; ++i) values.push_back(pattern(test_key(i), kBlock));
    for (std::uint64_t i = 0; i < kItems; ++i) items.push_back({test_key(i), values[i]});
    std::vector<Status> out(kItems);
    (void)store->put_many(0, items, out, PutOptions{.durable = true});
    std::string answers;
    for (const Status& st : out) answers += st.ok() ? '1' : '0';
    return answers;
  });
  ASSERT_EQ(ok.size(), kItems) << ok;
  auto s = open_store(c);
  std::uint64_t acked = 0;
  for (std::uint64_t i = 0; i < kItems; ++i) {
    if (ok[i] != '1') continue;
    ++acked;
    EXPECT_TRUE(get_n(*s, i).status.ok()) << "item " << i << " was answered durable and is lost";
  }
  EXPECT_GT(acked, 0u);
  EXPECT_LT(acked, kItems) << "the tier cannot hold them all: some must have been refused";
}

// Workers that computed the same prefix put the same keys durably at once: each put replaces the
// other's entry, and a replaced entry is not a lost one (the audit of 2026-12-07 saw about 8% of
// such puts answered IOError).
TEST(Store, ConcurrentDurablePutsOfTheSameKeysAreAnsweredOk) {
  constexpr std::uint64_t kKeys = 8;
  constexpr int kRounds = 60;
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  c.dram.capacity_bytes = 4 * kKeys * dram::block_charge(kBlock);  // no eviction between them
  c.nvme.flush_interval = std::chrono::milliseconds(0);
  auto s = open_store(c);
  std::vector<std::vector<std::byte>> values;
  std::vector<PutItem> items;
  for (std::uint64_t i = 0; i < kKeys; ++i) values.push_back(pattern(test_key(i), kBlock));
  for (std::uint64_t i = 0; i < kKeys; ++i) items.push_back({test_key(i), values[i]});
  std::atomic<int> failed{0};
  std::string first_failure;
  Mutex failure_mu;
  auto worker = [&] {
    for (int round = 0; round < kRounds; ++round) {
      std::vector<Status> out(kKeys);
      (void)s->put_many(0, items, out, PutOptions{.durable = true});
      for (const Status& st : out) {
        if (st.ok()) continue;
        if (failed.fetch_add(1) == 0) {
          MutexLock lock(failure_mu);
          first_failure = st.to_string();
        }
      }
    }
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  MutexLock lock(failure_mu);
  EXPECT_EQ(failed.load(), 0) << "of " << 2 * kRounds * kKeys << "; first: " << first_failure;
}

TEST(Store, PersistWithoutAnNvmeTierRefusesEachItem) {
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  c.nvme.default_file_bytes = 0;
  auto s = open_store(c);
  ASSERT_TRUE(put_n(*s, 1).ok());
  const std::vector<Key> keys = {test_key(1), test_key(2)};
  std::vector<Status> out(keys.size());
  ASSERT_TRUE(s->persist(0, keys, out).ok());
  for (const Status& st : out) EXPECT_EQ(st.code(), StatusCode::kRejected) << st.to_string();
  std::vector<Status> short_out(1);
  EXPECT_EQ(s->persist(0, keys, short_out).code(), StatusCode::kInvalidArgument);
}

// Regression: flush() racing puts on other threads used to miss blocks those puts had evicted
// from DRAM but not yet written to NVMe. Each trial: 4 writers, a flush while they run, SIGKILL;
// every put that had returned before flush() began must be there after recovery.
TEST(Store, FlushDuringConcurrentPutsKeepsEveryCompletedPut) {
  constexpr int kWriters = 4, kPerWriter = 120;
  constexpr std::size_t kSize = 64 * kKiB;
  auto key_of = [](int w, int i) { return test_key(static_cast<std::uint64_t>(w) * 100000 + i); };
  for (int trial = 0; trial < 6; ++trial) {
    TempDir dir;
    StoreConfig c = small_store(dir.path());
    c.dram.capacity_bytes = 1 * kMiB;
    c.dram.shards = 1;
    c.nvme.default_file_bytes = kPageSize + 64 * kMiB;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      auto opened = Store::open(c);
      if (!opened.ok()) ::_exit(2);
      Store& s = **opened;
      std::atomic<int> done[kWriters];
      for (auto& d : done) d = 0;
      std::vector<std::thread> writers;
      for (int w = 0; w < kWriters; ++w) {
        writers.emplace_back([&, w] {
          for (int i = 0; i < kPerWriter; ++i) {
            Key k = key_of(w, i);
            if (!s.put(0, k, pattern(k, kSize)).ok()) ::_exit(3);
            done[w] = i + 1;
          }
        });
      }
      ::usleep(2000 + trial * 1500);
      int completed[kWriters];
      for (int w = 0; w < kWriters; ++w) completed[w] = done[w].load();
      if (!s.flush().ok()) ::_exit(4);
      if (::write(fds[1], completed, sizeof completed) != sizeof completed) ::_exit(5);
      ::raise(SIGKILL);
    }
    ::close(fds[1]);
    int completed[kWriters];
    ssize_t n = ::read(fds[0], completed, sizeof completed);
    ::close(fds[0]);
    int status;
    ::waitpid(pid, &status, 0);
    ASSERT_EQ(n, static_cast<ssize_t>(sizeof completed)) << "the child failed before its flush";
    auto s = open_store(c);
    for (int w = 0; w < kWriters; ++w) {
      for (int i = 0; i < completed[w]; ++i) {
        AlignedBuffer buf(kSize);
        GetResult g = s->get(0, key_of(w, i), buf.span());
        ASSERT_TRUE(g.status.ok()) << "trial " << trial << ": put " << w << "/" << i << " lost";
        EXPECT_TRUE(matches_pattern(buf.span(), key_of(w, i)));
      }
    }
  }
}

TEST(Store, NamespacesAreSeparateAndCounted) {
  TempDir dir;
  auto s = open_store(small_store(dir.path()));
  ASSERT_TRUE(put_n(*s, 1, kBlock, 7).ok());
  EXPECT_TRUE(get_n(*s, 1, kBlock, 7).status.ok());
  EXPECT_TRUE(get_n(*s, 1, kBlock, 8).status.is_not_found());
  EXPECT_FALSE(s->contains(8, test_key(1)));
  EXPECT_EQ(s->namespace_usage(7, Tier::kDram).blocks, 1u);
  EXPECT_EQ(s->namespace_usage(7, Tier::kDram).bytes, kBlock);
  EXPECT_EQ(s->namespace_usage(8, Tier::kDram).blocks, 0u);
}

TEST(Store, BadConfigIsAClearError) {
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  c.dram.shards = 3;
  auto s = Store::open(c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("shards"), std::string::npos) << s.status().message();

  Result<StoreConfig> parsed = parse_store_config_toml("[nvme]\nregion_sise = \"64MiB\"\n");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("region_sise"), std::string::npos) << parsed.status().message();
}

TEST(Store, ClosedStoreRefusesWork) {
  TempDir dir;
  auto s = open_store(small_store(dir.path()));
  ASSERT_TRUE(s->close().ok());
  EXPECT_EQ(put_n(*s, 1).code(), StatusCode::kClosed);
  EXPECT_EQ(s->flush().code(), StatusCode::kClosed);
}

TEST(Store, ConcurrentReadersAndWritersSeeOnlyExactBytes) {
  TempDir dir;
  auto s = open_store(small_store(dir.path()));
  std::atomic<int> bad{0};
  std::atomic<int> hits{0};
  std::atomic<int> writers_left{2};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (std::uint64_t i = 0; i < 300; ++i) (void)put_n(*s, (i * 2 + w) % 120);
      writers_left.fetch_sub(1);
    });
  }
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      // Reads while the writers write (at least 600 times), bounded by count.
      for (std::uint64_t i = 0; i < 200000 && (i < 600 || writers_left.load() > 0); ++i) {
        GetResult g = get_n(*s, (i * 5 + r) % 120);
        if (g.status.code() == StatusCode::kCorruption) bad.fetch_add(1);
        if (g.status.ok()) hits.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(hits.load(), 0);
}

}  // namespace
}  // namespace kvtier

namespace kvtier {
namespace {

TEST(StoreZeroCopy, ViewServesDramHitsAndLeavesMissesToGet) {
  TempDir dir;
  auto s = open_store(small_store(dir.path()));
  ASSERT_TRUE(put_n(*s, 1).ok());
  const double out_before = counter_value(*s, "store_bytes_out");
  Result<engine::BlockView> v = s->view(0, test_key(1));
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(matches_pattern(v->bytes(), test_key(1)));
  EXPECT_EQ(counter_value(*s, "store_bytes_out") - out_before, kBlock);  // served zero-copy
  double misses = counter_value(*s, "dram_misses");
  EXPECT_TRUE(s->view(0, test_key(2)).status().is_not_found());
  EXPECT_TRUE(s->view(7, test_key(1)).status().is_not_found());  // another namespace
  EXPECT_EQ(counter_value(*s, "dram_misses"), misses);  // get() counts the miss, view() does not
  // The view keeps its bytes while the block is replaced and evicted.
  std::vector<std::byte> v2 = pattern(test_key(1), kBlock, 2);
  ASSERT_TRUE(s->put(0, test_key(1), v2).ok());
  for (std::uint64_t i = 10; i < 30; ++i) ASSERT_TRUE(put_n(*s, i).ok());
  EXPECT_TRUE(matches_pattern(v->bytes(), test_key(1)));
  v = engine::BlockView();
}

TEST(StoreZeroCopy, BeginPutIsInvisibleUntilCommitAndDroppedWithoutATrace) {
  TempDir dir;
  auto s = open_store(small_store(dir.path()));
  {
    Result<engine::PutBuffer> b = s->begin_put(0, test_key(5), kBlock);
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    EXPECT_EQ(b->bytes().size(), kBlock);
    EXPECT_TRUE(is_page_aligned(b->bytes().data()));
    kvtier::testing::fill_pattern(b->bytes(), test_key(5));
    EXPECT_FALSE(s->contains(0, test_key(5)));
  }  // dropped
  EXPECT_FALSE(s->contains(0, test_key(5)));
  Result<engine::PutBuffer> b = s->begin_put(0, test_key(5), kBlock);
  ASSERT_TRUE(b.ok());
  kvtier::testing::fill_pattern(b->bytes(), test_key(5));
  ASSERT_TRUE(s->commit_put(std::move(b).value()).ok());
  EXPECT_TRUE(get_n(*s, 5).status.ok());
  EXPECT_EQ(s->begin_put(0, test_key(6), 0).status().code(), StatusCode::kInvalidArgument);
  // Larger than DRAM: TooLarge, so the caller falls back to put() (which goes to NVMe).
  EXPECT_EQ(s->begin_put(0, test_key(6), 9 * kBlock).status().code(), StatusCode::kTooLarge);
}

TEST(StoreZeroCopy, CommitPutReplacesAnOlderCopyOnNvme) {
  TempDir dir;
  auto s = open_store(small_store(dir.path()));
  ASSERT_TRUE(put_n(*s, 1).ok());
  for (std::uint64_t i = 10; i < 40; ++i) ASSERT_TRUE(put_n(*s, i).ok());  // 1 is on NVMe now
  Result<engine::PutBuffer> b = s->begin_put(0, test_key(1), kBlock);
  ASSERT_TRUE(b.ok());
  std::vector<std::byte> v2 = pattern(test_key(1), kBlock, 2);
  std::memcpy(b->bytes().data(), v2.data(), kBlock);
  ASSERT_TRUE(s->commit_put(std::move(b).value()).ok());
  for (std::uint64_t i = 40; i < 70; ++i) ASSERT_TRUE(put_n(*s, i).ok());  // evict the new one too
  AlignedBuffer buf(kBlock);
  GetResult r = s->get(0, test_key(1), buf.span());
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(matches_pattern(buf.span(), test_key(1), 2));
}

}  // namespace
}  // namespace kvtier

namespace kvtier {
namespace {

// Regression: close() failed (and kvtierd exited 1 on SIGTERM) when DRAM held a block larger than
// the NVMe tier's largest entry; such a block lives in DRAM only and is counted, as documented.
TEST(Store, CloseSucceedsWithADramBlockTooLargeForNvme) {
  TempDir dir;
  StoreConfig c = small_store(dir.path());
  c.dram.capacity_bytes = 4 * kMiB;
  c.max_value_bytes = 2 * kMiB;  // NVMe regions are 1 MiB: a 1.5 MiB block fits DRAM only
  auto s = open_store(c);
  ASSERT_TRUE(put_n(*s, 1, 1536 * kKiB).ok());
  EXPECT_TRUE(s->flush().ok());
  EXPECT_GE(counter_value(*s, "store_flush_skipped"), 1);
  EXPECT_TRUE(s->close().ok());
}

}  // namespace
}  // namespace kvtier
