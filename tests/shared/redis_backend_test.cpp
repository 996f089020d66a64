// The Redis shared-tier backend against real redis-server processes on 127.0.0.1: one server
// (round trips, misses, integrity, TTL, batches, a frozen / killed / absent server) and a cluster
// of three masters (spread, a slot migrated under load, a master killed). Plus the pure pieces:
// slots, redirect parsing, the value format and config validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "shared/redis/cluster_slot.h"
#include "shared/redis/redis_value_format.h"
#include "shared/redis/slot_map.h"
#include "shared/shared_backend.h"
#include "support/redis_process.h"
#include "support/test_support.h"

namespace kvtier::shared {
namespace {

using namespace std::chrono_literals;
using kvtier::testing::counter_value;
using kvtier::testing::matches_pattern;
using kvtier::testing::pattern;
using kvtier::testing::RedisCluster;
using kvtier::testing::RedisProcess;
using kvtier::testing::test_key;

// A hang guard for calls that must give up at their deadline: far above any deadline used here,
// so it never asserts a duration, only that the call returned.
constexpr auto kHangGuard = 10s;

Deadline in(std::chrono::milliseconds ms) { return Clock::now() + ms; }
BlockId block(std::uint64_t n, NamespaceId ns = 0) { return {ns, test_key(n)}; }

RedisBackendConfig config_for(std::vector<std::string> nodes, bool cluster = false) {
  RedisBackendConfig c;
  c.nodes = std::move(nodes);
  c.cluster = cluster;
  c.connections_per_node = 2;
  return c;
}

std::unique_ptr<SharedBackend> open_or_die(const RedisBackendConfig& c) {
  Result<std::unique_ptr<SharedBackend>> b = open_redis_backend(c);
  EXPECT_TRUE(b.ok()) << b.status().to_string();
  return b.ok() ? std::move(b.value()) : nullptr;
}

Status put_one(SharedBackend& b, const BlockId& id, std::span<const std::byte> value,
               Deadline deadline = in(5000ms)) {
  SharedPut p{id, value};
  Status out;
  b.put_many({&p, 1}, {&out, 1}, deadline);
  return out;
}

GetResult get_one(SharedBackend& b, const BlockId& id, std::span<std::byte> dst,
                  Deadline deadline = in(5000ms)) {
  SharedGet g{id, dst};
  GetResult out;
  b.get_many({&g, 1}, {&out, 1}, deadline);
  return out;
}

// Puts pattern(id.key, size) under every id; true when all were stored.
bool put_patterns(SharedBackend& b, const std::vector<BlockId>& ids, std::size_t size) {
  std::vector<std::vector<std::byte>> values;
  std::vector<SharedPut> puts;
  for (const BlockId& id : ids) values.push_back(pattern(id.key, size));
  for (std::size_t i = 0; i < ids.size(); ++i) puts.push_back({ids[i], values[i]});
  std::vector<Status> out(ids.size());
  b.put_many(puts, out, in(5000ms));
  bool ok = true;
  for (const Status& s : out) {
    EXPECT_TRUE(s.ok()) << s.to_string();
    ok = ok && s.ok();
  }
  return ok;
}

// Gets every id into buffers of `size`; returns the statuses and checks the bytes of every OK.
std::vector<GetResult> get_patterns(SharedBackend& b, const std::vector<BlockId>& ids,
                                    std::size_t size, Deadline deadline = in(5000ms)) {
  std::vector<std::vector<std::byte>> bufs(ids.size(), std::vector<std::byte>(size));
  std::vector<SharedGet> gets;
  for (std::size_t i = 0; i < ids.size(); ++i) gets.push_back({ids[i], bufs[i]});
  std::vector<GetResult> out(ids.size());
  b.get_many(gets, out, deadline);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (out[i].status.ok()) {
      EXPECT_EQ(out[i].size, size);
      EXPECT_EQ(out[i].tier, Tier::kShared);
      EXPECT_TRUE(matches_pattern({bufs[i].data(), out[i].size}, ids[i].key)) << "item " << i;
    }
  }
  return out;
}

std::string redis_key_of(const BlockId& id, const std::string& prefix = "kvtier:") {
  return redis::redis_key(prefix, id);
}

// ---- pure pieces -------------------------------------------------------------------------------

TEST(SharedRedisUnit, SlotsFollowTheClusterSpecification) {
  EXPECT_EQ(redis::crc16_xmodem("123456789"), 0x31C3);  // the specification's test vector
  EXPECT_EQ(redis::key_slot("foo"), 12182);              // CLUSTER KEYSLOT foo
  EXPECT_EQ(redis::key_slot("{user1000}.following"), redis::key_slot("{user1000}.followers"));
  EXPECT_EQ(redis::key_slot("{user1000}.following"), redis::key_slot("user1000"));
  EXPECT_EQ(redis::key_slot("foo{}{bar}"), redis::crc16_xmodem("foo{}{bar}") % 16384);
  EXPECT_EQ(redis::key_slot("foo{{bar}}zap"), redis::key_slot("{bar"));
  EXPECT_EQ(redis::key_slot("foo{bar}{zap}"), redis::key_slot("bar"));
}

TEST(SharedRedisUnit, KeyNamesCarryPrefixNamespaceAndKey) {
  BlockId id = block(1, 42);
  EXPECT_EQ(redis::redis_key("p:", id), "p:0000002a:" + id.key.hex());
}

TEST(SharedRedisUnit, RedirectsAreParsed) {
  redis::NodeAddress self{"10.0.0.1", 7000};
  auto moved = redis::parse_redirect("MOVED 3999 127.0.0.1:6381", self);
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->kind, redis::RedirectKind::kMoved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->node, (redis::NodeAddress{"127.0.0.1", 6381}));
  auto ask = redis::parse_redirect("ASK 1 :7001", self);  // empty host: the node that replied
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->kind, redis::RedirectKind::kAsk);
  EXPECT_EQ(ask->node, (redis::NodeAddress{"10.0.0.1", 7001}));
  auto v6 = redis::parse_redirect("MOVED 2 ::1:7002", self);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->node, (redis::NodeAddress{"::1", 7002}));
  EXPECT_FALSE(redis::parse_redirect("MOVED 16384 h:1", self));
  EXPECT_FALSE(redis::parse_redirect("MOVED x h:1", self));
  EXPECT_FALSE(redis::parse_redirect("ERR unknown command", self));
  EXPECT_FALSE(redis::parse_redirect("CLUSTERDOWN Hash slot not served", self));
}

TEST(SharedRedisUnit, ValueFormatRejectsEveryKindOfDamage) {
  BlockId id = block(7, 3);
  std::vector<std::byte> value = pattern(id.key, 1000);
  redis::RedisValueHeader h = redis::make_value_header(id, value);
  std::vector<std::byte> stored(sizeof(h) + value.size());
  std::memcpy(stored.data(), &h, sizeof(h));
  std::memcpy(stored.data() + sizeof(h), value.data(), value.size());

  auto ok = redis::verify_value(id, stored);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->size(), value.size());

  auto damaged = [&](auto change) {
    std::vector<std::byte> copy = stored;
    change(copy);
    return redis::verify_value(id, copy).status().code();
  };
  EXPECT_EQ(damaged([](auto& v) { v[sizeof(h) + 10] ^= std::byte{1}; }), StatusCode::kCorruption);
  EXPECT_EQ(damaged([](auto& v) { v[20] ^= std::byte{1}; }), StatusCode::kCorruption);  // key
  EXPECT_EQ(damaged([](auto& v) { v[0] = std::byte{'X'}; }), StatusCode::kCorruption);  // magic
  EXPECT_EQ(damaged([](auto& v) { v.pop_back(); }), StatusCode::kCorruption);
  EXPECT_EQ(damaged([](auto& v) { v.resize(10); }), StatusCode::kCorruption);
  EXPECT_EQ(redis::verify_value(block(7, 4), stored).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(redis::verify_value(block(8, 3), stored).status().code(), StatusCode::kCorruption);
}

TEST(SharedRedisUnit, ConfigValidation) {
  RedisBackendConfig c;
  EXPECT_TRUE(c.validate().ok());
  c.nodes = {};
  EXPECT_EQ(c.validate().code(), StatusCode::kInvalidArgument);
  c.nodes = {"127.0.0.1"};
  EXPECT_EQ(c.validate().code(), StatusCode::kInvalidArgument);
  c.nodes = {"127.0.0.1:0"};
  EXPECT_EQ(c.validate().code(), StatusCode::kInvalidArgument);
  c.nodes = {"127.0.0.1:1", "127.0.0.1:2"};
  EXPECT_EQ(c.validate().code(), StatusCode::kInvalidArgument);  // several need cluster
  c.cluster = true;
  EXPECT_TRUE(c.validate().ok());
  c.connections_per_node = 0;
  EXPECT_EQ(c.validate().code(), StatusCode::kInvalidArgument);
  c.connections_per_node = 4;
  c.connect_timeout = 0ms;
  EXPECT_EQ(c.validate().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(open_redis_backend(c).ok());
}

// ---- one server --------------------------------------------------------------------------------

class SharedRedisServer : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RedisProcess>();
    ASSERT_TRUE(server_->started());
    backend_ = open_or_die(config_for({server_->address()}));
    ASSERT_NE(backend_, nullptr);
  }
  double counter(std::string_view name) { return counter_value(*backend_, name); }

  std::unique_ptr<RedisProcess> server_;
  std::unique_ptr<SharedBackend> backend_;
};

TEST_F(SharedRedisServer, RoundTripsValuesOfSeveralSizes) {
  EXPECT_EQ(backend_->describe(), "redis:" + server_->address());
  EXPECT_TRUE(backend_->ping(in(2000ms)).ok());
  std::uint64_t n = 0;
  for (std::size_t size : {std::size_t{1}, std::size_t{64} << 10, (std::size_t{1} << 20) + 3,
                           std::size_t{8} << 20}) {
    BlockId id = block(++n);
    std::vector<std::byte> value = pattern(id.key, size);
    ASSERT_TRUE(put_one(*backend_, id, value).ok()) << size;
    std::vector<std::byte> dst(size + 10);
    GetResult r = get_one(*backend_, id, dst);
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    EXPECT_EQ(r.size, size);
    EXPECT_EQ(r.tier, Tier::kShared);
    EXPECT_TRUE(matches_pattern({dst.data(), size}, id.key)) << size;
  }
  EXPECT_EQ(counter("shared_redis_puts"), 4);
  EXPECT_EQ(counter("shared_redis_hits"), 4);
  EXPECT_EQ(counter("shared_redis_put_bytes"), 1 + (64 << 10) + (1 << 20) + 3 + (8 << 20));
}

TEST_F(SharedRedisServer, MissAndBufferTooSmall) {
  std::vector<std::byte> dst(100);
  GetResult miss = get_one(*backend_, block(1), dst);
  EXPECT_EQ(miss.status.code(), StatusCode::kNotFound);
  EXPECT_EQ(counter("shared_redis_misses"), 1);

  BlockId id = block(2);
  std::vector<std::byte> value = pattern(id.key, 1000);
  ASSERT_TRUE(put_one(*backend_, id, value).ok());
  GetResult small = get_one(*backend_, id, dst);
  EXPECT_EQ(small.status.code(), StatusCode::kBufferTooSmall);
  EXPECT_EQ(small.size, 1000u);
  EXPECT_NE(small.status.message().find("1000"), std::string::npos);
}

TEST_F(SharedRedisServer, NamespacesNeverAlias) {
  BlockId a = block(5, 1), b = block(5, 2);  // same key, two namespaces
  std::vector<std::byte> va = pattern(a.key, 500, 1);
  ASSERT_TRUE(put_one(*backend_, a, va).ok());
  std::vector<std::byte> dst(500);
  EXPECT_EQ(get_one(*backend_, b, dst).status.code(), StatusCode::kNotFound);
  std::vector<std::byte> vb = pattern(b.key, 500, 2);
  ASSERT_TRUE(put_one(*backend_, b, vb).ok());
  ASSERT_TRUE(get_one(*backend_, a, dst).status.ok());
  EXPECT_TRUE(matches_pattern(dst, a.key, 1));
  ASSERT_TRUE(get_one(*backend_, b, dst).status.ok());
  EXPECT_TRUE(matches_pattern(dst, b.key, 2));
}

TEST_F(SharedRedisServer, KeyPrefixAndTtlAreSet) {
  RedisBackendConfig c = config_for({server_->address()});
  c.key_prefix = "test:pfx:";
  c.ttl = 60s;
  auto with_ttl = open_or_die(c);
  c.ttl = 0ms;
  c.key_prefix = "test:nottl:";
  auto without_ttl = open_or_die(c);
  BlockId id = block(9, 7);
  std::vector<std::byte> value = pattern(id.key, 100);
  ASSERT_TRUE(put_one(*with_ttl, id, value).ok());
  ASSERT_TRUE(put_one(*without_ttl, id, value).ok());

  std::string key = "test:pfx:00000007:" + id.key.hex();
  EXPECT_EQ(server_->cli_out({"EXISTS", key}), "1");
  long long pttl = std::stoll(server_->cli_out({"PTTL", key}));
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 60000);
  EXPECT_EQ(server_->cli_out({"PTTL", "test:nottl:00000007:" + id.key.hex()}), "-1");
  EXPECT_EQ(server_->cli_out({"STRLEN", key}), std::to_string(64 + 100));
}

// keep_many (an upload that finds its block there) restarts the key's expiry and answers
// whether it exists; without a TTL it only answers.
TEST_F(SharedRedisServer, KeepRestartsTheExpiryOfABlockThatIsThere) {
  RedisBackendConfig c = config_for({server_->address()});
  c.key_prefix = "test:keep:";
  c.ttl = 60s;
  auto backend = open_or_die(c);
  BlockId there = block(9, 8), absent = block(10, 8);
  ASSERT_TRUE(put_one(*backend, there, pattern(there.key, 100)).ok());
  const std::string key = "test:keep:00000008:" + there.key.hex();
  EXPECT_EQ(server_->cli_out({"PEXPIRE", key, "2000"}), "1");  // about to expire
  std::vector<Status> out(2);
  backend->keep_many(std::vector<BlockId>{there, absent}, out, in(5000ms));
  EXPECT_TRUE(out[0].ok()) << out[0].to_string();
  EXPECT_TRUE(out[1].is_not_found()) << out[1].to_string();
  const long long pttl = std::stoll(server_->cli_out({"PTTL", key}));
  EXPECT_GT(pttl, 50000) << "the expiry was not restarted";
  EXPECT_EQ(server_->cli_out({"EXISTS", "test:keep:00000008:" + absent.key.hex()}), "0");
  c.ttl = 0ms;
  c.key_prefix = "test:keep0:";
  auto forever = open_or_die(c);
  ASSERT_TRUE(put_one(*forever, there, pattern(there.key, 100)).ok());
  forever->keep_many(std::vector<BlockId>{there}, std::span(out).first(1), in(5000ms));
  EXPECT_TRUE(out[0].ok());
  EXPECT_EQ(server_->cli_out({"PTTL", "test:keep0:00000008:" + there.key.hex()}), "-1");
}

TEST_F(SharedRedisServer, CorruptOrForeignValuesAreCountedMisses) {
  std::vector<BlockId> ids = {block(1), block(2), block(3), block(4), block(5)};
  ASSERT_TRUE(put_patterns(*backend_, ids, 4096));
  ASSERT_TRUE(put_patterns(*backend_, {block(99)}, 4096));
  const std::string stored_len = std::to_string(64 + 4096);
  // 0: a payload byte changed; 1: a header byte changed; 2: a foreign string; 3: another
  // block's value copied under this key; 4: not a string at all.
  EXPECT_EQ(server_->cli_out({"SETRANGE", redis_key_of(ids[0]), "1000", "X"}), stored_len);
  EXPECT_EQ(server_->cli_out({"SETRANGE", redis_key_of(ids[1]), "40", "X"}), stored_len);
  EXPECT_EQ(server_->cli_out({"SET", redis_key_of(ids[2]), "not a kvtier value"}), "OK");
  EXPECT_EQ(server_->cli_out({"DEL", redis_key_of(ids[3])}), "1");
  EXPECT_EQ(server_->cli_out({"COPY", redis_key_of(block(99)), redis_key_of(ids[3])}), "1");
  EXPECT_EQ(server_->cli_out({"DEL", redis_key_of(ids[4])}), "1");
  EXPECT_EQ(server_->cli_out({"LPUSH", redis_key_of(ids[4]), "x"}), "1");

  std::vector<GetResult> got = get_patterns(*backend_, ids, 4096);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(got[i].status.code(), StatusCode::kNotFound) << i << ": " << got[i].status.to_string();
  }
  EXPECT_EQ(counter("shared_redis_corrupt_blocks"), 5);
  EXPECT_EQ(counter("shared_redis_hits"), 0);
}

TEST_F(SharedRedisServer, BatchesPutGetContainAndRemove) {
  std::vector<BlockId> ids;
  for (std::uint64_t i = 0; i < 50; ++i) ids.push_back(block(100 + i, static_cast<NamespaceId>(i % 3)));
  ASSERT_TRUE(put_patterns(*backend_, ids, 64 << 10));

  std::vector<BlockId> probe = ids;
  probe.push_back(block(1));  // absent
  std::vector<Status> present(probe.size());
  backend_->contains_many(probe, present, in(5000ms));
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_TRUE(present[i].ok()) << i;
  EXPECT_EQ(present.back().code(), StatusCode::kNotFound);

  std::vector<GetResult> got = get_patterns(*backend_, probe, 64 << 10);
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_TRUE(got[i].status.ok()) << i;
  EXPECT_EQ(got.back().status.code(), StatusCode::kNotFound);

  EXPECT_TRUE(backend_->remove(ids[0], in(2000ms)).ok());
  EXPECT_EQ(backend_->remove(ids[0], in(2000ms)).code(), StatusCode::kNotFound);
  std::vector<std::byte> dst(64 << 10);
  EXPECT_EQ(get_one(*backend_, ids[0], dst).status.code(), StatusCode::kNotFound);
  EXPECT_EQ(counter("shared_redis_gets"), 52);
}

TEST_F(SharedRedisServer, ManyThreadsShareTheConnections) {
  constexpr int kThreads = 4, kRounds = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        BlockId id = block(1000 * (t + 1) + r);
        std::vector<std::byte> value = pattern(id.key, 16 << 10);
        std::vector<std::byte> dst(16 << 10);
        if (!put_one(*backend_, id, value).ok()) ++failures;
        GetResult g = get_one(*backend_, id, dst);
        if (!g.status.ok() || !matches_pattern(dst, id.key)) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(SharedRedisAuth, PasswordIsSentAndRequired) {
  RedisProcess server({{"--requirepass", "s3cret"}, "s3cret"});
  ASSERT_TRUE(server.started());
  RedisBackendConfig c = config_for({server.address()});
  c.password = "s3cret";
  auto good = open_or_die(c);
  BlockId id = block(1);
  std::vector<std::byte> value = pattern(id.key, 10);
  EXPECT_TRUE(put_one(*good, id, value).ok());
  EXPECT_TRUE(good->ping(in(2000ms)).ok());
  c.password = "wrong";
  auto bad = open_or_die(c);
  EXPECT_EQ(put_one(*bad, id, value).code(), StatusCode::kIOError);
  EXPECT_GT(counter_value(*bad, "shared_redis_connect_errors"), 0);
}

TEST_F(SharedRedisServer, FrozenServerFailsByTheDeadlineAndRecovers) {
  BlockId id = block(1);
  std::vector<std::byte> value = pattern(id.key, 1 << 20);
  ASSERT_TRUE(put_one(*backend_, id, value).ok());
  std::vector<std::byte> dst(1 << 20);
  ASSERT_TRUE(server_->pause());

  auto start = Clock::now();
  GetResult g = get_one(*backend_, id, dst, in(300ms));
  EXPECT_EQ(g.status.code(), StatusCode::kIOError) << g.status.to_string();
  EXPECT_EQ(put_one(*backend_, block(2), value, in(300ms)).code(), StatusCode::kIOError);
  EXPECT_EQ(backend_->ping(in(300ms)).code(), StatusCode::kIOError);
  EXPECT_LT(Clock::now() - start, kHangGuard);
  EXPECT_GE(counter("shared_redis_timeouts"), 3);

  server_->resume();
  bool recovered = false;
  for (int attempt = 0; attempt < 20 && !recovered; ++attempt) {
    recovered = get_one(*backend_, id, dst, in(2000ms)).status.ok();
    if (!recovered) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(recovered);
  EXPECT_TRUE(matches_pattern(dst, id.key));
  EXPECT_TRUE(backend_->ping(in(2000ms)).ok());
}

TEST_F(SharedRedisServer, KilledServerIsReconnectedAfterRestart) {
  BlockId id = block(1);
  std::vector<std::byte> value = pattern(id.key, 1000);
  ASSERT_TRUE(put_one(*backend_, id, value).ok());
  std::vector<std::byte> dst(1000);
  ASSERT_TRUE(get_one(*backend_, id, dst).status.ok());  // both pooled connections used
  server_->kill();
  auto start = Clock::now();
  EXPECT_EQ(get_one(*backend_, id, dst, in(1000ms)).status.code(), StatusCode::kIOError);
  EXPECT_LT(Clock::now() - start, kHangGuard);

  ASSERT_TRUE(server_->restart());  // same port, empty (no persistence)
  EXPECT_EQ(get_one(*backend_, id, dst).status.code(), StatusCode::kNotFound);
  EXPECT_TRUE(put_one(*backend_, id, value).ok());
  EXPECT_TRUE(get_one(*backend_, id, dst).status.ok());
  EXPECT_GT(counter("shared_redis_connect_errors"), 0);
}

TEST(SharedRedisDown, OpensWhileTheServerIsDownAndConnectsLater) {
  RedisProcess server;
  ASSERT_TRUE(server.started());
  server.kill();
  auto backend = open_or_die(config_for({server.address()}));
  ASSERT_NE(backend, nullptr);
  BlockId id = block(1);
  std::vector<std::byte> value = pattern(id.key, 100), dst(100);
  auto start = Clock::now();
  EXPECT_EQ(put_one(*backend, id, value, in(1000ms)).code(), StatusCode::kIOError);
  EXPECT_EQ(get_one(*backend, id, dst, in(1000ms)).status.code(), StatusCode::kIOError);
  EXPECT_EQ(backend->ping(in(1000ms)).code(), StatusCode::kIOError);
  EXPECT_LT(Clock::now() - start, kHangGuard);
  EXPECT_GE(counter_value(*backend, "shared_redis_connect_errors"), 3);
  EXPECT_EQ(counter_value(*backend, "shared_redis_get_errors"), 1);
  EXPECT_EQ(counter_value(*backend, "shared_redis_put_errors"), 1);

  ASSERT_TRUE(server.restart());
  EXPECT_TRUE(put_one(*backend, id, value).ok());
  EXPECT_TRUE(get_one(*backend, id, dst).status.ok());
}

// ---- cluster -----------------------------------------------------------------------------------

class SharedRedisCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new RedisCluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(cluster_->started()); }

  static RedisCluster* cluster_;
};
RedisCluster* SharedRedisCluster::cluster_ = nullptr;

TEST_F(SharedRedisCluster, KeysSpreadOverTheMastersAndReadBack) {
  // One seed is enough: the rest is discovered.
  auto backend = open_or_die(config_for({cluster_->node(1).address()}, true));
  EXPECT_TRUE(backend->ping(in(5000ms)).ok());
  std::vector<BlockId> ids;
  for (std::uint64_t i = 0; i < 60; ++i) ids.push_back(block(i, 11));
  ASSERT_TRUE(put_patterns(*backend, ids, 8 << 10));
  std::vector<GetResult> got = get_patterns(*backend, ids, 8 << 10);
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_TRUE(got[i].status.ok()) << i;
  std::vector<Status> present(ids.size());
  backend->contains_many(ids, present, in(5000ms));
  for (const Status& s : present) EXPECT_TRUE(s.ok());
  for (int n = 0; n < RedisCluster::kMasters; ++n) {
    EXPECT_GT(std::stoi(cluster_->node(n).cli_out({"DBSIZE"})), 5) << "master " << n;
  }
  EXPECT_GE(counter_value(*backend, "shared_redis_topology_refreshes"), 1);
  EXPECT_EQ(counter_value(*backend, "shared_redis_moved_redirects"), 0);
}

TEST_F(SharedRedisCluster, SlotMigratedUnderLoadKeepsEveryReadAndWriteRight) {
  // A prefix with a hash tag puts every key of this backend in one slot.
  RedisBackendConfig c = config_for(cluster_->addresses(), true);
  c.key_prefix = "kvtier:{mig}:";
  auto backend = open_or_die(c);
  const std::uint16_t slot = redis::key_slot("mig");
  constexpr std::size_t kSize = 4096;
  std::vector<BlockId> first;
  for (std::uint64_t i = 0; i < 40; ++i) first.push_back(block(500 + i));
  ASSERT_TRUE(put_patterns(*backend, first, kSize));
  const int from = cluster_->owner_of(slot);
  ASSERT_GE(from, 0);
  const int to = (from + 1) % RedisCluster::kMasters;

  // Readers and writers run through the whole migration; every answer must be right.
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0}, failed{0}, rounds{0};
  std::thread load([&] {
    for (int r = 0; r < 5000 && !stop.load(); ++r) {
      std::vector<BlockId> some(first.begin() + (r % 4) * 10, first.begin() + (r % 4) * 10 + 10);
      std::vector<GetResult> got = get_patterns(*backend, some, kSize);
      for (const GetResult& g : got) failed += g.status.ok() ? 0 : 1;
      BlockId extra = block(10'000 + r);
      std::vector<std::byte> v = pattern(extra.key, kSize), dst(kSize);
      if (!put_one(*backend, extra, v).ok()) ++failed;
      GetResult back = get_one(*backend, extra, dst);
      if (!back.status.ok()) ++failed;
      else if (!matches_pattern(dst, extra.key)) ++wrong;
      ++rounds;
    }
  });

  ASSERT_TRUE(cluster_->begin_migration(slot, from, to));
  ASSERT_EQ(cluster_->migrate_keys(slot, from, to, 20), 20);
  // Half the keys are at `to` now: reading them all takes ASK redirects.
  std::vector<GetResult> mid = get_patterns(*backend, first, kSize);
  for (std::size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(mid[i].status.ok()) << i;
  EXPECT_GT(counter_value(*backend, "shared_redis_ask_redirects"), 0);
  // New blocks written mid-migration go to `to` (ASK) and read back.
  std::vector<BlockId> second;
  for (std::uint64_t i = 0; i < 10; ++i) second.push_back(block(900 + i));
  ASSERT_TRUE(put_patterns(*backend, second, kSize));
  for (int i = 0; i < 100 && cluster_->migrate_keys(slot, from, to, 100) > 0; ++i) {
  }
  const double refreshes_before = counter_value(*backend, "shared_redis_topology_refreshes");
  ASSERT_TRUE(cluster_->finish_migration(slot, from, to));
  // The backend's map still names `from`: the next call is told MOVED, unless a topology refresh
  // (the refresh thread, or one the load's redirects asked for) learned the new owner first.
  std::vector<BlockId> all = first;
  all.insert(all.end(), second.begin(), second.end());
  std::vector<GetResult> after = get_patterns(*backend, all, kSize);
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_TRUE(after[i].status.ok()) << i;
  EXPECT_TRUE(counter_value(*backend, "shared_redis_moved_redirects") > 0 ||
              counter_value(*backend, "shared_redis_topology_refreshes") > refreshes_before)
      << "the move was noticed neither by a MOVED reply nor by a topology refresh";
  EXPECT_EQ(cluster_->owner_of(slot), to);
  EXPECT_EQ(std::stoi(cluster_->node(from).cli_out({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)})), 0);

  stop = true;
  load.join();
  EXPECT_GT(rounds.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(failed.load(), 0);
}

// Last in the suite: it kills a master.
TEST_F(SharedRedisCluster, KilledMasterFailsOnlyItsOwnKeys) {
  auto backend = open_or_die(config_for(cluster_->addresses(), true));
  std::vector<BlockId> ids;
  for (std::uint64_t i = 0; i < 60; ++i) ids.push_back(block(2000 + i));
  ASSERT_TRUE(put_patterns(*backend, ids, 1000));
  const int victim = 2;
  std::vector<bool> on_victim;
  for (const BlockId& id : ids) {
    on_victim.push_back(cluster_->owner_of(redis::key_slot(redis_key_of(id))) == victim);
  }
  ASSERT_GT(std::count(on_victim.begin(), on_victim.end(), true), 0);
  cluster_->node(victim).kill();

  auto start = Clock::now();
  std::vector<GetResult> got = get_patterns(*backend, ids, 1000, in(1000ms));
  EXPECT_LT(Clock::now() - start, kHangGuard);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (on_victim[i]) {
      EXPECT_TRUE(got[i].status.code() == StatusCode::kIOError ||
                  got[i].status.code() == StatusCode::kNotFound)
          << i << ": " << got[i].status.to_string();
    } else {
      EXPECT_TRUE(got[i].status.ok()) << i << ": " << got[i].status.to_string();
    }
  }
  EXPECT_EQ(backend->ping(in(1000ms)).code(), StatusCode::kIOError);
}

}  // namespace
}  // namespace kvtier::shared
