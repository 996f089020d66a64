// Never a wrong byte, never another tenant's byte (issue 23), through the real kvtierd:
//  - a tenant whose key aliases another tenant's NVMe index slot (under the tag derivation of
//    727dc88) sees nothing, reads nothing into its shared memory and evicts nothing;
//  - a GET_MANY_SHM whose slices overlap is refused, and what the daemon promotes to DRAM is
//    never read back from client memory: a client that scribbles over its region while the daemon
//    writes into it (as one that timed out and reused its buffer would) gets its own mess, and
//    every other reader still gets the bytes that were put.
// Blocks reach the NVMe device by a SIGTERM and a restart (the shutdown flush writes DRAM to NVMe
// and the restart comes up with DRAM empty).
#include <atomic>
#include <fstream>
#include <cstring>
#include <thread>

#include <gtest/gtest.h>

#include "kvtier/client.h"
#include "server/server_config.h"
#include "support/aliased_keys.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

// A namespace of its own: the unity build puts this file in one translation unit with the other
// daemon tests, whose anonymous namespaces would meet this one's.
namespace kvtier::testing::daemon_integrity {
namespace {

constexpr const char* kAliceToken = "alice-token-0123456789";
constexpr const char* kBobToken = "bob-token-0123456789abc";

std::string integrity_config() {
  return small_daemon_config(std::string("[[tenants]]\nname = \"alice\"\ntoken = \"") + kAliceToken +
                             "\"\n[[tenants]]\nname = \"bob\"\ntoken = \"" + kBobToken + "\"\n");
}

NamespaceId ns_of(const char* tenant) {
  server::TenantConfig t;
  t.name = tenant;
  return server::tenant_namespace(t);
}

class DaemonIntegrity : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<DaemonProcess>(dir_.path(), integrity_config());
    ASSERT_TRUE(daemon_->started()) << daemon_->log();
  }
  std::unique_ptr<Client> connect(const std::string& token = "") {
    ClientOptions o;
    o.address = daemon_->unix_address();
    o.token = token;
    o.client_name = "daemon_integrity_test";
    auto c = Client::connect(o);
    EXPECT_TRUE(c.ok()) << c.status().to_string() << "\n" << daemon_->log();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  // Clean shutdown (DRAM flushed to NVMe, index checkpointed) and a restart with DRAM empty.
  void restart() {
    ASSERT_EQ(daemon_->terminate(), 0) << daemon_->log();
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(DaemonIntegrity, AKeyAliasingAnotherTenantsSlotSeesReadsAndEvictsNothing) {
  const NamespaceId alice_ns = ns_of("alice"), bob_ns = ns_of("bob");
  constexpr std::size_t kN = 8, kSize = 256 * 1024;
  std::vector<Key> keys, aliases;
  {
    auto alice = connect(kAliceToken);
    ASSERT_NE(alice, nullptr);
    for (std::size_t i = 0; i < kN; ++i) {
      keys.push_back(test_key(100 + i));
      aliases.push_back(alias_727dc88(keys[i], alice_ns, bob_ns));
      ASSERT_TRUE(alice->put(keys[i], pattern(keys[i], kSize)).ok());
    }
  }
  restart();
  auto bob = connect(kBobToken);
  ASSERT_NE(bob, nullptr);
  Result<PrefixMatch> m = bob->lookup(std::span<const Key>(aliases).first(1));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->cached, 0u) << "bob's LOOKUP reports alice's block as cached";
  // Bob's shared memory, filled with a marker: no byte of alice's may land there.
  Result<SharedRegion> region = bob->register_shared_memory(kN * kSize);
  ASSERT_TRUE(region.ok()) << region.status().to_string();
  std::memset(region->memory.data(), 0xEE, region->memory.size());
  std::vector<ShmGet> gets;
  for (std::size_t i = 0; i < kN; ++i) gets.push_back({aliases[i], i * kSize, kSize});
  std::vector<GetResult> out(kN);
  ASSERT_TRUE(bob->get_many_shm(*region, gets, out).ok());
  for (std::size_t i = 0; i < kN; ++i) EXPECT_EQ(out[i].status.code(), StatusCode::kNotFound) << i;
  for (std::size_t i = 0; i < region->memory.size(); ++i) {
    ASSERT_EQ(region->memory[i], std::byte{0xEE}) << "byte " << i << " of bob's region changed";
  }
  std::vector<std::byte> buf(kSize);
  for (std::size_t i = 0; i < kN; ++i) {
    EXPECT_EQ(bob->get(aliases[i], buf).status.code(), StatusCode::kNotFound) << i;
    EXPECT_EQ(bob->remove(aliases[i]).code(), StatusCode::kNotFound) << i;
  }
  // Alice still has every block, byte for byte.
  auto alice = connect(kAliceToken);
  ASSERT_NE(alice, nullptr);
  for (std::size_t i = 0; i < kN; ++i) {
    GetResult g = alice->get(keys[i], buf);
    ASSERT_TRUE(g.status.ok()) << i << ": " << g.status.to_string();
    EXPECT_TRUE(matches_pattern(buf, keys[i])) << i;
  }
}

TEST_F(DaemonIntegrity, GetManyShmWithOverlappingSlicesIsRefused) {
  constexpr std::size_t kSize = 256 * 1024;
  const Key k1 = test_key(1), k2 = test_key(2);
  {
    auto c = connect();
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->put(k1, pattern(k1, kSize)).ok());
    ASSERT_TRUE(c->put(k2, pattern(k2, kSize)).ok());
  }
  restart();
  auto c = connect();
  ASSERT_NE(c, nullptr);
  Result<SharedRegion> region = c->register_shared_memory(2 * kSize);
  ASSERT_TRUE(region.ok()) << region.status().to_string();
  // The same slice twice, slices that share one page, a slice reaching past its neighbour, and
  // an empty slice between two that overlap (which hid the overlap from the first check).
  const Key k3 = test_key(3);
  const std::vector<std::vector<ShmGet>> batches = {
      {{k1, 0, kSize}, {k2, 0, kSize}},
      {{k1, 0, kSize}, {k2, kSize - 4096, kSize}},
      {{k2, kSize, kSize}, {k1, 4096, kSize}},
      {{k1, 0, kSize}, {k3, 4096, 8192}, {k2, 16384, kSize}},
      {{k1, 0, kSize}, {k3, 4096, 0}, {k2, 8192, kSize}},
      {{k3, 0, 0}, {k1, 0, kSize}, {k2, 8192, kSize}},
  };
  for (const auto& gets : batches) {
    std::vector<GetResult> out(gets.size());
    Status s = c->get_many_shm(*region, gets, out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
    EXPECT_NE(s.message().find("overlap"), std::string::npos) << s.to_string();
  }
  // Nothing was read, nothing promoted: each key still reads back as itself.
  std::vector<std::byte> buf(kSize);
  for (const Key& k : {k1, k2}) {
    GetResult g = c->get(k, buf);
    ASSERT_TRUE(g.status.ok()) << g.status.to_string();
    EXPECT_TRUE(matches_pattern(buf, k));
  }
  // Adjacent slices are fine.
  std::vector<ShmGet> adjacent = {{k1, 0, kSize}, {k2, kSize, kSize}};
  std::vector<GetResult> out(2);
  ASSERT_TRUE(c->get_many_shm(*region, adjacent, out).ok());
  EXPECT_TRUE(out[0].status.ok() && out[1].status.ok());
  EXPECT_TRUE(matches_pattern(region->memory.first(kSize), k1));
  EXPECT_TRUE(matches_pattern(region->memory.subspan(kSize, kSize), k2));
}

// The client writes over its region while GET_MANY_SHM reads NVMe blocks into it (and the
// daemon promotes them to DRAM). Whatever the client then finds in its memory is its own doing,
// but the daemon keeps every block, and serves the bytes that were put to everyone after.
TEST_F(DaemonIntegrity, AClientWritingItsRegionDuringGetManyShmCorruptsNothingStored) {
  constexpr std::size_t kN = 8, kSize = 512 * 1024;
  std::vector<Key> keys;
  for (std::size_t i = 0; i < kN; ++i) keys.push_back(test_key(500 + i));
  {
    auto c = connect();
    ASSERT_NE(c, nullptr);
    for (const Key& k : keys) ASSERT_TRUE(c->put(k, pattern(k, kSize)).ok());
  }
  restart();
  auto c = connect();
  ASSERT_NE(c, nullptr);
  Result<SharedRegion> region = c->register_shared_memory(kN * kSize);
  ASSERT_TRUE(region.ok()) << region.status().to_string();
  std::vector<ShmGet> gets;
  for (std::size_t i = 0; i < kN; ++i) gets.push_back({keys[i], i * kSize, kSize});
  std::vector<GetResult> out(kN);
  Status s;
  {
    Scribbler scribbler(region->memory);
    s = c->get_many_shm(*region, gets, out);
  }
  ASSERT_TRUE(s.ok()) << s.to_string();
  auto other = connect();
  ASSERT_NE(other, nullptr);
  std::vector<std::byte> buf(kSize);
  for (std::size_t i = 0; i < kN; ++i) {
    GetResult g = other->get(keys[i], buf);
    ASSERT_TRUE(g.status.ok()) << "key " << i << " was dropped: " << g.status.to_string();
    EXPECT_TRUE(matches_pattern(buf, keys[i])) << "key " << i << " reads back other bytes";
  }
}

// Namespace ids derived from names collide ("alice" and "team-l32ibn"). Until the data dir
// remembered who owns each namespace, a tenant configured under a colliding name after alice
// left the config read alice's blocks (found by an audit; reproduced through kvtierd).
TEST_F(DaemonIntegrity, ATenantWhoseNamespaceCollidesWithAFormerTenantsIsRefused) {
  const Key k = test_key(42);
  {
    auto alice = connect(kAliceToken);
    ASSERT_NE(alice, nullptr);
    ASSERT_TRUE(alice->put(k, pattern(k, 64 * 1024, 7)).ok());
  }
  ASSERT_EQ(daemon_->terminate(), 0) << daemon_->log();
  const std::string mallory_token = "mallory-token-0123456789";
  const std::string config_path = dir_.path() + "/test-config.toml";
  std::ofstream(config_path) << small_daemon_config(
      "[[tenants]]\nname = \"team-l32ibn\"\ntoken = \"" + mallory_token + "\"\n");
  EXPECT_FALSE(daemon_->start()) << "kvtierd served a tenant on another tenant's namespace";
  EXPECT_NE(daemon_->log().find("holds the blocks of tenant \"alice\""), std::string::npos)
      << daemon_->log();
  // With a namespace of its own it starts, and sees nothing of alice's.
  std::ofstream(config_path) << small_daemon_config(
      "[[tenants]]\nname = \"team-l32ibn\"\ntoken = \"" + mallory_token +
      "\"\nnamespace_id = 12345\n");
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto mallory = connect(mallory_token);
  ASSERT_NE(mallory, nullptr);
  std::vector<std::byte> buf(64 * 1024);
  EXPECT_EQ(mallory->get(k, buf).status.code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kvtier::testing::daemon_integrity
