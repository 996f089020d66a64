// The packed backend's checks on a real object store, shared by its S3 (Ceph RGW) and Azure Blob
// (Azurite) tests: two nodes share blocks in a few large objects (request counts show the
// packing), and a frozen server fails a flush at its deadline while the retry lands.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "shared/packed/packed_backend.h"
#include "support/test_support.h"

namespace kvtier::shared::packed::checks {

// A node on the store under test: a PackedBackend whose first whole listing is done.
using NodeFactory = std::function<std::unique_ptr<PackedBackend>()>;

inline Deadline soon() { return Clock::now() + std::chrono::seconds(20); }

inline double counter(const PackedBackend& b, std::string_view name) {
  double v = -1;
  b.visit_counters([&](std::string_view n, double value, CounterKind) {
    if (n == name) v = value;
  });
  return v;
}

// B's first listing finds A's first segment; the other 199 blocks it finds by an incremental
// listing. Nodes write 16 MiB segments.
inline void two_nodes_share_blocks_in_a_few_large_objects(const NodeFactory& node) {
  using kvtier::testing::matches_pattern;
  using kvtier::testing::pattern;
  using kvtier::testing::test_key;
  auto a = node();
  auto b = node();
  ASSERT_TRUE(a && b);
  constexpr int kBlocks = 200;
  constexpr std::size_t kSize = 256 << 10;  // 50 MiB in all
  for (int n = 0; n < kBlocks; ++n) {
    const BlockId id{1, test_key(static_cast<std::uint64_t>(n))};
    const auto value = pattern(id.key, kSize);
    SharedPut p{id, value};
    Status s;
    a->put_many({&p, 1}, {&s, 1}, soon());
    ASSERT_TRUE(s.ok()) << s.to_string();
    if (n == 0) {
      ASSERT_TRUE(a->flush(soon()).ok());
      ASSERT_TRUE(b->refresh(true).ok());
    }
  }
  ASSERT_TRUE(a->flush(soon()).ok());
  // 50 MiB in 16 MiB segments after a first one of one block: 5 segments, each its parts, its
  // completion and an index: a few dozen requests for 200 blocks.
  EXPECT_LE(counter(*a, "shared_packed_put_requests"), 45);
  EXPECT_EQ(counter(*a, "shared_packed_segments_published"), 5);
  ASSERT_TRUE(b->refresh(false).ok());
  std::vector<std::byte> dst(kSize);
  for (int n = 0; n < kBlocks; ++n) {
    const BlockId id{1, test_key(static_cast<std::uint64_t>(n))};
    SharedGet g{id, dst};
    GetResult r;
    b->get_many({&g, 1}, {&r, 1}, soon());
    ASSERT_TRUE(r.status.ok()) << n << ": " << r.status.to_string();
    ASSERT_EQ(r.size, kSize);
    EXPECT_TRUE(matches_pattern(dst, id.key)) << n;
  }
  EXPECT_EQ(counter(*b, "shared_packed_get_requests"), kBlocks) << "one ranged GET per block";
}

// `pause` freezes the server (true once every thread is stopped), `resume` thaws it.
inline void a_frozen_server_fails_the_flush_at_its_deadline_and_the_retry_lands(
    const NodeFactory& node, const std::function<bool()>& pause, const std::function<void()>& resume) {
  using kvtier::testing::matches_pattern;
  using kvtier::testing::pattern;
  using kvtier::testing::test_key;
  auto a = node();
  ASSERT_TRUE(a);
  const BlockId id{2, test_key(7)};
  const auto value = pattern(id.key, 100'000);
  SharedPut p{id, value};
  Status s;
  a->put_many({&p, 1}, {&s, 1}, soon());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(pause());
  const auto t0 = Clock::now();
  const Status flushed = a->flush(Clock::now() + std::chrono::milliseconds(500));
  const auto took = Clock::now() - t0;
  resume();
  EXPECT_FALSE(flushed.ok());
  EXPECT_LT(took, std::chrono::seconds(5));
  // What the outbox does after a failed flush: stage again, flush again.
  a->put_many({&p, 1}, {&s, 1}, soon());
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_TRUE(a->flush(soon()).ok());
  auto b = node();
  ASSERT_TRUE(b && b->refresh(true).ok());
  std::vector<std::byte> dst(value.size());
  SharedGet g{id, dst};
  GetResult r;
  b->get_many({&g, 1}, {&r, 1}, soon());
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_TRUE(matches_pattern(dst, id.key));
}

}  // namespace kvtier::shared::packed::checks
