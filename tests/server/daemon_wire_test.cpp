// The real kvtierd process against a byte-level client (RawWire): lifecycle (ready file, socket
// mode, data-dir lock, SIGTERM then restart with the data there), HELLO and tokens, tenant
// isolation and quotas, pipelining (Unix and TCP), a TCP value that trickles in, PUT_MANY of
// large, small and over-quota batches, and bad input: garbage, truncated and oversized frames, bad
// meta, requests before HELLO, a client killed mid-value or mid-batch. After every bad input the
// daemon still serves the other clients.
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "dram/block.h"
#include "kvtier/config.h"
#include "scrape/prometheus_parse.h"
#include "server/raw_wire.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier::testing {
namespace {

using protocol::Opcode;

constexpr const char* kAliceToken = "alice-token-0123456789";
constexpr const char* kBobToken = "bob-token-0123456789abc";

// Bob's quota: four 256 KiB values (a quota counts what blocks cost: dram::block_charge), and
// one 1 MiB value but not two.
constexpr std::uint64_t kBobQuota = 4 * dram::block_charge(256 * kKiB);
static_assert(dram::block_charge(1 * kMiB) <= kBobQuota && 2 * dram::block_charge(1 * kMiB) > kBobQuota);

std::string tenant_config() {
  return small_daemon_config(
      "[[tenants]]\nname = \"alice\"\ntoken = \"" + std::string(kAliceToken) +
      "\"\n[[tenants]]\nname = \"bob\"\ntoken = \"" + std::string(kBobToken) +
      "\"\nquota_bytes = " + std::to_string(kBobQuota) + "\n");
}

// The bytes of a whole PUT frame (header, meta, value) of `v` under `k`.
std::vector<std::byte> wire_put_frame(std::uint64_t id, const Key& k,
                                      const std::vector<std::byte>& v) {
  std::vector<std::byte> frame;
  EXPECT_TRUE(protocol::append_frame(frame, id, protocol::PutRequest{k, v.size()}, v.size()).ok());
  frame.insert(frame.end(), v.begin(), v.end());
  return frame;
}

class DaemonWire : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<DaemonProcess>(dir_.path(), tenant_config());
    ASSERT_TRUE(daemon_->started()) << daemon_->log();
  }
  // A connection that has done HELLO on the Unix socket as the default tenant.
  std::unique_ptr<RawWire> unix_client() {
    auto w = std::make_unique<RawWire>(daemon_->unix_address());
    EXPECT_TRUE(w->connected());
    EXPECT_TRUE(w->hello());
    return w;
  }
  // A connection that has done HELLO over TCP as the default tenant.
  std::unique_ptr<RawWire> tcp_client() {
    auto w = std::make_unique<RawWire>(daemon_->tcp_address());
    EXPECT_TRUE(w->connected());
    EXPECT_TRUE(w->hello(daemon_->default_token()));
    return w;
  }
  // The daemon still answers a fresh client.
  void expect_serving() {
    auto w = unix_client();
    ASSERT_TRUE(w->send(7, protocol::PingRequest{"still here"}));
    auto r = w->receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status(), StatusCode::kOk);
    EXPECT_EQ(r->header.request_id, 7u);
  }

  // Puts values of sizes around the 64 KiB and 4 KiB marks, each with a GET packed behind it, in
  // one write; every reply comes back in order with the bytes put.
  void pipeline_large_and_small_frames(RawWire& w) {
    const std::vector<std::size_t> sizes = {70000, 12,   300000, 4000,   1 * kMiB, 1,
                                            65536, 5000, 65535,  200000, 3,        4096};
    std::vector<std::byte> batch;
    std::vector<std::vector<std::byte>> values;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      Key k = test_key(300 + i);
      values.push_back(pattern(k, sizes[i]));
      ASSERT_TRUE(
          protocol::append_frame(batch, 10 + i, protocol::PutRequest{k, sizes[i]}, sizes[i]).ok());
      batch.insert(batch.end(), values.back().begin(), values.back().end());
      // A GET of the value just put, packed behind it.
      ASSERT_TRUE(protocol::append_frame(batch, 100 + i, protocol::GetRequest{k, 1 * kMiB}).ok());
    }
    ASSERT_TRUE(w.send_bytes(batch));
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      auto put = w.receive();
      ASSERT_TRUE(put.has_value());
      EXPECT_EQ(put->header.request_id, 10 + i);
      EXPECT_EQ(put->status(), StatusCode::kOk) << put->message();
      auto got = w.receive();
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->header.request_id, 100 + i);
      ASSERT_EQ(got->status(), StatusCode::kOk) << got->message();
      EXPECT_EQ(got->data, values[i]) << "value " << i << " of " << sizes[i] << " bytes";
    }
  }

  // A child process does HELLO (as the tenant of `token`), sends `bytes` (a frame cut short) and
  // is killed with SIGKILL.
  void client_killed_after(const std::vector<std::byte>& bytes, const std::string& token = "") {
    pid_t child = ::fork();
    if (child == 0) {
      RawWire w(daemon_->unix_address());
      if (!w.hello(token)) ::_exit(3);
      (void)w.send_bytes(bytes);
      ::raise(SIGKILL);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));
  }

  TempDir dir_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(DaemonWire, SocketIsGroupOnlyAndASecondDaemonRefusesTheDataDir) {
  struct stat st {};
  ASSERT_EQ(::stat(daemon_->unix_address().substr(5).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  DaemonProcess second(dir_.path(), tenant_config());
  EXPECT_FALSE(second.started());
  EXPECT_EQ(second.exit_status_code(), 4);
  EXPECT_NE(second.log().find("in use by another kvtierd"), std::string::npos) << second.log();
  expect_serving();
}

// The "Umask:" line of /proc/<pid>/status ("self" for this process).
std::string umask_of(const std::string& pid) {
  std::ifstream status("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Umask:", 0) == 0) return line;
  }
  return "no Umask line";
}

// Issue 24, item 10: the socket's mode is set on the socket alone (chmod before listen); the
// daemon's umask is the one it was started with. Before, umask(0117) was set process-wide after
// the store's threads had started, so a directory one of them created then lost its search bit.
TEST_F(DaemonWire, TheSocketModeLeavesTheProcessUmaskAlone) {
  EXPECT_EQ(umask_of(std::to_string(daemon_->pid())), umask_of("self"));
}

TEST_F(DaemonWire, RequestBeforeHelloIsRefusedAndClosed) {
  RawWire w(daemon_->unix_address());
  ASSERT_TRUE(w.send(5, protocol::PingRequest{"x"}));
  auto r = w.receive();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r->header.request_id, 5u);
  EXPECT_NE(r->message().find("HELLO"), std::string::npos);
  EXPECT_TRUE(w.closed_by_peer());
  expect_serving();
}

// Before HELLO the daemon reads nothing of a request but its header: any other opcode is refused
// and closed at once, whatever its meta or data would have been (issue 24: a meta over a limit
// was answered too_large and the connection stayed open, so a client without a token could keep
// sending megabyte metas and up to max_frame_data_bytes of data until the HELLO deadline). HELLO
// itself carries no data and a meta of at most kMaxHelloMetaBytes.
TEST_F(DaemonWire, BeforeHelloOnlyAHeaderIsReadAndAnythingButAHelloIsClosed) {
  struct Case {
    const char* what;
    Opcode opcode;
    std::uint32_t meta_len;
    std::uint64_t data_len;
  };
  const Case cases[] = {
      {"PING with a meta over its limit", Opcode::kPing, 4096, 0},
      {"PUT_MANY announcing 1 MiB of meta", Opcode::kPutMany, protocol::kMaxMetaBytes, 0},
      {"PUT announcing 512 MiB of data", Opcode::kPut, 64, std::uint64_t{512} << 20},
      {"HELLO with data", Opcode::kHello, 16, 4096},
      {"HELLO with a meta of 64 KiB", Opcode::kHello, 64 * 1024, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    for (const std::string& address : {daemon_->unix_address(), daemon_->tcp_address()}) {
      RawWire w(address);
      ASSERT_TRUE(w.connected());
      protocol::FrameHeader h;
      h.opcode = c.opcode;
      h.request_id = 9;
      h.meta_len = c.meta_len;
      h.data_len = c.data_len;
      std::array<std::byte, protocol::kFrameHeaderBytes> raw;
      protocol::encode_header(h, raw);
      ASSERT_TRUE(w.send_bytes(raw));  // the header alone: the answer must not wait for more
      auto r = w.receive(std::chrono::seconds(5));
      ASSERT_TRUE(r.has_value()) << address << ": no answer to the header alone";
      EXPECT_NE(r->status(), StatusCode::kOk) << address;
      EXPECT_EQ(r->header.request_id, 9u) << address;
      EXPECT_TRUE(w.closed_by_peer()) << address;
    }
  }
  expect_serving();
}

TEST_F(DaemonWire, TcpNeedsAValidTokenAndAWrongOneLooksLikeAnUnknownOne) {
  {
    RawWire w(daemon_->tcp_address());
    EXPECT_FALSE(w.hello(""));
    EXPECT_TRUE(w.closed_by_peer());
  }
  std::string replies[2];
  const char* wrong[2] = {"alice-token-0123456780", "no-such-tenant-token-xyz"};
  for (int i = 0; i < 2; ++i) {
    RawWire w(daemon_->tcp_address());
    protocol::HelloRequest h;
    h.token = wrong[i];
    ASSERT_TRUE(w.send(1, h));
    auto r = w.receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status(), StatusCode::kInvalidArgument);
    replies[i] = r->message();
    EXPECT_TRUE(w.closed_by_peer());
  }
  EXPECT_EQ(replies[0], replies[1]);
  RawWire ok(daemon_->tcp_address());
  EXPECT_TRUE(ok.hello(kAliceToken));
  RawWire def(daemon_->tcp_address());
  EXPECT_TRUE(def.hello(daemon_->default_token()));
}

// HELLO picks the newest version both ends speak (docs/PROTOCOL.md, "Versions"): a version 1
// client gets version 1's response, byte for byte without capabilities, and is served; a newer
// one gets version 2 with what this connection can do; no common version is refused.
TEST_F(DaemonWire, HelloNegotiatesTheNewestCommonVersion) {
  auto hello = [&](const std::string& address, std::uint16_t min, std::uint16_t max,
                   const std::string& token) -> std::optional<protocol::HelloResponse> {
    RawWire w(address);
    if (!w.send(1, protocol::HelloRequest{.min_version = min, .max_version = max, .token = token}))
      return std::nullopt;
    auto r = w.receive();
    if (!r || r->status() != StatusCode::kOk) return std::nullopt;
    auto m = protocol::decode_meta<protocol::HelloResponse>(r->meta);
    if (!m.ok() || !w.send(2, protocol::PingRequest{"after hello"})) return std::nullopt;
    auto pong = w.receive();
    if (!pong || pong->status() != StatusCode::kOk) return std::nullopt;
    return std::move(m).value();
  };
  auto v1 = hello(daemon_->unix_address(), 1, 1, "");
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v1->capabilities, 0u);  // not on the wire in version 1
  for (std::uint16_t max : {2, 9}) {
    auto v2 = hello(daemon_->unix_address(), 1, max, "");
    ASSERT_TRUE(v2.has_value()) << max;
    EXPECT_EQ(v2->version, 2);
    EXPECT_EQ(v2->capabilities,
              protocol::kCapabilitySharedMemory | protocol::kCapabilityDurablePut);
  }
  auto tcp = hello(daemon_->tcp_address(), 2, 2, daemon_->default_token());
  ASSERT_TRUE(tcp.has_value());
  EXPECT_EQ(tcp->version, 2);
  EXPECT_EQ(tcp->capabilities, protocol::kCapabilityDurablePut);  // no memfd over TCP

  RawWire w(daemon_->unix_address());
  ASSERT_TRUE(w.send(1, protocol::HelloRequest{.min_version = 3, .max_version = 4}));
  auto r = w.receive();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r->message(), "no common protocol version: the client speaks 3..4, the daemon 1..2");
  EXPECT_TRUE(w.closed_by_peer());
}

TEST_F(DaemonWire, GarbageGetsAnErrorAndACloseWhileOthersGoOn) {
  auto other = unix_client();
  RawWire w(daemon_->unix_address());
  ASSERT_TRUE(w.send_text("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = w.receive();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->header.opcode, Opcode::kNone);
  EXPECT_EQ(r->header.request_id, 0u);
  EXPECT_EQ(r->status(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(w.closed_by_peer());
  ASSERT_TRUE(other->send(9, protocol::PingRequest{"p"}));
  auto p = other->receive();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->status(), StatusCode::kOk);
}

TEST_F(DaemonWire, OversizedFrameIsTooLargeAndClosed) {
  auto w = unix_client();
  protocol::FrameHeader h;
  h.opcode = Opcode::kPut;
  h.request_id = 3;
  h.meta_len = protocol::kMaxMetaBytes + 1;
  std::array<std::byte, protocol::kFrameHeaderBytes> raw;
  protocol::encode_header(h, raw);
  ASSERT_TRUE(w->send_bytes(raw));
  auto r = w->receive();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status(), StatusCode::kTooLarge);
  EXPECT_EQ(r->header.request_id, 3u);
  EXPECT_TRUE(w->closed_by_peer());
  expect_serving();
}

// A header announcing more data than the daemon takes in one frame (HELLO's max_data_bytes, 1 GiB
// by default) is answered too_large and closed before a byte of that data is read or a buffer is
// taken for it; so is one whose data_len is absurd.
TEST_F(DaemonWire, DataLenAboveTheFrameLimitIsTooLargeAndClosed) {
  for (std::uint64_t data_len : {protocol::kDefaultMaxDataBytes + 1, std::uint64_t{1} << 63}) {
    SCOPED_TRACE(data_len);
    auto w = unix_client();
    protocol::FrameHeader h;
    h.opcode = Opcode::kPutMany;
    h.request_id = 5;
    h.data_len = data_len;
    std::array<std::byte, protocol::kFrameHeaderBytes> raw;
    protocol::encode_header(h, raw);
    ASSERT_TRUE(w->send_bytes(raw));
    auto r = w->receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status(), StatusCode::kTooLarge) << r->message();
    EXPECT_EQ(r->header.request_id, 5u);
    EXPECT_TRUE(w->closed_by_peer());
  }
  expect_serving();
}

TEST_F(DaemonWire, MetaThatDoesNotMatchItsLayoutIsRefusedAndClosed) {
  auto w = unix_client();
  protocol::FrameHeader h;
  h.opcode = Opcode::kGet;
  h.request_id = 4;
  h.meta_len = 5;  // GET's meta is 24 bytes
  std::vector<std::byte> raw(protocol::kFrameHeaderBytes + 5, std::byte{0x41});
  protocol::encode_header(h, std::span<std::byte, protocol::kFrameHeaderBytes>(raw.data(), 32));
  ASSERT_TRUE(w->send_bytes(raw));
  auto r = w->receive();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(w->closed_by_peer());
  expect_serving();
}

TEST_F(DaemonWire, ValueAboveTheLimitIsRefusedAndTheConnectionGoesOn) {
  auto w = unix_client();
  // The daemon's max_value_bytes is 256 MiB by default; HELLO said so. Send a PUT announcing
  // one byte more, then its data: the data is dropped as it streams in.
  constexpr std::uint64_t kTooBig = 256 * kMiB + 1;
  protocol::PutRequest put{test_key(1), kTooBig};
  std::vector<std::byte> frame;
  ASSERT_TRUE(protocol::append_frame(frame, 11, put, kTooBig).ok());
  ASSERT_TRUE(w->send_bytes(frame));
  std::vector<std::byte> chunk(4 * kMiB, std::byte{1});
  for (std::uint64_t sent = 0; sent < kTooBig;) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), kTooBig - sent));
    ASSERT_TRUE(w->send_bytes({chunk.data(), n}));
    sent += n;
  }
  auto r = w->receive();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status(), StatusCode::kTooLarge) << r->message();
  ASSERT_TRUE(w->send(12, protocol::PingRequest{"after"}));
  auto p = w->receive();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->status(), StatusCode::kOk);
  EXPECT_EQ(p->header.request_id, 12u);
}

TEST_F(DaemonWire, PipelinedPutsAndGetsAreAnsweredInOrder) {
  auto w = unix_client();
  constexpr int kN = 64;
  std::vector<std::byte> batch;
  std::vector<std::vector<std::byte>> values;
  for (int i = 0; i < kN; ++i) {
    values.push_back(pattern(test_key(100 + i), 10000 + i * 100));
    ASSERT_TRUE(protocol::append_frame(batch, 1000 + i,
                                       protocol::PutRequest{test_key(100 + i), values.back().size()},
                                       values.back().size()).ok());
    batch.insert(batch.end(), values.back().begin(), values.back().end());
  }
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(protocol::append_frame(batch, 2000 + i,
                                       protocol::GetRequest{test_key(100 + i), 1 * kMiB}).ok());
  }
  ASSERT_TRUE(w->send_bytes(batch));
  for (int i = 0; i < kN; ++i) {
    auto r = w->receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->header.request_id, static_cast<std::uint64_t>(1000 + i));
    EXPECT_EQ(r->status(), StatusCode::kOk) << r->message();
  }
  for (int i = 0; i < kN; ++i) {
    auto r = w->receive();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->header.request_id, static_cast<std::uint64_t>(2000 + i));
    ASSERT_EQ(r->status(), StatusCode::kOk);
    EXPECT_EQ(r->data, values[static_cast<std::size_t>(i)]);
  }
}

// Large and small frames alternate in one pipelined stream, so frame boundaries fall anywhere in
// the daemon's reads: right after a large value it reads the next header with a small read (to
// land the value straight in DRAM), and the frames packed behind that header must still come out
// whole and in order.
TEST_F(DaemonWire, PipelinedLargeAndSmallFramesKeepTheirBytes) {
  for (bool tcp : {false, true}) {
    SCOPED_TRACE(tcp ? "tcp" : "unix");
    std::unique_ptr<RawWire> w = tcp ? tcp_client() : unix_client();
    pipeline_large_and_small_frames(*w);
  }
}

// Over TCP the daemon asks to be woken only when a good part of a large value is queued
// (SO_RCVLOWAT); a value that trickles in, ending with fewer bytes than that mark (100,000 bytes,
// then 7 alone), still completes.
TEST_F(DaemonWire, TcpValueThatTricklesInStillCompletes) {
  auto w = tcp_client();
  Key k = test_key(500);
  auto v = pattern(k, 1 * kMiB);
  const std::vector<std::byte> frame = wire_put_frame(1, k, v);
  const std::size_t value_at = frame.size() - v.size();
  const std::size_t ends[] = {value_at + 300000, value_at + 300001, frame.size() - 100007,
                              frame.size() - 7, frame.size()};
  std::size_t sent = 0;
  for (std::size_t end : ends) {
    ASSERT_TRUE(w->send_bytes({frame.data() + sent, end - sent}));
    sent = end;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  auto put = w->receive(std::chrono::seconds(10));
  ASSERT_TRUE(put.has_value()) << "no reply to a PUT whose value trickled in";
  EXPECT_EQ(put->status(), StatusCode::kOk) << put->message();
  ASSERT_TRUE(w->send(2, protocol::GetRequest{k, 1 * kMiB}));
  auto got = w->receive();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->data, v);
}

TEST_F(DaemonWire, TenantsCannotSeeEachOthersBlocks) {
  RawWire alice(daemon_->tcp_address());
  ASSERT_TRUE(alice.hello(kAliceToken));
  RawWire bob(daemon_->tcp_address());
  ASSERT_TRUE(bob.hello(kBobToken));
  auto def = unix_client();
  Key k = test_key(42);
  auto v = pattern(k, 5000);
  ASSERT_TRUE(alice.send(1, protocol::PutRequest{k, v.size()}, v));
  ASSERT_EQ(alice.receive()->status(), StatusCode::kOk);
  for (RawWire* other : {&bob, def.get()}) {
    ASSERT_TRUE(other->send(2, protocol::GetRequest{k, 1 * kMiB}));
    EXPECT_EQ(other->receive()->status(), StatusCode::kNotFound);
    ASSERT_TRUE(other->send(3, protocol::LookupRequest{{k}}));
    auto lr = other->receive();
    ASSERT_EQ(lr->status(), StatusCode::kOk);
    auto lookup = protocol::decode_meta<protocol::LookupResponse>(lr->meta);
    ASSERT_TRUE(lookup.ok());
    EXPECT_EQ(lookup->cached, 0u);
    ASSERT_TRUE(other->send(4, protocol::RemoveRequest{k}));
    EXPECT_EQ(other->receive()->status(), StatusCode::kNotFound);
  }
  ASSERT_TRUE(alice.send(5, protocol::GetRequest{k, 1 * kMiB}));
  auto got = alice.receive();
  ASSERT_EQ(got->status(), StatusCode::kOk);
  EXPECT_EQ(got->data, v);
}

TEST_F(DaemonWire, PutsBeyondTheQuotaAreRejected) {
  RawWire bob(daemon_->tcp_address());
  ASSERT_TRUE(bob.hello(kBobToken));
  int accepted = 0, rejected = 0;
  for (int i = 0; i < 8; ++i) {  // 8 x 256 KiB against a quota of 4
    auto v = pattern(test_key(500 + i), 256 * kKiB);
    ASSERT_TRUE(bob.send(i, protocol::PutRequest{test_key(500 + i), v.size()}, v));
    auto r = bob.receive();
    ASSERT_TRUE(r.has_value());
    if (r->status() == StatusCode::kOk) ++accepted;
    if (r->status() == StatusCode::kRejected) {
      ++rejected;
      EXPECT_NE(r->message().find("quota"), std::string::npos);
    }
  }
  EXPECT_EQ(accepted, 4);
  EXPECT_EQ(rejected, 4);
  // Another tenant is not limited by bob's quota.
  RawWire alice(daemon_->tcp_address());
  ASSERT_TRUE(alice.hello(kAliceToken));
  auto v = pattern(test_key(600), 512 * kKiB);
  ASSERT_TRUE(alice.send(1, protocol::PutRequest{test_key(600), v.size()}, v));
  EXPECT_EQ(alice.receive()->status(), StatusCode::kOk);
}

// One PUT_MANY frame of `sizes` values (keys test_key(first + i), pattern bytes) and its
// per-item statuses (empty if the daemon did not answer with a well-formed PUT_MANY response).
std::vector<StatusCode> wire_put_many(RawWire& w, std::uint64_t id, std::uint64_t first,
                                      const std::vector<std::size_t>& sizes) {
  protocol::PutManyRequest m;
  std::vector<std::byte> data;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    m.items.push_back({test_key(first + i), sizes[i]});
    auto v = pattern(test_key(first + i), sizes[i]);
    data.insert(data.end(), v.begin(), v.end());
  }
  if (!w.send(id, m, data)) return {};
  auto r = w.receive();
  if (!r || r->status() != StatusCode::kOk || r->header.request_id != id) return {};
  auto decoded = protocol::decode_meta<protocol::PutManyResponse>(r->meta, 1024);
  return decoded.ok() ? decoded->statuses : std::vector<StatusCode>{};
}

// GET of test_key(n): its status, and whether the bytes are the pattern of `size` bytes.
std::pair<StatusCode, bool> wire_get_back(RawWire& w, std::uint64_t id, std::uint64_t n,
                                          std::size_t size) {
  if (!w.send(id, protocol::GetRequest{test_key(n), 16 * kMiB}))
    return {StatusCode::kIOError, false};
  auto r = w.receive();
  if (!r) return {StatusCode::kIOError, false};
  return {r->status(), r->data.size() == size && matches_pattern(r->data, test_key(n))};
}

// The daemon's STATS as the tenant of `w` sees it, parsed (nullopt on any failure).
std::optional<ParsedMetrics> wire_stats(RawWire& w, std::uint64_t id) {
  if (!w.send(id, protocol::StatsRequest{})) return std::nullopt;
  auto r = w.receive();
  if (!r || r->status() != StatusCode::kOk) return std::nullopt;
  auto stats = protocol::decode_meta<protocol::StatsResponse>(r->meta);
  if (!stats.ok()) return std::nullopt;
  auto parsed = parse_prometheus_text(stats->text);
  if (!parsed.ok()) return std::nullopt;
  return std::move(parsed).value();
}

// Audit of issue 25: a quota counted value bytes while DRAM charges what a block costs, so a
// tenant with a quota could fill DRAM with tiny values (1,000 one-byte values passed a 1 MiB
// quota and cost 8.4 MB). Now the quota counts the charge: about 124 of them fit, the rest are
// rejected, and the tenant's charged bytes stay within the quota.
TEST_F(DaemonWire, TinyValuesCountWhatTheyCostAgainstTheQuota) {
  RawWire bob(daemon_->tcp_address());
  ASSERT_TRUE(bob.hello(kBobToken));
  int accepted = 0;
  const std::byte one{0x7E};
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(bob.send(i, protocol::PutRequest{test_key(70'000 + i), 1}, std::span(&one, 1)));
    auto r = bob.receive();
    ASSERT_TRUE(r.has_value());
    accepted += r->status() == StatusCode::kOk;
  }
  EXPECT_EQ(accepted, static_cast<int>(kBobQuota / dram::block_charge(1)));
  auto m = wire_stats(bob, 5000);
  ASSERT_TRUE(m.has_value());
  EXPECT_LE(m->sum("kvtier_tenant_charged_bytes", {{"tenant", "bob"}, {"tier", "dram"}}).value_or(-1),
            static_cast<double>(kBobQuota));
  EXPECT_EQ(m->sum("kvtier_tenant_bytes", {{"tenant", "bob"}, {"tier", "dram"}}).value_or(-1),
            static_cast<double>(accepted));
}

// A PUT's bytes count toward the quota from its header on: four PUTs of 1 MiB sent together on
// four connections against bob's quota (one such value) store one value, not four (each was admitted before
// any value had arrived, so the usage alone let all four in). A PUT whose client dies before its
// value has arrived gives its bytes back.
TEST_F(DaemonWire, PutsInFlightTogetherCannotPassTheQuota) {
  constexpr int kPuts = 4;
  RawWire watcher(daemon_->tcp_address());
  ASSERT_TRUE(watcher.hello(kBobToken));
  std::vector<std::unique_ptr<RawWire>> bobs;
  for (int i = 0; i < kPuts; ++i) {
    bobs.push_back(std::make_unique<RawWire>(daemon_->tcp_address()));
    ASSERT_TRUE(bobs.back()->hello(kBobToken));
    std::vector<std::byte> header;
    ASSERT_TRUE(
        protocol::append_frame(header, 2, protocol::PutRequest{test_key(700 + i), kMiB}, kMiB)
            .ok());
    ASSERT_TRUE(bobs.back()->send_bytes(header));
  }
  // Let the daemon read every header before any value follows (bounded: a daemon that admits
  // all four never refuses one, and the counts below fail).
  auto refused = [&] {
    auto m = wire_stats(watcher, 9);
    return m ? m->sum("kvtier_quota_rejections_total", {{"tenant", "bob"}}).value_or(0) : 0.0;
  };
  poll_until([&] { return refused() >= kPuts - 1; }, std::chrono::seconds(5));
  int stored = -1, rejected = 0;
  for (int i = 0; i < kPuts; ++i) {
    ASSERT_TRUE(bobs[i]->send_bytes(pattern(test_key(700 + i), kMiB)));
    auto r = bobs[i]->receive();
    ASSERT_TRUE(r.has_value());
    if (r->status() == StatusCode::kOk) {
      EXPECT_EQ(stored, -1) << "PUTs " << stored << " and " << i << " both stored";
      stored = i;
    } else {
      EXPECT_EQ(r->status(), StatusCode::kRejected) << r->message();
      ++rejected;
    }
  }
  ASSERT_NE(stored, -1);
  EXPECT_EQ(rejected, kPuts - 1);
  EXPECT_EQ(wire_get_back(watcher, 10, 700 + stored, kMiB), std::make_pair(StatusCode::kOk, true));
  // Room for one 1 MiB value again; a client that dies mid-value must not keep it.
  ASSERT_TRUE(watcher.send(11, protocol::RemoveRequest{test_key(700 + stored)}));
  ASSERT_EQ(watcher.receive()->status(), StatusCode::kOk);
  std::vector<std::byte> half;
  ASSERT_TRUE(protocol::append_frame(half, 1, protocol::PutRequest{test_key(710), kMiB}, kMiB).ok());
  half.resize(half.size() + kMiB / 2, std::byte{5});
  client_killed_after(half, kBobToken);
  // Until the daemon has seen the close the dead PUT still holds its bytes; then they are back.
  auto v = pattern(test_key(711), kMiB);
  StatusCode put = StatusCode::kRejected;
  for (int attempt = 0; attempt < 100 && put == StatusCode::kRejected; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(watcher.send(20 + attempt, protocol::PutRequest{test_key(711), kMiB}, v));
    auto r = watcher.receive();
    ASSERT_TRUE(r.has_value());
    put = r->status();
  }
  EXPECT_EQ(put, StatusCode::kOk);
  EXPECT_EQ(wire_get_back(watcher, 200, 711, kMiB), std::make_pair(StatusCode::kOk, true));
}

// A tenant's STATS counts its own blocks only (PROTOCOL.md: a tenant cannot count another's);
// the default tenant's, the operator's, shows every tenant, as /metrics does.
TEST_F(DaemonWire, StatsShowsATenantOnlyItsOwnUsage) {
  RawWire alice(daemon_->tcp_address());
  ASSERT_TRUE(alice.hello(kAliceToken));
  RawWire bob(daemon_->tcp_address());
  ASSERT_TRUE(bob.hello(kBobToken));
  ASSERT_TRUE(alice.send(1, protocol::PutRequest{test_key(1), 5000}, pattern(test_key(1), 5000)));
  ASSERT_EQ(alice.receive()->status(), StatusCode::kOk);
  ASSERT_TRUE(bob.send(1, protocol::PutRequest{test_key(2), 3000}, pattern(test_key(2), 3000)));
  ASSERT_EQ(bob.receive()->status(), StatusCode::kOk);
  const std::vector<std::string> just_bob = {"bob"};
  auto seen_by_bob = wire_stats(bob, 2);
  ASSERT_TRUE(seen_by_bob.has_value());
  for (const char* family : {"kvtier_tenant_bytes", "kvtier_tenant_blocks",
                             "kvtier_tenant_quota_bytes", "kvtier_quota_rejections_total"}) {
    EXPECT_EQ(seen_by_bob->label_values(family, "tenant"), just_bob) << family;
  }
  EXPECT_EQ(seen_by_bob->sum("kvtier_tenant_blocks", {{"tenant", "bob"}, {"tier", "dram"}}), 1.0);
  // The daemon-wide counters are there for every tenant.
  EXPECT_TRUE(seen_by_bob->sum("kvtier_requests_total", {{"op", "put"}}).has_value());
  auto def = unix_client();
  auto seen_by_default = wire_stats(*def, 2);
  ASSERT_TRUE(seen_by_default.has_value());
  auto all = seen_by_default->label_values("kvtier_tenant_bytes", "tenant");
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::string>{"alice", "bob", "default"}));
  EXPECT_EQ(seen_by_default->sum("kvtier_tenant_blocks", {{"tenant", "alice"}, {"tier", "dram"}}),
            1.0);
}

// Large values go straight into DRAM reservations, a batch with a small one through a buffer,
// and a batch over the quota item by item; each way the bytes read back are the ones put.
TEST_F(DaemonWire, PutManyStoresLargeSmallAndOverQuotaBatchesAlike) {
  auto w = unix_client();
  const std::vector<std::size_t> large = {256 * kKiB, 1 * kMiB, 64 * kKiB, 512 * kKiB + 4096 + 7};
  EXPECT_EQ(wire_put_many(*w, 2, 900, large),
            std::vector<StatusCode>(large.size(), StatusCode::kOk));
  const std::vector<std::size_t> mixed = {1 * kMiB, 100, 256 * kKiB};
  EXPECT_EQ(wire_put_many(*w, 3, 910, mixed),
            std::vector<StatusCode>(mixed.size(), StatusCode::kOk));
  for (std::size_t i = 0; i < large.size(); ++i) {
    EXPECT_EQ(wire_get_back(*w, 10 + i, 900 + i, large[i]), std::make_pair(StatusCode::kOk, true))
        << i;
  }
  for (std::size_t i = 0; i < mixed.size(); ++i) {
    EXPECT_EQ(wire_get_back(*w, 20 + i, 910 + i, mixed[i]), std::make_pair(StatusCode::kOk, true))
        << i;
  }
  // Putting the large batch again replaces every value (same bytes: still intact).
  EXPECT_EQ(wire_put_many(*w, 4, 900, large),
            std::vector<StatusCode>(large.size(), StatusCode::kOk));
  EXPECT_EQ(wire_get_back(*w, 30, 901, large[1]), std::make_pair(StatusCode::kOk, true));

  RawWire bob(daemon_->tcp_address());
  ASSERT_TRUE(bob.hello(kBobToken));
  std::vector<StatusCode> st = wire_put_many(bob, 5, 920, std::vector<std::size_t>(8, 256 * kKiB));
  std::vector<StatusCode> want(4, StatusCode::kOk);
  want.resize(8, StatusCode::kRejected);  // 8 x 256 KiB against a quota of 4
  EXPECT_EQ(st, want);
  EXPECT_EQ(wire_get_back(bob, 6, 923, 256 * kKiB), std::make_pair(StatusCode::kOk, true));
  EXPECT_EQ(wire_get_back(bob, 7, 924, 256 * kKiB).first, StatusCode::kNotFound);
}

TEST_F(DaemonWire, ClientKilledMidPutManyLeavesNoTraceAndHurtsNoOne) {
  protocol::PutManyRequest m;
  for (int i = 0; i < 4; ++i) m.items.push_back({test_key(950 + i), 1 * kMiB});
  std::vector<std::byte> frame;
  ASSERT_TRUE(protocol::append_frame(frame, 1, m, 4 * kMiB).ok());
  frame.resize(frame.size() + 2 * kMiB + kMiB / 2, std::byte{9});  // 2.5 of the 4 values
  client_killed_after(frame);
  auto w = unix_client();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(wire_get_back(*w, 2 + i, 950 + i, 1 * kMiB).first, StatusCode::kNotFound) << i;
  }
  // The reservations were released: the same keys can be put and read back.
  EXPECT_EQ(wire_put_many(*w, 9, 950, std::vector<std::size_t>(4, 1 * kMiB)),
            std::vector<StatusCode>(4, StatusCode::kOk));
  EXPECT_EQ(wire_get_back(*w, 10, 952, 1 * kMiB), std::make_pair(StatusCode::kOk, true));
}

TEST_F(DaemonWire, ClientKilledMidValueLeavesNoTraceAndHurtsNoOne) {
  Key k = test_key(77);
  std::vector<std::byte> frame;
  ASSERT_TRUE(protocol::append_frame(frame, 1, protocol::PutRequest{k, 8 * kMiB}, 8 * kMiB).ok());
  frame.resize(frame.size() + 4 * kMiB, std::byte{9});  // half the value
  client_killed_after(frame);
  auto w = unix_client();
  ASSERT_TRUE(w->send(2, protocol::GetRequest{k, 16 * kMiB}));
  EXPECT_EQ(w->receive()->status(), StatusCode::kNotFound);
}

TEST_F(DaemonWire, TruncatedHeaderThenCloseIsHarmless) {
  {
    RawWire w(daemon_->unix_address());
    std::vector<std::byte> frame;
    ASSERT_TRUE(protocol::append_frame(frame, 1, protocol::HelloRequest{}).ok());
    ASSERT_TRUE(w.send_bytes({frame.data(), 10}));
  }
  expect_serving();
}

TEST_F(DaemonWire, SigtermFlushesAndARestartServesTheSameBytes) {
  {
    auto w = unix_client();
    for (int i = 0; i < 32; ++i) {
      auto v = pattern(test_key(900 + i), 300 * kKiB);
      ASSERT_TRUE(w->send(i, protocol::PutRequest{test_key(900 + i), v.size()}, v));
      ASSERT_EQ(w->receive()->status(), StatusCode::kOk);
    }
  }
  ASSERT_EQ(daemon_->terminate(), 0) << daemon_->log();
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto w = unix_client();
  for (int i = 0; i < 32; ++i) {
    ASSERT_TRUE(w->send(i, protocol::GetRequest{test_key(900 + i), 1 * kMiB}));
    auto r = w->receive();
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status(), StatusCode::kOk) << i << " " << r->message();
    EXPECT_EQ(r->data, pattern(test_key(900 + i), 300 * kKiB));
  }
}

// SIGTERM while a PUT's value is half received: the daemon refuses new connections at once (it
// does not leave them queued on a socket nobody will serve), still finishes the PUT, exits 0
// leaving its index checkpoint, and the restart takes the checkpoint and serves the value.
TEST_F(DaemonWire, SigtermRefusesNewClientsAndFinishesAHalfReceivedPut) {
  auto w = unix_client();
  Key k = test_key(950);
  auto v = pattern(k, 2 * kMiB);
  const std::vector<std::byte> frame = wire_put_frame(1, k, v);
  const std::size_t half = frame.size() - v.size() / 2;
  ASSERT_TRUE(w->send_bytes({frame.data(), half}));
  daemon_->signal(SIGTERM);
  auto refused = [](const std::string& address) {
    RawWire late(address);
    return !late.connected();
  };
  EXPECT_TRUE(poll_until([&] { return refused(daemon_->tcp_address()); }, std::chrono::seconds(5)))
      << "TCP connections still accepted while draining";
  EXPECT_TRUE(poll_until([&] { return refused(daemon_->unix_address()); }, std::chrono::seconds(5)))
      << "Unix socket connections still accepted while draining";
  ASSERT_TRUE(w->send_bytes({frame.data() + half, frame.size() - half}));
  auto put = w->receive(std::chrono::seconds(10));
  ASSERT_TRUE(put.has_value()) << daemon_->log();
  EXPECT_EQ(put->status(), StatusCode::kOk) << put->message();
  w->close();
  ASSERT_EQ(daemon_->wait_exit(std::chrono::seconds(60)), 0) << daemon_->log();
  // The clean exit left the NVMe index checkpoint; the restart loads it (and deletes it).
  const std::string checkpoint = dir_.path() + "/nvme/index.ckpt";
  struct stat st {};
  EXPECT_EQ(::stat(checkpoint.c_str(), &st), 0) << "no index checkpoint after SIGTERM";
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  EXPECT_NE(::stat(checkpoint.c_str(), &st), 0) << "the restart did not take the checkpoint";
  auto again = unix_client();
  ASSERT_TRUE(again->send(2, protocol::GetRequest{k, 4 * kMiB}));
  auto got = again->receive();
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->status(), StatusCode::kOk) << got->message();
  EXPECT_EQ(got->data, v);
}

}  // namespace
}  // namespace kvtier::testing
