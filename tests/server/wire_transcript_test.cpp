// The v1 wire transcript (issue 26, before the protocol is redefined): every operation, answered
// and refused, as today's daemon answers it, kept in tests/fixtures/v1/wire-transcript.bin. The
// replay sends the recorded request bytes to a fresh kvtierd on the same config and compares
// every response byte for byte, so a rewrite of the codec or the handlers cannot change what a v1
// client sees without this failing.
//
// KVTIER_RECORD_TRANSCRIPT=PATH records a new transcript instead (only when the wire is meant to
// change: say so in docs/PROTOCOL.md).
//
// Format (little-endian): "KVTX", u32 version 1, then entries of u8 kind, u32 length, bytes:
//   kConnect       a new Unix connection (the previous one closes); no bytes
//   kRequest       bytes sent as they are
//   kShmRequest    bytes sent with a fresh sealed memfd of kShmBytes riding along (SHM_REGISTER)
//   kResponse      one response frame, compared byte for byte
//   kStatsResponse one response frame compared but for its meta (counters and uptime vary)
//   kClosed        the daemon closes the connection; no bytes
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "protocol/meta.h"
#include "server/raw_wire.h"
#include "posix/unique_fd.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier::testing::wire_transcript_test {

using protocol::Opcode;

enum class Kind : std::uint8_t {
  kConnect = 1,
  kRequest = 2,
  kShmRequest = 3,
  kResponse = 4,
  kStatsResponse = 5,
  kClosed = 6,
};

struct Entry {
  Kind kind;
  std::vector<std::byte> bytes;
};

constexpr std::uint32_t kFormatVersion = 1;
constexpr std::uint64_t kShmBytes = 64 * 1024;
constexpr const char* kQuotaToken = "transcript-quota-token-0123";

// The daemon every transcript is recorded and replayed against: small tiers, 128 KiB values, a
// tenant with a quota of one small value.
std::string transcript_config() {
  return "max_value_bytes = \"128KiB\"\n" +
         small_daemon_config(std::string("[[tenants]]\nname = \"quota\"\ntoken = \"") +
                             kQuotaToken + "\"\nquota_bytes = \"16KiB\"\n");
}

std::string fixture_path() {
  return std::string(KVTIER_SOURCE_DIR) + "/tests/fixtures/v1/wire-transcript.bin";
}

// ---- the script: what the transcript asks ----

template <typename T>
std::vector<std::byte> frame(std::uint64_t id, const T& message,
                             std::span<const std::byte> data = {}) {
  std::vector<std::byte> out;
  EXPECT_TRUE(protocol::append_frame(out, id, message, data.size()).ok());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// Every request of v1, answered and refused, each followed by what is expected back.
std::vector<Entry> script() {
  std::vector<Entry> s;
  auto ask = [&](std::vector<std::byte> bytes, Kind answer = Kind::kResponse) {
    s.push_back({Kind::kRequest, std::move(bytes)});
    s.push_back({answer, {}});
  };
  const Key k1 = test_key(1), k2 = test_key(2), k3 = test_key(3), k4 = test_key(4);
  const Key missing = test_key(99);
  const std::vector<std::byte> v1 = pattern(k1, 5000);
  const std::vector<std::byte> v2 = pattern(k2, 300);
  const std::vector<std::byte> v3 = pattern(k3, 70000);

  // The default tenant, every operation.
  s.push_back({Kind::kConnect, {}});
  protocol::HelloRequest hello;
  hello.client_name = "transcript";
  ask(frame(1, hello));
  ask(frame(2, protocol::PingRequest{"ping payload"}));
  ask(frame(3, protocol::PutRequest{k1, v1.size()}, v1));
  ask(frame(4, protocol::GetRequest{k1, 8192}));
  ask(frame(5, protocol::GetRequest{k1, 100}));      // buffer_too_small
  ask(frame(6, protocol::GetRequest{missing, 100}));  // not_found
  std::vector<std::byte> both(v2);
  both.insert(both.end(), v3.begin(), v3.end());
  protocol::PutManyRequest pm;
  pm.items = {{k2, v2.size()}, {k3, v3.size()}};
  ask(frame(7, pm, both));
  ask(frame(8, protocol::LookupRequest{{k1, k2, k3, missing, k4}}));
  protocol::GetManyRequest gm;
  gm.items = {{k2, 1000}, {k3, 100000}, {missing, 10}, {k1, 10}};
  ask(frame(9, gm));
  ask(frame(10, protocol::PinRequest{k1, 60000}));
  ask(frame(11, protocol::UnpinRequest{k1}));
  ask(frame(12, protocol::PinRequest{missing, 1000}));
  ask(frame(13, protocol::RemoveRequest{k3}));
  ask(frame(14, protocol::RemoveRequest{k3}));  // not_found
  ask(frame(15, protocol::PutRequest{k4, 0}));  // an empty value
  const std::vector<std::byte> too_big(128 * 1024 + 1, std::byte{0x5A});
  ask(frame(16, protocol::PutRequest{k4, too_big.size()}, too_big));  // past max_value_bytes
  s.push_back({Kind::kShmRequest, frame(17, protocol::ShmRegisterRequest{kShmBytes})});
  s.push_back({Kind::kResponse, {}});
  protocol::PutManyShmRequest ps;
  ps.region_id = 1;
  ps.items = {{k4, 0, 4096}, {missing, kShmBytes, 10}};  // the second is out of the region
  ask(frame(18, ps));
  protocol::GetManyShmRequest gs;
  gs.region_id = 1;
  gs.items = {{k4, 8192, 4096}, {k1, 16384, 8192}, {missing, 32768, 100}};
  ask(frame(19, gs));
  gs.items = {{k4, 0, 4096}, {k1, 2048, 4096}};  // overlapping slices
  ask(frame(20, gs));
  gs.region_id = 7;  // no such region
  ask(frame(21, gs));
  ask(frame(22, protocol::StatsRequest{}), Kind::kStatsResponse);
  ask(frame(23, hello));  // a second HELLO

  // A tenant with a quota: a value past it is rejected.
  s.push_back({Kind::kConnect, {}});
  hello.token = kQuotaToken;
  ask(frame(1, hello));
  const std::vector<std::byte> v20k = pattern(k1, 20000);
  ask(frame(2, protocol::PutRequest{k1, v20k.size()}, v20k));

  // Refusals that close the connection.
  s.push_back({Kind::kConnect, {}});
  ask(frame(1, protocol::PingRequest{"before hello"}));
  s.push_back({Kind::kClosed, {}});
  s.push_back({Kind::kConnect, {}});
  hello.token = "not-a-token-of-anyone-000000";
  ask(frame(1, hello));
  s.push_back({Kind::kClosed, {}});
  s.push_back({Kind::kConnect, {}});
  hello.token.clear();
  ask(frame(1, hello));
  const std::string garbage = "GET / HTTP/1.1\r\nHost: kvtierd\r\n\r\n";
  std::vector<std::byte> g(garbage.size());
  std::memcpy(g.data(), garbage.data(), g.size());
  ask(g);  // not a frame
  s.push_back({Kind::kClosed, {}});
  return s;
}

// ---- the wire ----

UniqueFd sealed_memfd() {
  UniqueFd fd(::memfd_create("transcript", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return fd;
  std::vector<std::byte> content(kShmBytes);
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = std::byte(i % 251);
  if (::pwrite(fd.get(), content.data(), content.size(), 0) != static_cast<ssize_t>(kShmBytes) ||
      ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK) != 0) {
    return UniqueFd();
  }
  return fd;
}

bool read_exact(int fd, std::byte* out, std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (n > 0) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      continue;
    }
    ssize_t got = ::recv(fd, out, n, 0);
    if (got <= 0) return false;
    out += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

// One whole response frame as it came off the wire, or nullopt.
std::optional<std::vector<std::byte>> read_frame(int fd) {
  std::vector<std::byte> bytes(protocol::kFrameHeaderBytes);
  if (!read_exact(fd, bytes.data(), bytes.size())) return std::nullopt;
  const protocol::FrameHeader h =
      protocol::decode_header(std::span<const std::byte, protocol::kFrameHeaderBytes>(
          bytes.data(), protocol::kFrameHeaderBytes));
  const std::size_t rest = h.meta_len + static_cast<std::size_t>(h.data_len);
  bytes.resize(bytes.size() + rest);
  if (!read_exact(fd, bytes.data() + protocol::kFrameHeaderBytes, rest)) return std::nullopt;
  return bytes;
}

bool peer_closed(int fd) {
  std::byte b;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) return ::recv(fd, &b, 1, 0) <= 0;
  }
  return false;
}

// Runs `entries` against `d`: requests are sent; each expected response is read into `got` (in
// order), each kClosed checked. Returns false (with a gtest failure) when the daemon stops
// answering.
bool run(const DaemonProcess& d, const std::vector<Entry>& entries,
         std::vector<std::vector<std::byte>>& got) {
  std::unique_ptr<RawWire> w;
  for (const Entry& e : entries) {
    switch (e.kind) {
      case Kind::kConnect:
        w = std::make_unique<RawWire>(d.unix_address());
        if (!w->connected()) return false;
        break;
      case Kind::kRequest:
        (void)w->send_bytes(e.bytes);  // a refused frame may close before all of it is sent
        break;
      case Kind::kShmRequest: {
        UniqueFd memfd = sealed_memfd();
        if (!memfd.valid() || !w->send_bytes_with_fd(e.bytes, memfd.get())) return false;
        break;
      }
      case Kind::kResponse:
      case Kind::kStatsResponse: {
        std::optional<std::vector<std::byte>> f = read_frame(w->fd());
        EXPECT_TRUE(f.has_value()) << "response " << got.size() << " did not come";
        if (!f) return false;
        got.push_back(std::move(*f));
        break;
      }
      case Kind::kClosed:
        EXPECT_TRUE(peer_closed(w->fd())) << "the daemon did not close after response "
                                          << got.size();
        break;
    }
  }
  return true;
}

// ---- the file ----

void put_u32(std::vector<std::byte>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(std::byte((v >> (8 * i)) & 0xff));
}
std::uint32_t get_u32(const std::byte* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= std::uint32_t(std::to_integer<std::uint8_t>(p[i])) << (8 * i);
  return v;
}

std::vector<std::byte> encode(const std::vector<Entry>& entries) {
  std::vector<std::byte> out = {std::byte{'K'}, std::byte{'V'}, std::byte{'T'}, std::byte{'X'}};
  put_u32(out, kFormatVersion);
  for (const Entry& e : entries) {
    out.push_back(std::byte(static_cast<std::uint8_t>(e.kind)));
    put_u32(out, static_cast<std::uint32_t>(e.bytes.size()));
    out.insert(out.end(), e.bytes.begin(), e.bytes.end());
  }
  return out;
}

std::optional<std::vector<Entry>> decode(const std::vector<std::byte>& in) {
  if (in.size() < 8 || std::memcmp(in.data(), "KVTX", 4) != 0 ||
      get_u32(in.data() + 4) != kFormatVersion) {
    return std::nullopt;
  }
  std::vector<Entry> entries;
  for (std::size_t at = 8; at < in.size();) {
    if (in.size() - at < 5) return std::nullopt;
    const auto kind = static_cast<Kind>(std::to_integer<std::uint8_t>(in[at]));
    const std::uint32_t len = get_u32(in.data() + at + 1);
    at += 5;
    if (in.size() - at < len) return std::nullopt;
    entries.push_back({kind, {in.begin() + at, in.begin() + at + len}});
    at += len;
  }
  return entries;
}

// STATS text changes with every counter: its response is compared without its meta and with
// meta_len cleared.
std::vector<std::byte> without_meta(std::vector<std::byte> f) {
  f.resize(protocol::kFrameHeaderBytes);
  protocol::FrameHeader h = protocol::decode_header(
      std::span<const std::byte, protocol::kFrameHeaderBytes>(f.data(), protocol::kFrameHeaderBytes));
  h.meta_len = 0;
  protocol::encode_header(h, std::span<std::byte, protocol::kFrameHeaderBytes>(
                                 f.data(), protocol::kFrameHeaderBytes));
  return f;
}

TEST(WireTranscriptV1, ReplaysByteForByte) {
  TempDir dir;
  DaemonProcess d(dir.path(), transcript_config());
  ASSERT_TRUE(d.started()) << d.log();

  if (const char* record = std::getenv("KVTIER_RECORD_TRANSCRIPT")) {
    std::vector<Entry> entries = script();
    std::vector<std::vector<std::byte>> got;
    ASSERT_TRUE(run(d, entries, got)) << d.log();
    std::size_t next = 0;
    for (Entry& e : entries) {
      if (e.kind == Kind::kResponse) e.bytes = got[next++];
      if (e.kind == Kind::kStatsResponse) e.bytes = without_meta(got[next++]);
    }
    const std::vector<std::byte> file = encode(entries);
    std::ofstream(record, std::ios::binary)
        .write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
    GTEST_SKIP() << "recorded " << got.size() << " responses into " << record;
  }

  std::ifstream f(fixture_path(), std::ios::binary);
  ASSERT_TRUE(f.good()) << "no transcript at " << fixture_path();
  std::vector<char> raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(raw.size());
  std::memcpy(bytes.data(), raw.data(), raw.size());
  std::optional<std::vector<Entry>> entries = decode(bytes);
  ASSERT_TRUE(entries.has_value()) << "the transcript does not parse";
  std::vector<std::vector<std::byte>> got;
  ASSERT_TRUE(run(d, *entries, got)) << d.log();
  std::size_t next = 0, compared = 0;
  for (const Entry& e : *entries) {
    if (e.kind != Kind::kResponse && e.kind != Kind::kStatsResponse) continue;
    ASSERT_LT(next, got.size());
    const std::vector<std::byte> seen =
        e.kind == Kind::kStatsResponse ? without_meta(got[next]) : got[next];
    EXPECT_EQ(seen, e.bytes) << "response " << next << " differs from the v1 transcript";
    ++next;
    ++compared;
  }
  EXPECT_EQ(next, got.size());
  EXPECT_GE(compared, 29u);  // the whole v1 script, as recorded
}

}  // namespace kvtier::testing::wire_transcript_test
