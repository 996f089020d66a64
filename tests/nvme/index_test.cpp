// nvme::Index: entries, growth, backward-shift deletion, probes, persistence and concurrency.
#include "nvme/index.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <thread>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "integrity/checksum.h"
#include "support/aliased_keys.h"

namespace kvtier::nvme {
namespace {

// Deterministic uniform keys (what SHA-256 keys look like to the index).
class KeyGen {
 public:
  explicit KeyGen(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  Key key() {
    Key k;
    const std::uint64_t a = next(), b = next();
    std::memcpy(k.bytes.data(), &a, 8);
    std::memcpy(k.bytes.data() + 8, &b, 8);
    return k;
  }
  std::vector<Key> keys(std::size_t n) {
    std::vector<Key> out(n);
    for (auto& k : out) k = key();
    return out;
  }

 private:
  std::uint64_t state_;
};

BlockId id_of(const Key& k, NamespaceId ns = kDefaultNamespace) { return BlockId{ns, k}; }

Location loc(std::uint64_t page, std::uint32_t size = 4096) { return Location{page, size, 0}; }

// Location for the i-th test key: distinct pages, sizes that use all 32 bits now and then.
Location loc_for(std::size_t i) {
  return Location{(i * 0x9E3779B1ull) & kMaxIndexPage,
                  static_cast<std::uint32_t>(i * 2654435761u) | 1u, 0,
                  (i * 0x2545F4914F6CDD1Dull) & kMaxIndexSeq};
}

TEST(Index, InsertLookupRemove) {
  Index index(8);
  KeyGen gen(1);
  const BlockId a = id_of(gen.key()), b = id_of(gen.key());
  EXPECT_FALSE(index.lookup(a, false).has_value());
  EXPECT_FALSE(index.insert(a, loc(10, 100)).has_value());
  EXPECT_FALSE(index.insert(b, Location{kMaxIndexPage, 0xFFFFFFFFu, 7}).has_value());
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.lookup(a, false), loc(10, 100));
  // Full-width page and size survive the packing; hits start at 0 whatever the caller passed.
  EXPECT_EQ(index.lookup(b, false), (Location{kMaxIndexPage, 0xFFFFFFFFu, 0}));
  EXPECT_EQ(index.remove(a), loc(10, 100));
  EXPECT_FALSE(index.lookup(a, false).has_value());
  EXPECT_FALSE(index.remove(a).has_value());
  EXPECT_EQ(index.size(), 1u);
  EXPECT_TRUE(index.lookup(b, false).has_value());
}

TEST(Index, ReplaceReturnsOldLocationAndResetsHits) {
  Index index(4);
  const BlockId a = id_of(KeyGen(2).key());
  EXPECT_FALSE(index.insert(a, loc(1)).has_value());
  index.lookup(a, true);
  index.lookup(a, true);
  EXPECT_EQ(index.lookup(a, false)->hits, 2);
  EXPECT_EQ(index.insert(a, loc(2, 77)), (Location{1, 4096, 2}));
  EXPECT_EQ(index.lookup(a, false), loc(2, 77));
  EXPECT_EQ(index.size(), 1u);
}

TEST(Index, RemoveIfAtOnlyActsAtMatchingPage) {
  Index index(4);
  const BlockId a = id_of(KeyGen(3).key());
  index.insert(a, loc(5));
  EXPECT_FALSE(index.remove_if_at(a, 6).has_value());
  EXPECT_EQ(index.lookup(a, false), loc(5));
  EXPECT_EQ(index.remove_if_at(a, 5), loc(5));
  EXPECT_FALSE(index.lookup(a, false).has_value());
  EXPECT_FALSE(index.remove_if_at(a, 5).has_value());
}

TEST(IndexDeathTest, InsertChecksSizeAndPage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Index index(1);
  const BlockId a = id_of(KeyGen(18).key());
  EXPECT_DEATH(index.insert(a, loc(1, 0)), "invariant failed");
  EXPECT_DEATH(index.insert(a, loc(kMaxIndexPage + 1)), "invariant failed");
  EXPECT_DEATH(Index bad(3), "invariant failed");
}

TEST(Index, HitsSaturateAt255) {
  Index index(1);
  const BlockId a = id_of(KeyGen(5).key());
  index.insert(a, loc(1));
  for (int i = 0; i < 300; ++i) index.lookup(a, true);
  EXPECT_EQ(index.lookup(a, true)->hits, 255);
  EXPECT_EQ(index.lookup(a, false)->hits, 255);
  EXPECT_EQ(index.lookup(a, false)->page, 1u);  // the counter does not spill into the page
}

TEST(Index, NamespacesWithTheSameKeyAreDistinct) {
  Index index(16);
  const Key k = KeyGen(6).key();
  for (NamespaceId ns = 0; ns < 100; ++ns) index.insert(id_of(k, ns), loc(ns + 1));
  EXPECT_EQ(index.size(), 100u);
  for (NamespaceId ns = 0; ns < 100; ++ns)
    EXPECT_EQ(index.lookup(id_of(k, ns), false), loc(ns + 1));
  index.remove(id_of(k, 50));
  EXPECT_FALSE(index.lookup(id_of(k, 50), false).has_value());
  EXPECT_TRUE(index.lookup(id_of(k, 51), false).has_value());
}

// Until 727dc88 a slot kept only a 48-bit tag that another namespace could aim at
// (support/aliased_keys.h); the index must keep such ids apart.
using kvtier::testing::alias_727dc88;

TEST(Index, IdsAliasedUnderTheOldTagStayApart) {
  Index index(16);
  KeyGen gen(7);
  const NamespaceId a = 0x1234, b = 0xBEEF;
  std::vector<Key> keys = gen.keys(2000), aliases;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    index.insert(id_of(keys[i], a), loc_for(i + 1));
    aliases.push_back(alias_727dc88(keys[i], a, b));
  }
  std::vector<std::uint8_t> found(aliases.size(), 9);
  index.probe(b, aliases, found);
  for (std::size_t i = 0; i < aliases.size(); ++i) {
    ASSERT_EQ(found[i], 0) << i;
    ASSERT_FALSE(index.lookup(id_of(aliases[i], b), true).has_value()) << i;
    ASSERT_FALSE(index.remove_if_at(id_of(aliases[i], b), loc_for(i + 1).page).has_value()) << i;
    ASSERT_FALSE(index.remove(id_of(aliases[i], b)).has_value()) << i;
  }
  // B's own entries under the aliased keys replace nothing of A's.
  for (std::size_t i = 0; i < aliases.size(); ++i) {
    ASSERT_FALSE(index.insert(id_of(aliases[i], b), loc(7, 99)).has_value()) << i;
  }
  EXPECT_EQ(index.size(), 2 * keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    ASSERT_EQ(index.lookup(id_of(keys[i], a), false), loc_for(i + 1)) << i;
    ASSERT_EQ(index.lookup(id_of(aliases[i], b), false), loc(7, 99)) << i;
  }
}

TEST(Index, GrowthAndBackwardShiftKeepEveryEntry) {
  Index index(4);
  KeyGen gen(8);
  const std::size_t n = 200'000;
  const std::vector<Key> keys = gen.keys(n);
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_FALSE(index.insert(id_of(keys[i]), loc_for(i)).has_value());
  ASSERT_EQ(index.size(), n);
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_EQ(index.lookup(id_of(keys[i]), false), loc_for(i)) << i;
  for (std::size_t i = 0; i < n; i += 2) ASSERT_EQ(index.remove(id_of(keys[i])), loc_for(i)) << i;
  ASSERT_EQ(index.size(), n / 2);
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      ASSERT_FALSE(index.lookup(id_of(keys[i]), false).has_value()) << i;
    } else {
      ASSERT_EQ(index.lookup(id_of(keys[i]), false), loc_for(i)) << i;
    }
  }
  // Tables do not shrink, but they are reused: re-inserting does not grow them.
  const std::size_t bytes = index.memory_bytes();
  for (std::size_t i = 0; i < n; i += 2) index.insert(id_of(keys[i]), loc_for(i));
  EXPECT_EQ(index.memory_bytes(), bytes);
  EXPECT_EQ(index.size(), n);
}

// Random inserts and removes in one small shard (long clusters, wrap-around at the table end)
// checked against a model after every operation batch.
TEST(Index, RandomOperationsMatchAModel) {
  Index index(1);
  KeyGen gen(9);
  const std::vector<Key> keys = gen.keys(3000);
  std::unordered_map<std::size_t, Location> model;
  for (int step = 0; step < 60'000; ++step) {
    const std::size_t i = gen.next() % keys.size();
    const BlockId id = id_of(keys[i]);
    const auto it = model.find(i);
    const std::optional<Location> expected =
        it == model.end() ? std::nullopt : std::optional<Location>(it->second);
    switch (gen.next() % 4) {
      case 0:
      case 1: {
        const Location l = loc(gen.next() & kMaxIndexPage, static_cast<std::uint32_t>(step + 1));
        ASSERT_EQ(index.insert(id, l), expected);
        model[i] = l;
        break;
      }
      case 2:
        ASSERT_EQ(index.remove(id), expected);
        model.erase(i);
        break;
      default:
        ASSERT_EQ(index.lookup(id, false), expected);
    }
    if (step % 5000 == 0) {
      ASSERT_EQ(index.size(), model.size());
      for (std::size_t j = 0; j < keys.size(); ++j) {
        const auto m = model.find(j);
        ASSERT_EQ(index.lookup(id_of(keys[j]), false),
                  m == model.end() ? std::nullopt : std::optional<Location>(m->second));
      }
    }
  }
}

TEST(Index, ProbeMatchesLookup) {
  Index index(16);
  KeyGen gen(10);
  const std::vector<Key> keys = gen.keys(5000);
  for (std::size_t i = 0; i < keys.size(); i += 3) index.insert(id_of(keys[i], 7), loc_for(i));
  for (std::size_t i = 1; i < keys.size(); i += 3) index.insert(id_of(keys[i], 8), loc_for(i));
  for (NamespaceId ns : {7u, 8u, 9u}) {
    std::vector<std::uint8_t> found(keys.size(), 0xAA);
    index.probe(ns, keys, found);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      ASSERT_EQ(found[i] == 1, index.lookup(id_of(keys[i], ns), false).has_value())
          << ns << " " << i;
      ASSERT_LE(found[i], 1);
    }
  }
  // Probes count no hits; an empty probe is fine.
  EXPECT_EQ(index.lookup(id_of(keys[0], 7), false)->hits, 0);
  index.probe(7, {}, {});
}

void expect_same_content(Index& a, Index& b, const std::vector<BlockId>& ids) {
  ASSERT_EQ(a.size(), b.size());
  for (const BlockId& id : ids) ASSERT_EQ(a.lookup(id, false), b.lookup(id, false));
}

TEST(Index, SerializeRestoreRoundTrip) {
  Index index(8);
  KeyGen gen(11);
  std::vector<BlockId> ids;
  for (std::size_t i = 0; i < 20'000; ++i) {
    ids.push_back(id_of(gen.key(), static_cast<NamespaceId>(i % 3)));
    index.insert(ids.back(), loc_for(i));
  }
  for (std::size_t i = 0; i < ids.size(); i += 7) index.lookup(ids[i], true);  // hits persist
  for (std::size_t i = 0; i < ids.size(); i += 5) index.remove(ids[i]);
  for (int i = 0; i < 10; ++i) ids.push_back(id_of(gen.key()));  // never inserted

  const std::vector<std::byte> image = index.serialize();
  EXPECT_EQ(image.size(), 20 + index.size() * 40 + 8);  // header, entries, checksum
  Index copy(8);
  copy.insert(ids[1], loc(123));  // replaced by restore
  copy.insert(id_of(gen.key()), loc(456));
  ASSERT_TRUE(copy.restore(image).ok());
  expect_same_content(index, copy, ids);
  // A restored table is fully usable and its image restores to the same content again.
  Index again(8);
  ASSERT_TRUE(again.restore(copy.serialize()).ok());
  expect_same_content(index, again, ids);
  copy.insert(id_of(gen.key()), loc(1));
  EXPECT_EQ(copy.size(), index.size() + 1);

  // Empty index round trip.
  Index empty(8), empty_copy(8);
  empty_copy.insert(ids[0], loc(1));
  ASSERT_TRUE(empty_copy.restore(empty.serialize()).ok());
  EXPECT_EQ(empty_copy.size(), 0u);
}

TEST(Index, RestoresIntoAnotherShardCount) {
  // The image holds whole ids, not placement: it loads into any shard count.
  Index a(8), b(64), c(1);
  KeyGen gen(12);
  std::vector<BlockId> ids;
  for (std::size_t i = 0; i < 3000; ++i) {
    ids.push_back(id_of(gen.key(), static_cast<NamespaceId>(i % 5)));
    a.insert(ids.back(), loc_for(i));
  }
  ASSERT_TRUE(b.restore(a.serialize()).ok());
  ASSERT_TRUE(c.restore(b.serialize()).ok());
  expect_same_content(a, b, ids);
  expect_same_content(a, c, ids);
}

// An image of `index` with a valid checksum: lets the tests reach the structural checks.
std::vector<std::byte> reseal(std::vector<std::byte> image) {
  const std::size_t body = image.size() - 8;
  const std::uint64_t sum = block_checksum(std::span<const std::byte>(image).first(body));
  for (int i = 0; i < 8; ++i) image[body + i] = static_cast<std::byte>(sum >> (8 * i));
  return image;
}

void put64(std::vector<std::byte>& image, std::size_t off, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) image[off + i] = static_cast<std::byte>(v >> (8 * i));
}

TEST(Index, RestoreRejectsCorruptImages) {
  Index source(4);
  KeyGen gen(13);
  std::vector<BlockId> ids;
  for (std::size_t i = 0; i < 300; ++i) {
    ids.push_back(id_of(gen.key()));
    source.insert(ids.back(), loc_for(i));
  }
  const std::vector<std::byte> good = source.serialize();

  Index target(4);
  const BlockId marker = id_of(gen.key());
  target.insert(marker, loc(99));
  auto expect_rejected = [&](std::span<const std::byte> image, StatusCode code) {
    const Status s = target.restore(image);
    ASSERT_EQ(s.code(), code) << s.to_string();
    ASSERT_FALSE(s.message().empty());
    // A failed restore leaves the content alone.
    ASSERT_EQ(target.size(), 1u);
    ASSERT_EQ(target.lookup(marker, false), loc(99));
  };

  // Every truncation.
  for (std::size_t len = 0; len < good.size(); ++len) {
    expect_rejected(std::span<const std::byte>(good).first(len), StatusCode::kCorruption);
  }
  // Every single-byte flip (magic, version, shard count, headers, slots, checksum).
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::vector<std::byte> bad = good;
    bad[i] ^= std::byte{0x5A};
    const Status s = target.restore(bad);
    ASSERT_FALSE(s.ok()) << "flip at " << i;
    ASSERT_EQ(target.size(), 1u);
  }
  // Random garbage, with and without a valid magic and version in front.
  KeyGen noise(14);
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::byte> junk(noise.next() % 600);
    for (auto& b : junk) b = static_cast<std::byte>(noise.next());
    if (round % 2 == 1 && junk.size() >= 16) std::memcpy(junk.data(), good.data(), 16);
    if (round % 4 == 3 && junk.size() >= 24) junk = reseal(std::move(junk));
    ASSERT_FALSE(target.restore(junk).ok());
    ASSERT_EQ(target.size(), 1u);
  }
  // Structurally wrong but correctly checksummed images. Header: magic, u32 version at 8, u64
  // count at 12; entries of 40 bytes from 20: key[16], u32 ns, u32 size, u64 loc, u64 seq.
  const std::size_t entry0 = 20, entry1 = 60;
  {
    std::vector<std::byte> bad = good;
    bad[8] = std::byte{3};  // version 3
    expect_rejected(reseal(bad), StatusCode::kCorruption);
  }
  for (std::uint64_t count : {std::uint64_t{0}, std::uint64_t{299}, std::uint64_t{301},
                              std::uint64_t{1} << 60}) {
    std::vector<std::byte> bad = good;
    put64(bad, 12, count);  // a count that does not match the entries
    expect_rejected(reseal(bad), StatusCode::kCorruption);
  }
  {
    std::vector<std::byte> bad = good;
    for (int i = 0; i < 4; ++i) bad[entry0 + 20 + i] = std::byte{0};  // first entry: size 0
    expect_rejected(reseal(bad), StatusCode::kCorruption);
  }
  {
    std::vector<std::byte> bad = good;
    bad[entry0 + 24 + 7] = std::byte{1};  // loc bits above hits
    expect_rejected(reseal(bad), StatusCode::kCorruption);
  }
  {
    std::vector<std::byte> bad = good;
    put64(bad, entry0 + 32, kMaxIndexSeq + 1);  // a generation past 48 bits
    expect_rejected(reseal(bad), StatusCode::kCorruption);
  }
  {
    std::vector<std::byte> bad = good;
    std::memcpy(bad.data() + entry1, bad.data() + entry0, 40);  // duplicate id
    expect_rejected(reseal(bad), StatusCode::kCorruption);
  }
  {
    std::vector<std::byte> bad = good;
    bad.insert(bad.end() - 8, 40, std::byte{1});  // trailing entry nobody counted
    expect_rejected(reseal(bad), StatusCode::kCorruption);
  }
  // Random mutations behind a valid checksum: rejected or accepted, never a crash, and an
  // accepted image leaves a consistent index.
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::byte> bad = good;
    const int flips = 1 + static_cast<int>(noise.next() % 4);
    for (int f = 0; f < flips; ++f) {
      bad[noise.next() % (bad.size() - 8)] = static_cast<std::byte>(noise.next());
    }
    Index scratch(4);
    if (scratch.restore(reseal(bad)).ok()) {
      std::size_t present = 0;
      for (const BlockId& id : ids) present += scratch.lookup(id, false).has_value();
      ASSERT_LE(present, scratch.size());
    }
  }
  // The good image still restores after all that.
  ASSERT_TRUE(target.restore(good).ok());
  expect_same_content(source, target, ids);
}

TEST(Index, BytesPerEntryAtOneMillion) {
  Index index(64);
  KeyGen gen(15);
  const std::size_t n = 1'000'000;
  for (std::size_t i = 0; i < n; ++i) index.insert(id_of(gen.key()), loc_for(i));
  ASSERT_EQ(index.size(), n);
  const double per_entry = static_cast<double>(index.memory_bytes()) / static_cast<double>(n);
  // 40-byte slots at a load between 0.8 / 1.5 and 0.8.
  EXPECT_LT(per_entry, 40.0 * 1.5 / 0.8 + 1);
  EXPECT_GE(per_entry, 40.0 / 0.8);
  RecordProperty("bytes_per_entry", std::to_string(per_entry));
}

TEST(Index, ClearEmptiesAndShrinks) {
  Index index(4);
  KeyGen gen(16);
  const std::size_t initial = index.memory_bytes();
  std::vector<Key> keys = gen.keys(10'000);
  for (std::size_t i = 0; i < keys.size(); ++i) index.insert(id_of(keys[i]), loc_for(i));
  EXPECT_GT(index.memory_bytes(), initial);
  index.clear();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.memory_bytes(), initial);
  EXPECT_FALSE(index.lookup(id_of(keys[0]), false).has_value());
  index.insert(id_of(keys[0]), loc(3));
  EXPECT_EQ(index.lookup(id_of(keys[0]), false), loc(3));
}

TEST(Index, ConcurrentWritersLoseNothing) {
  Index index(8);
  constexpr int kThreads = 4;
  constexpr std::size_t kOwn = 30'000;
  constexpr std::size_t kShared = 5'000;
  KeyGen gen(17);
  const std::vector<Key> shared = gen.keys(kShared);
  std::vector<std::vector<Key>> own(kThreads);
  for (auto& v : own) v = gen.keys(kOwn);

  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::uint64_t base = std::uint64_t(t) << 32;
      std::vector<std::uint8_t> found(256);
      for (std::size_t i = 0; i < kOwn; ++i) {
        index.insert(id_of(own[t][i]), loc(base + i));
        // Every thread writes, reads and removes the shared keys too.
        const Key& s = shared[(i * 7 + t) % kShared];
        if (i % 3 == 0) {
          index.remove(id_of(s));
        } else {
          index.insert(id_of(s), loc(base + i));
        }
        if (i % 2 == 0) index.lookup(id_of(shared[i % kShared]), true);
        if (!index.lookup(id_of(own[t][i / 2]), i % 4 == 0).has_value()) ++failures[t];
        if (i % 1000 == 999) {
          index.probe(kDefaultNamespace, std::span<const Key>(own[t]).subspan(i - 255, 256), found);
          for (std::uint8_t f : found) failures[t] += f != 1;
        }
        // Churn a private key set so tables also shrink clusters while others grow them.
        if (i % 5 == 4) {
          index.remove(id_of(own[t][i - 4]));
          index.insert(id_of(own[t][i - 4]), loc(base + i - 4));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;

  std::size_t shared_present = 0;
  for (const Key& s : shared) shared_present += index.lookup(id_of(s), false).has_value();
  EXPECT_EQ(index.size(), kThreads * kOwn + shared_present);
  for (int t = 0; t < kThreads; ++t) {
    for (std::size_t i = 0; i < kOwn; ++i) {
      const auto l = index.lookup(id_of(own[t][i]), false);
      ASSERT_TRUE(l.has_value()) << t << " " << i;
      ASSERT_EQ(l->page, (std::uint64_t(t) << 32) + i);
    }
  }
}

}  // namespace
}  // namespace kvtier::nvme
