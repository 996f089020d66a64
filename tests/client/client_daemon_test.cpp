// The C++ client, the C API (its smoke program) and the client CLI against the real kvtierd
// (`kvtier serve`, started per test in a temporary data dir): every call over the Unix socket and
// over TCP, batches split at the daemon's max_batch and max_data_bytes, a pipeline that moves
// megabytes both ways against a daemon that stops reading while its responses queue up, shared
// memory, tokens, a 256 MiB value, and what a timeout or a vanished daemon does to a client.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kvtier/client.h"
#include "memory/aligned_buffer.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

#ifndef KVTIER_C_API_SMOKE
#error "KVTIER_C_API_SMOKE (the built C smoke program) must be defined"
#endif

namespace kvtier::testing {
namespace {

constexpr std::uint32_t kMaxBatch = 8;
constexpr std::uint64_t kMaxValue = 2 * kMiB;
constexpr std::uint64_t kMaxFrameData = 4 * kMiB;

// Limits small enough that the tests cross them: 8 items per request, 2 MiB values, 4 MiB of
// data per frame, and a daemon that stops reading once 1 MiB of responses is queued.
std::string limited_config() {
  return "max_value_bytes = \"2MiB\"\n"
         "[dram]\ncapacity_bytes = \"192MiB\"\n"
         "[nvme]\ndefault_file_bytes = \"68MiB\"\nregion_size = \"4MiB\"\n"
         "[server]\nmax_batch = 8\nmax_frame_data_bytes = \"4MiB\"\n"
         "max_queued_response_bytes = \"1MiB\"\n";
}

std::vector<Key> keys(std::uint64_t first, std::size_t n) {
  std::vector<Key> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(test_key(first + i));
  return out;
}

// Runs a command line through /bin/sh and returns its exit code (-1 if it did not exit).
int run_shell(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class ClientDaemon : public ::testing::Test {
 protected:
  void SetUp() override { start(limited_config()); }

  void start(const std::string& config) {
    daemon_ = std::make_unique<DaemonProcess>(dir_.path(), config);
    ASSERT_TRUE(daemon_->started()) << daemon_->log();
  }

  std::unique_ptr<Client> connect(const std::string& address, const std::string& token = "",
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    ClientOptions o;
    o.address = address;
    o.token = token;
    o.timeout = timeout;
    o.client_name = "client_daemon_test";
    auto c = Client::connect(o);
    EXPECT_TRUE(c.ok()) << c.status().to_string() << "\n" << daemon_->log();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  std::unique_ptr<Client> unix_client() { return connect(daemon_->unix_address()); }
  std::unique_ptr<Client> tcp_client() {
    return connect(daemon_->tcp_address(), daemon_->default_token());
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
};

// Every call of the API over one transport; `first` keeps the transports' keys apart.
void exercise_every_call(Client& c, std::uint64_t first) {
  const ServerInfo& info = c.server_info();
  EXPECT_EQ(info.version, 2);
  EXPECT_EQ(info.tenant, "default");
  EXPECT_EQ(info.max_batch, kMaxBatch);
  EXPECT_EQ(info.max_value_bytes, kMaxValue);
  EXPECT_EQ(info.max_data_bytes, kMaxFrameData);

  EXPECT_TRUE(c.ping().ok());
  EXPECT_TRUE(c.ping("a payload").ok());
  EXPECT_EQ(c.ping(std::string(2000, 'x')).code(), StatusCode::kInvalidArgument);

  std::vector<Key> k = keys(first, 6);
  std::vector<std::byte> v0 = pattern(k[0], 300'001);
  ASSERT_TRUE(c.put(k[0], v0).ok());
  std::vector<std::byte> got(400'000);
  GetResult r = c.get(k[0], got);
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  ASSERT_EQ(r.size, v0.size());
  EXPECT_TRUE(matches_pattern(std::span(got).first(r.size), k[0]));

  // Too small, and the size probe with no buffer at all.
  std::vector<std::byte> small(100);
  r = c.get(k[0], small);
  EXPECT_EQ(r.status.code(), StatusCode::kBufferTooSmall);
  EXPECT_EQ(r.size, v0.size());
  r = c.get(k[0], {});
  EXPECT_EQ(r.status.code(), StatusCode::kBufferTooSmall);
  EXPECT_EQ(r.size, v0.size());
  r = c.get(k[5], got);
  EXPECT_EQ(r.status.code(), StatusCode::kNotFound);

  // put_many / get_many, a miss among them.
  std::vector<std::vector<std::byte>> values;
  std::vector<PutItem> puts;
  for (int i = 1; i <= 3; ++i) values.push_back(pattern(k[i], 4096 * i + 1));
  for (int i = 1; i <= 3; ++i) puts.push_back({k[i], values[i - 1]});
  std::vector<Status> put_out(puts.size());
  {
    Status s = c.put_many(puts, put_out);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  for (const Status& s : put_out) EXPECT_TRUE(s.ok()) << s.to_string();
  std::vector<std::vector<std::byte>> dst(4, std::vector<std::byte>(20'000));
  std::vector<GetItem> gets = {{k[1], dst[0]}, {k[5], dst[1]}, {k[2], dst[2]}, {k[3], dst[3]}};
  std::vector<GetResult> get_out(gets.size());
  {
    Status s = c.get_many(gets, get_out);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  EXPECT_TRUE(get_out[0].status.ok());
  EXPECT_EQ(get_out[1].status.code(), StatusCode::kNotFound);
  for (int i : {0, 2, 3}) {
    ASSERT_TRUE(get_out[i].status.ok()) << get_out[i].status.to_string();
    const Key& key = gets[i].key;
    EXPECT_TRUE(matches_pattern(std::span(dst[i]).first(get_out[i].size), key));
  }

  // k0..k3 cached, k4 not: the cached prefix of k0..k5 is 4.
  Result<PrefixMatch> m = c.lookup(k);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->cached, 4u);
  EXPECT_EQ(m->in_dram + m->in_nvme, 4u);
  m = c.lookup({});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->cached, 0u);

  EXPECT_TRUE(c.pin(k[0], std::chrono::seconds(60)).ok());
  EXPECT_TRUE(c.unpin(k[0]).ok());
  EXPECT_EQ(c.pin(k[0], std::chrono::milliseconds(0)).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(c.remove(k[0]).ok());
  EXPECT_EQ(c.get(k[0], got).status.code(), StatusCode::kNotFound);
  EXPECT_EQ(c.lookup(k)->cached, 0u);

  Result<std::string> stats = c.stats();
  ASSERT_TRUE(stats.ok()) << stats.status().to_string();
  EXPECT_NE(stats->find("dram_"), std::string::npos);

  // The connection is still good after every refusal above.
  EXPECT_TRUE(c.ping().ok());
}

TEST_F(ClientDaemon, EveryCallOverTheUnixSocket) {
  auto c = unix_client();
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->server_info().has(kCapabilitySharedMemory));
  exercise_every_call(*c, 1000);
}

TEST_F(ClientDaemon, EveryCallOverTcp) {
  auto c = tcp_client();
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->server_info().has(kCapabilitySharedMemory));  // no SCM_RIGHTS over TCP
  exercise_every_call(*c, 2000);
}

TEST_F(ClientDaemon, BatchesAboveMaxBatchAreSplitTransparently) {
  auto c = unix_client();
  ASSERT_NE(c, nullptr);
  constexpr std::size_t kItems = 30;  // 4 requests of at most 8 items
  std::vector<Key> k = keys(3000, kItems);
  std::vector<std::vector<std::byte>> values;
  std::vector<PutItem> puts;
  for (std::size_t i = 0; i < kItems; ++i) values.push_back(pattern(k[i], 1000 + i));
  for (std::size_t i = 0; i < kItems; ++i) puts.push_back({k[i], values[i]});
  // Skip item 20 so the chain has a gap there.
  std::vector<PutItem> without_20 = puts;
  without_20.erase(without_20.begin() + 20);
  std::vector<Status> put_out(without_20.size());
  {
    Status s = c->put_many(without_20, put_out);
    ASSERT_TRUE(s.ok()) << s.to_string() << "\n" << daemon_->log();
  }
  for (const Status& s : put_out) EXPECT_TRUE(s.ok()) << s.to_string();

  std::vector<std::vector<std::byte>> dst(kItems, std::vector<std::byte>(2000));
  std::vector<GetItem> gets;
  for (std::size_t i = 0; i < kItems; ++i) gets.push_back({k[i], dst[i]});
  std::vector<GetResult> out(kItems);
  {
    Status s = c->get_many(gets, out);
    ASSERT_TRUE(s.ok()) << s.to_string() << "\n" << daemon_->log();
  }
  for (std::size_t i = 0; i < kItems; ++i) {
    if (i == 20) {
      EXPECT_EQ(out[i].status.code(), StatusCode::kNotFound);
      continue;
    }
    ASSERT_TRUE(out[i].status.ok()) << i << ": " << out[i].status.to_string();
    EXPECT_EQ(out[i].size, 1000 + i);
    EXPECT_TRUE(matches_pattern(std::span(dst[i]).first(out[i].size), k[i])) << i;
  }

  // Lookups of 30 keys are 4 LOOKUPs; the answer is that of one: the prefix before the gap.
  Result<PrefixMatch> m = c->lookup(k);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->cached, 20u);
  EXPECT_EQ(c->lookup(std::span(k).first(20))->cached, 20u);
  EXPECT_EQ(c->lookup(std::span(k).first(16))->cached, 16u);  // exactly two full pieces
  EXPECT_EQ(c->lookup(std::span(k).subspan(21))->cached, kItems - 21);
}

TEST_F(ClientDaemon, BatchesAboveMaxDataBytesAreSplitAndUnstorableValuesRefusedPerItem) {
  auto c = unix_client();
  ASSERT_NE(c, nullptr);
  // Ten 1.5 MiB values are 15 MiB: at least four frames of at most 4 MiB.
  std::vector<Key> k = keys(4000, 12);
  std::vector<std::vector<std::byte>> values;
  for (int i = 0; i < 10; ++i) values.push_back(pattern(k[i], 3 * kMiB / 2));
  std::vector<std::byte> too_large(kMaxValue + 1);
  std::vector<PutItem> puts;
  for (int i = 0; i < 10; ++i) puts.push_back({k[i], values[i]});
  puts.push_back({k[10], {}});         // empty
  puts.push_back({k[11], too_large});  // above max_value_bytes
  std::vector<Status> put_out(puts.size());
  {
    Status s = c->put_many(puts, put_out);
    ASSERT_TRUE(s.ok()) << s.to_string() << "\n" << daemon_->log();
  }
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(put_out[i].ok()) << put_out[i].to_string();
  EXPECT_EQ(put_out[10].code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(put_out[11].code(), StatusCode::kTooLarge);
  EXPECT_EQ(c->put(k[11], too_large).code(), StatusCode::kTooLarge);
  EXPECT_EQ(c->put(k[10], {}).code(), StatusCode::kInvalidArgument);

  // Reading them back: buffers of 2 MiB each, so at most two per frame.
  std::vector<AlignedBuffer> dst;
  std::vector<GetItem> gets;
  for (int i = 0; i < 10; ++i) dst.emplace_back(kMaxValue);
  for (int i = 0; i < 10; ++i) gets.push_back({k[i], dst[i].span()});
  std::vector<GetResult> out(gets.size());
  {
    Status s = c->get_many(gets, out);
    ASSERT_TRUE(s.ok()) << s.to_string() << "\n" << daemon_->log();
  }
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(out[i].status.ok()) << i << ": " << out[i].status.to_string();
    ASSERT_EQ(out[i].size, 3 * kMiB / 2);
    EXPECT_TRUE(matches_pattern(dst[i].span().first(out[i].size), k[i])) << i;
  }
  EXPECT_TRUE(c->ping().ok());
}

TEST_F(ClientDaemon, PipelineMovesMegabytesBothWaysWithoutStalling) {
  auto c = tcp_client();
  ASSERT_NE(c, nullptr);
  // 40 puts and 40 gets of 1 MiB, interleaved: 40 MiB go out while 40 MiB come back, and the
  // daemon stops reading whenever 1 MiB of responses is queued, so a client that wrote
  // everything before reading would deadlock.
  constexpr int kN = 40;
  std::vector<Key> k = keys(5000, kN);
  std::vector<std::vector<std::byte>> values;
  std::vector<std::vector<std::byte>> dst(kN, std::vector<std::byte>(kMiB));
  for (int i = 0; i < kN; ++i) values.push_back(pattern(k[i], kMiB));
  auto p = c->pipeline();
  std::vector<std::size_t> put_ids, get_ids;
  for (int i = 0; i < kN; ++i) {
    put_ids.push_back(p->put(k[i], values[i]));
    get_ids.push_back(p->get(k[i], dst[i]));
  }
  std::size_t lookup_id = p->lookup(k);  // 40 keys: 5 LOOKUPs combined
  std::size_t remove_id = p->remove(k[0]);
  std::size_t refused_id = p->put(k[0], {});
  EXPECT_EQ(p->size(), 2u * kN + 3);
  {
    Status s = p->run();
    ASSERT_TRUE(s.ok()) << s.to_string() << "\n" << daemon_->log();
  }
  for (int i = 0; i < kN; ++i) {
    EXPECT_TRUE(p->status(put_ids[i]).ok()) << p->status(put_ids[i]).to_string();
    const GetResult& r = p->get_result(get_ids[i]);
    ASSERT_TRUE(r.status.ok()) << i << ": " << r.status.to_string();
    ASSERT_EQ(r.size, kMiB);
    EXPECT_TRUE(matches_pattern(dst[i], k[i])) << i;
  }
  EXPECT_TRUE(p->status(lookup_id).ok());
  EXPECT_EQ(p->lookup_result(lookup_id).cached, static_cast<std::size_t>(kN));
  EXPECT_TRUE(p->status(remove_id).ok());
  EXPECT_EQ(p->status(refused_id).code(), StatusCode::kInvalidArgument);

  // The pipeline runs again with what was queued since.
  std::size_t miss = p->get(k[0], dst[0]);
  {
    Status s = p->run();
    ASSERT_TRUE(s.ok()) << s.to_string() << "\n" << daemon_->log();
  }
  EXPECT_EQ(p->get_result(miss).status.code(), StatusCode::kNotFound);
  EXPECT_TRUE(c->ping().ok());
}

TEST_F(ClientDaemon, SharedMemoryRegions) {
  auto c = unix_client();
  ASSERT_NE(c, nullptr);
  Result<SharedRegion> region = c->register_shared_memory(3 * kMiB + 5);
  ASSERT_TRUE(region.ok()) << region.status().to_string() << "\n" << daemon_->log();
  ASSERT_EQ(region->memory.size(), 3 * kMiB + kPageSize);
  std::span<std::byte> mem = region->memory;

  // 12 values (two PUT_MANY_SHM requests of at most 8), each at a 4 KiB-aligned offset.
  constexpr std::size_t kN = 12;
  constexpr std::size_t kSize = 100'000;
  constexpr std::size_t kSlot = 128 * 1024;
  std::vector<Key> k = keys(6000, kN + 1);
  std::vector<ShmPut> puts;
  std::vector<ShmGet> gets;
  for (std::size_t i = 0; i < kN; ++i) {
    fill_pattern(mem.subspan(i * kSlot, kSize), k[i]);
    puts.push_back({k[i], i * kSlot, kSize});
    gets.push_back({k[i], (kN + i) * kSlot, kSlot});
  }
  gets.push_back({k[kN], 0, kSlot});  // never stored
  std::vector<Status> put_out(puts.size());
  {
    Status s = c->put_many_shm(*region, puts, put_out);
    ASSERT_TRUE(s.ok()) << s.to_string() << "\n" << daemon_->log();
  }
  for (const Status& s : put_out) EXPECT_TRUE(s.ok()) << s.to_string();
  std::vector<GetResult> out(gets.size());
  {
    Status s = c->get_many_shm(*region, gets, out);
    ASSERT_TRUE(s.ok()) << s.to_string() << "\n" << daemon_->log();
  }
  for (std::size_t i = 0; i < kN; ++i) {
    ASSERT_TRUE(out[i].status.ok()) << i << ": " << out[i].status.to_string();
    ASSERT_EQ(out[i].size, kSize);
    EXPECT_TRUE(matches_pattern(mem.subspan((kN + i) * kSlot, kSize), k[i])) << i;
  }
  EXPECT_EQ(out[kN].status.code(), StatusCode::kNotFound);
  // A value stored through shared memory reads back through the socket too.
  std::vector<std::byte> got(kSize);
  EXPECT_TRUE(c->get(k[0], got).status.ok());
  EXPECT_TRUE(matches_pattern(got, k[0]));

  // Outside the region, or a region of another client: refused before sending.
  std::vector<ShmGet> outside = {{k[0], mem.size() - 4096, 8192}};
  std::vector<GetResult> one(1);
  EXPECT_EQ(c->get_many_shm(*region, outside, one).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(one[0].status.code(), StatusCode::kInvalidArgument);
  auto other = unix_client();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->get_many_shm(*region, std::span(gets).first(1), one).code(),
            StatusCode::kInvalidArgument);
  // A second region on the same connection gets its own id.
  Result<SharedRegion> second = c->register_shared_memory(4096);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_NE(second->id, region->id);
  EXPECT_TRUE(c->ping().ok());
}

TEST_F(ClientDaemon, SharedMemoryNeedsTheUnixSocket) {
  auto c = tcp_client();
  ASSERT_NE(c, nullptr);
  Result<SharedRegion> r = c->register_shared_memory(4096);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(c->ping().ok());
}

TEST_F(ClientDaemon, TokensAndAddresses) {
  ClientOptions o;
  o.address = daemon_->tcp_address();
  auto none = Client::connect(o);  // TCP needs a token
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(none.status().message().find("refused HELLO"), std::string::npos)
      << none.status().message();
  o.token = "not-the-token-0123456789";
  auto wrong = Client::connect(o);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);

  // The Unix socket as a bare path, and TCP written as HOST:PORT without "tcp:".
  auto path = connect(daemon_->unix_address().substr(5));
  ASSERT_NE(path, nullptr);
  EXPECT_TRUE(path->ping().ok());
  auto bare = connect(daemon_->tcp_address().substr(4), daemon_->default_token());
  ASSERT_NE(bare, nullptr);
  EXPECT_EQ(bare->server_info().tenant, "default");

  o.address = "unix:" + dir_.file("no-such.sock");
  auto absent = Client::connect(o);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), StatusCode::kIOError);
  o.address = "tcp:127.0.0.1";
  EXPECT_EQ(Client::connect(o).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ClientDaemon, ATimeoutClosesTheConnectionForGood) {
  auto c = connect(daemon_->unix_address(), "", std::chrono::milliseconds(300));
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->ping().ok());
  ASSERT_TRUE(daemon_->freeze());
  Status s = c->ping();
  daemon_->signal(SIGCONT);
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.to_string();
  EXPECT_NE(s.message().find("within 300 ms"), std::string::npos) << s.message();
  // The late response must never be taken for a later call's.
  Status later = c->ping();
  EXPECT_EQ(later.code(), StatusCode::kClosed) << later.to_string();
  std::vector<std::byte> buf(16);
  EXPECT_EQ(c->get(test_key(1), buf).status.code(), StatusCode::kClosed);
  EXPECT_EQ(c->lookup(keys(1, 2)).status().code(), StatusCode::kClosed);
  auto fresh = unix_client();
  ASSERT_NE(fresh, nullptr);
  EXPECT_TRUE(fresh->ping().ok());
}

// Issue 24, item 8, the client's half of the shared-memory contract after a timeout
// (docs/CLIENTS.md): the daemon may still be in the call, so the client never sends another call
// on that region (Closed), no other client can name it (InvalidArgument), and the way on is a new
// client with new regions, which the late call does not touch.
TEST_F(ClientDaemon, AShmCallThatTimesOutEndsTheRegionsOfItsClient) {
  auto c = connect(daemon_->unix_address(), "", std::chrono::milliseconds(300));
  ASSERT_NE(c, nullptr);
  Result<SharedRegion> region = c->register_shared_memory(64 * kKiB);
  ASSERT_TRUE(region.ok()) << region.status().to_string();
  const std::vector<Key> k = keys(7000, 1);
  fill_pattern(region->memory.first(10000), k[0]);
  std::vector<ShmPut> put = {{k[0], 0, 10000}};
  std::vector<Status> put_out(1);
  ASSERT_TRUE(c->put_many_shm(*region, put, put_out).ok());
  ASSERT_TRUE(put_out[0].ok());

  ASSERT_TRUE(daemon_->freeze());
  std::vector<ShmGet> get = {{k[0], 32 * kKiB, 32 * kKiB}};
  std::vector<GetResult> got(1);
  Status s = c->get_many_shm(*region, get, got);
  daemon_->signal(SIGCONT);
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.to_string();
  EXPECT_EQ(c->get_many_shm(*region, get, got).code(), StatusCode::kClosed);
  EXPECT_EQ(c->put_many_shm(*region, put, put_out).code(), StatusCode::kClosed);
  auto fresh = unix_client();
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(fresh->get_many_shm(*region, get, got).code(), StatusCode::kInvalidArgument)
      << "a region belongs to the client that registered it";
  c.reset();  // its regions are unmapped with it

  Result<SharedRegion> next = fresh->register_shared_memory(64 * kKiB);
  ASSERT_TRUE(next.ok()) << next.status().to_string();
  std::vector<ShmGet> again = {{k[0], 0, 32 * kKiB}};
  ASSERT_TRUE(fresh->get_many_shm(*next, again, got).ok());
  ASSERT_TRUE(got[0].status.ok()) << got[0].status.to_string();
  EXPECT_TRUE(matches_pattern(next->memory.first(10000), k[0]));
  EXPECT_TRUE(std::all_of(next->memory.begin() + 32 * kKiB, next->memory.end(),
                          [](std::byte b) { return b == std::byte{0}; }))
      << "the late call wrote into another client's region";
}

TEST_F(ClientDaemon, ADaemonThatGoesAwayClosesTheClient) {
  auto c = unix_client();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->ping().ok());
  daemon_->kill_now();
  Status s = c->ping();
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.code() == StatusCode::kClosed || s.code() == StatusCode::kIOError) << s.to_string();
  std::vector<Status> out(1);
  std::vector<std::byte> v(10);
  std::vector<PutItem> items = {{test_key(1), v}};
  EXPECT_EQ(c->put_many(items, out).code(), StatusCode::kClosed);
  EXPECT_EQ(out[0].code(), StatusCode::kClosed);
}

TEST_F(ClientDaemon, CApiSmokeProgramOverBothTransports) {
  std::string smoke = KVTIER_C_API_SMOKE;
  EXPECT_EQ(
      run_shell(smoke + " " + daemon_->unix_address() + " >" + dir_.file("c-unix.log") + " 2>&1"),
      0)
      << read_file(dir_.file("c-unix.log"));
  EXPECT_EQ(run_shell(smoke + " " + daemon_->tcp_address() + " " + daemon_->default_token() + " >" +
                      dir_.file("c-tcp.log") + " 2>&1"),
            0)
      << read_file(dir_.file("c-tcp.log"));
}

TEST_F(ClientDaemon, CliPutGetLookupPing) {
  const std::string kv = std::string(KVTIER_BINARY) + " ";
  const std::string addr = " --address " + daemon_->unix_address();
  const std::string key = test_key(7000).hex();
  const std::string other = test_key(7001).hex();
  std::vector<std::byte> value = pattern(test_key(7000), 1'500'000);  // above get's first guess
  std::ofstream(dir_.file("in.bin"), std::ios::binary)
      .write(reinterpret_cast<const char*>(value.data()),
             static_cast<std::streamsize>(value.size()));

  EXPECT_EQ(run_shell(kv + "put " + key + " " + dir_.file("in.bin") + addr), 0);
  EXPECT_EQ(run_shell(kv + "get " + key + " -o " + dir_.file("out.bin") + addr), 0);
  EXPECT_EQ(read_file(dir_.file("out.bin")), read_file(dir_.file("in.bin")));
  EXPECT_EQ(run_shell(kv + "get " + key + addr + " >" + dir_.file("stdout.bin")), 0);
  EXPECT_EQ(read_file(dir_.file("stdout.bin")), read_file(dir_.file("in.bin")));
  // stdin, and the address from the environment.
  EXPECT_EQ(run_shell("printf 'from stdin' | KVTIER_ADDRESS=" + daemon_->unix_address() + " " + kv +
                      "put " + other + " -"),
            0);
  EXPECT_EQ(run_shell(kv + "get " + other + addr + " >" + dir_.file("stdin.bin")), 0);
  EXPECT_EQ(read_file(dir_.file("stdin.bin")), "from stdin");

  EXPECT_EQ(run_shell(kv + "lookup " + key + " " + other + addr + " >" + dir_.file("l.txt")), 0);
  EXPECT_NE(read_file(dir_.file("l.txt")).find("cached 2 of 2"), std::string::npos);
  const std::string missing = test_key(7002).hex();
  EXPECT_EQ(run_shell(kv + "lookup " + key + " " + missing + " " + other + addr + " >" +
                      dir_.file("l.txt")),
            1);
  EXPECT_NE(read_file(dir_.file("l.txt")).find("cached 1 of 3"), std::string::npos);
  EXPECT_EQ(
      run_shell(kv + "get " + missing + " -o " + dir_.file("miss.bin") + addr + " 2>/dev/null"), 1);
  EXPECT_FALSE(std::ifstream(dir_.file("miss.bin")).good());  // a miss writes no file

  EXPECT_EQ(run_shell(kv + "ping" + addr + " >/dev/null"), 0);
  std::ofstream(dir_.file("token")) << daemon_->default_token() << "\n";
  EXPECT_EQ(run_shell(kv + "ping --address " + daemon_->tcp_address() + " --token-file " +
                      dir_.file("token") + " >/dev/null"),
            0);
  EXPECT_EQ(run_shell("KVTIER_TOKEN=" + daemon_->default_token() + " " + kv + "ping --address " +
                      daemon_->tcp_address() + " >/dev/null"),
            0);
  // Usage errors exit 2, a daemon that refuses or is absent 3.
  EXPECT_EQ(run_shell(kv + "get nothex" + addr + " 2>/dev/null"), 2);
  EXPECT_EQ(run_shell(kv + "put " + key + addr + " 2>/dev/null"), 2);
  EXPECT_EQ(run_shell(kv + "ping --address nonsense 2>/dev/null"), 2);
  EXPECT_EQ(run_shell(kv + "ping --address " + daemon_->tcp_address() + " 2>/dev/null"), 3);
  EXPECT_EQ(run_shell(kv + "ping --address unix:" + dir_.file("absent.sock") + " 2>/dev/null"), 3);
}

// A 256 MiB value (the largest the daemon takes by default) in one PUT and one GET, each way
// streamed between the socket and the caller's buffer.
TEST(ClientDaemonLarge, A256MiBValueOverBothTransports) {
  TempDir dir;
  DaemonProcess daemon(dir.path(),
                       "[dram]\ncapacity_bytes = \"640MiB\"\n"
                       "[nvme]\ndefault_file_bytes = \"68MiB\"\nregion_size = \"4MiB\"\n");
  ASSERT_TRUE(daemon.started()) << daemon.log();
  constexpr std::size_t kBig = 256 * kMiB;
  const Key key = test_key(8000);
  AlignedBuffer value(kBig);
  AlignedBuffer got(kBig);
  ASSERT_FALSE(value.empty() || got.empty());
  fill_pattern(value.span(), key);
  for (const std::string& address : {daemon.unix_address(), daemon.tcp_address()}) {
    ClientOptions o;
    o.address = address;
    if (address.starts_with("tcp:")) o.token = daemon.default_token();
    auto c = Client::connect(o);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    ASSERT_EQ((*c)->server_info().max_value_bytes, kBig);
    Status s = (*c)->put(key, value.span());
    ASSERT_TRUE(s.ok()) << address << ": " << s.to_string() << "\n" << daemon.log();
    std::memset(got.data(), 0, 4096);
    GetResult r = (*c)->get(key, got.span());
    ASSERT_TRUE(r.status.ok()) << address << ": " << r.status.to_string();
    ASSERT_EQ(r.size, kBig);
    EXPECT_EQ(std::memcmp(got.data(), value.data(), kBig), 0) << address;
    EXPECT_TRUE((*c)->remove(key).ok());
  }
}

}  // namespace
}  // namespace kvtier::testing
