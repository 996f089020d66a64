// Durable puts through a real kvtierd (capability durable_put, docs/PROTOCOL.md): what the daemon
// acknowledged as durable survives its SIGKILL, puts beside them without the flag do not (so the
// test can tell), and a daemon without an NVMe tier refuses the flag before storing anything.
#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kvtier/client.h"
#include "protocol/meta.h"
#include "server/raw_wire.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier::testing::daemon_durable {
namespace {

constexpr std::size_t kValue = 100 * kKiB + 7;

std::unique_ptr<Client> connect(const DaemonProcess& d) {
  ClientOptions o;
  o.address = d.unix_address();
  o.client_name = "daemon_durable_test";
  auto c = Client::connect(o);
  EXPECT_TRUE(c.ok()) << c.status().to_string() << "\n" << d.log();
  return c.ok() ? std::move(c).value() : nullptr;
}

// A whole PUT frame of `v` under `k` with the durable flag, as a client that ignores HELLO sends.
std::vector<std::byte> durable_put_frame(std::uint64_t id, const Key& k,
                                         const std::vector<std::byte>& v) {
  std::vector<std::byte> frame;
  EXPECT_TRUE(protocol::append_frame(frame, id, protocol::PutRequest{k, v.size()}, v.size(),
                                     StatusCode::kOk, protocol::kFlagDurable)
                  .ok());
  frame.insert(frame.end(), v.begin(), v.end());
  return frame;
}

bool reads_back(Client& c, std::uint64_t n) {
  std::vector<std::byte> buf(kValue);
  GetResult r = c.get(test_key(n), buf);
  return r.status.ok() && r.size == kValue && matches_pattern(buf, test_key(n));
}

TEST(DaemonDurable, AcknowledgedDurablePutsSurviveASigkillOfTheDaemon) {
  TempDir dir;
  // No open-region writer: a put without the flag stays in memory until a region fills.
  DaemonProcess daemon(dir.path(), small_daemon_config("flush_interval_ms = 0\n"));
  ASSERT_TRUE(daemon.started()) << daemon.log();
  auto c = connect(daemon);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->server_info().has(kCapabilityDurablePut));
  const PutOptions durable{.durable = true};

  std::vector<std::vector<std::byte>> values;
  for (std::uint64_t n = 0; n < 12; ++n) values.push_back(pattern(test_key(n), kValue));
  ASSERT_TRUE(c->put(test_key(1), values[1], durable).ok());
  std::vector<PutItem> items = {{test_key(2), values[2]}, {test_key(3), values[3]}};
  std::vector<Status> out(items.size());
  ASSERT_TRUE(c->put_many(items, out, durable).ok());
  for (const Status& s : out) EXPECT_TRUE(s.ok()) << s.to_string();
  Result<SharedRegion> region = c->register_shared_memory(2 * kValue);
  ASSERT_TRUE(region.ok()) << region.status().to_string();
  std::vector<ShmPut> shm = {{test_key(4), 0, kValue}, {test_key(5), kValue, kValue}};
  std::memcpy(region->memory.data(), values[4].data(), kValue);
  std::memcpy(region->memory.data() + kValue, values[5].data(), kValue);
  std::vector<Status> shm_out(shm.size());
  ASSERT_TRUE(c->put_many_shm(*region, shm, shm_out, durable).ok());
  for (const Status& s : shm_out) EXPECT_TRUE(s.ok()) << s.to_string();
  // The same operations without the flag.
  ASSERT_TRUE(c->put(test_key(10), values[10]).ok());
  std::vector<PutItem> plain = {{test_key(11), values[11]}};
  std::vector<Status> plain_out(1);
  ASSERT_TRUE(c->put_many(plain, plain_out).ok());
  ASSERT_TRUE(plain_out[0].ok());
  c.reset();

  daemon.kill_now();
  ASSERT_TRUE(daemon.start()) << daemon.log();
  c = connect(daemon);
  ASSERT_TRUE(c);
  for (std::uint64_t n = 1; n <= 5; ++n) EXPECT_TRUE(reads_back(*c, n)) << "durable put " << n;
  for (std::uint64_t n : {10, 11}) {
    std::vector<std::byte> buf(kValue);
    EXPECT_TRUE(c->get(test_key(n), buf).status.is_not_found())
        << "put " << n << " without the flag survived: the kill did not lose memory";
  }
}

TEST(DaemonDurable, WithoutAnNvmeTierTheFlagIsRefusedAndNothingStored) {
  TempDir dir;
  DaemonProcess daemon(dir.path(),
                       "[dram]\ncapacity_bytes = \"64MiB\"\n[nvme]\ndefault_file_bytes = 0\n");
  ASSERT_TRUE(daemon.started()) << daemon.log();
  auto c = connect(daemon);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->server_info().has(kCapabilityDurablePut));
  const std::vector<std::byte> v = pattern(test_key(1), kValue);
  // The client refuses before sending.
  EXPECT_EQ(c->put(test_key(1), v, PutOptions{.durable = true}).code(), StatusCode::kRejected);
  std::vector<PutItem> items = {{test_key(1), v}};
  std::vector<Status> out(1);
  EXPECT_EQ(c->put_many(items, out, PutOptions{.durable = true}).code(), StatusCode::kRejected);
  EXPECT_EQ(out[0].code(), StatusCode::kRejected);

  // A client that sends the flag anyway: refused before the value is stored, and served after.
  RawWire w(daemon.unix_address());
  ASSERT_TRUE(w.hello());
  ASSERT_TRUE(w.send_bytes(durable_put_frame(5, test_key(1), v)));
  auto r = w.receive();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status(), StatusCode::kRejected);
  EXPECT_NE(r->message().find("durable puts are not offered"), std::string::npos) << r->message();
  ASSERT_TRUE(w.send(6, protocol::PingRequest{"after"}));
  auto pong = w.receive();
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->status(), StatusCode::kOk);
  std::vector<std::byte> buf(kValue);
  EXPECT_TRUE(c->get(test_key(1), buf).status.is_not_found());

  // The flag on anything but a put breaks the frame: an error and a close.
  RawWire bad(daemon.unix_address());
  ASSERT_TRUE(bad.hello());
  protocol::FrameHeader h;
  h.opcode = protocol::Opcode::kPing;
  h.flags = protocol::kFlagDurable;
  h.request_id = 7;
  std::array<std::byte, protocol::kFrameHeaderBytes> ping;
  protocol::encode_header(h, ping);
  ASSERT_TRUE(bad.send_bytes(ping));
  auto e = bad.receive();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status(), StatusCode::kInvalidArgument);
  EXPECT_NE(e->message().find("durable flag"), std::string::npos) << e->message();
  EXPECT_TRUE(bad.closed_by_peer());
}

// A value larger than the NVMe tier's largest entry (4 MiB regions here) cannot be made durable:
// the durable put is refused before its data is stored (it used to be stored in DRAM and then
// answered too_large), while the same put without the flag is stored.
TEST(DaemonDurable, AValueLargerThanTheNvmeTiersLargestEntryIsRefusedBeforeItIsStored) {
  TempDir dir;
  DaemonProcess daemon(dir.path(), small_daemon_config());
  ASSERT_TRUE(daemon.started()) << daemon.log();
  auto c = connect(daemon);
  ASSERT_TRUE(c);
  const std::vector<std::byte> big = pattern(test_key(1), 5 * kMiB);
  Status s = c->put(test_key(1), big, PutOptions{.durable = true});
  EXPECT_EQ(s.code(), StatusCode::kTooLarge) << s.to_string();
  EXPECT_NE(s.message().find("largest entry"), std::string::npos) << s.to_string();
  std::vector<std::byte> buf(5 * kMiB);
  EXPECT_TRUE(c->get(test_key(1), buf).status.is_not_found());
  std::vector<PutItem> items = {{test_key(2), big}};
  std::vector<Status> out(1);
  EXPECT_EQ(c->put_many(items, out, PutOptions{.durable = true}).code(), StatusCode::kTooLarge);
  EXPECT_TRUE(c->get(test_key(2), buf).status.is_not_found());
  ASSERT_TRUE(c->put(test_key(1), big).ok());  // without the flag it is a DRAM block
  EXPECT_TRUE(c->get(test_key(1), buf).status.ok());
}

// Version 1 defines no durable flag: on a connection whose HELLO chose it, bit 1 is a reserved
// bit as it was for a daemon of version 1 (the same error, and the connection closed), and
// nothing is stored, though the daemon has an NVMe tier.
TEST(DaemonDurable, AVersionOneConnectionIsNotOfferedTheFlag) {
  TempDir dir;
  DaemonProcess daemon(dir.path(), small_daemon_config());
  ASSERT_TRUE(daemon.started()) << daemon.log();
  RawWire w(daemon.unix_address());
  ASSERT_TRUE(w.send(1, protocol::HelloRequest{.min_version = 1, .max_version = 1}));
  auto hello = w.receive();
  ASSERT_TRUE(hello.has_value());
  ASSERT_EQ(hello->status(), StatusCode::kOk);
  const std::vector<std::byte> v = pattern(test_key(1), kValue);
  ASSERT_TRUE(w.send_bytes(durable_put_frame(2, test_key(1), v)));
  auto r = w.receive();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status(), StatusCode::kInvalidArgument) << r->message();
  EXPECT_EQ(r->message(), "frame header: reserved flag bits 0x0002 are set");
  EXPECT_TRUE(w.closed_by_peer());
  auto c = connect(daemon);
  ASSERT_TRUE(c);
  std::vector<std::byte> buf(kValue);
  EXPECT_TRUE(c->get(test_key(1), buf).status.is_not_found());
}

}  // namespace
}  // namespace kvtier::testing::daemon_durable
