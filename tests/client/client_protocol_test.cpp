// The client against a scripted peer that breaks the rules in ways the real daemon never does:
// responses trickled one byte at a time, a wrong request id, a value larger than the buffer, an
// impossible HELLO, a connection dropped mid-value. The peer is a thread serving a real Unix
// socket with the protocol codec; the client must answer each breach with IOError / Closed and
// never read a byte past what it was promised.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "kvtier/client.h"
#include "protocol/frame.h"
#include "protocol/meta.h"
#include "support/test_support.h"

namespace kvtier::testing {
namespace {

using protocol::FrameHeader;

// A received request: header and meta (requests in these tests carry no data).
struct Request {
  FrameHeader header;
  std::vector<std::byte> meta;
};

// The peer's side of one connection: blocking reads and writes on a real socket.
class Peer {
 public:
  explicit Peer(int fd) : fd_(fd) {}
  ~Peer() { ::close(fd_); }

  std::optional<Request> read_request() {
    auto reader = protocol::FrameReader::create(protocol::FrameKind::kRequest);
    std::byte b;
    for (;;) {
      if (::recv(fd_, &b, 1, 0) != 1) return std::nullopt;
      std::span<const std::byte> in(&b, 1);
      for (;;) {
        auto st = reader->feed(in);
        if (st == protocol::ReadState::kNeedMore) break;
        if (st == protocol::ReadState::kError) return std::nullopt;
        if (st == protocol::ReadState::kDataPending) {  // value bytes are not kept
          if (in.empty()) break;
          reader->take_data(in);
        }
        if (st == protocol::ReadState::kFrameDone) {
          return Request{reader->header(), {reader->meta().begin(), reader->meta().end()}};
        }
      }
    }
  }
  // Sends `bytes`, `chunk` bytes per send().
  bool send(std::span<const std::byte> bytes, std::size_t chunk = SIZE_MAX) {
    while (!bytes.empty()) {
      std::size_t n = std::min(chunk, bytes.size());
      ssize_t sent = ::send(fd_, bytes.data(), n, MSG_NOSIGNAL);
      if (sent <= 0) return false;
      bytes = bytes.subspan(static_cast<std::size_t>(sent));
    }
    return true;
  }
  // Answers HELLO as a daemon with small limits would.
  bool hello(std::uint16_t version = 1) {
    auto r = read_request();
    if (!r || r->header.opcode != protocol::Opcode::kHello) return false;
    protocol::HelloResponse h;
    h.version = version;
    h.tenant = "default";
    h.max_value_bytes = 1 << 20;
    h.max_batch = 16;
    h.max_data_bytes = 4 << 20;
    std::vector<std::byte> out;
    if (!protocol::append_frame(out, r->header.request_id, h).ok()) return false;
    return send(out);
  }

 private:
  int fd_;
};

// Listens on a Unix socket in a temp dir; the script runs on a thread for the first connection.
class ScriptedDaemon {
 public:
  explicit ScriptedDaemon(std::function<void(Peer&)> script) {
    path_ = dir_.file("peer.sock");
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path_.c_str(), path_.size() + 1);
    bound_ = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
             ::listen(listen_fd_, 4) == 0;
    thread_ = std::thread([this, script = std::move(script)] {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      Peer peer(fd);
      script(peer);
    });
  }
  ~ScriptedDaemon() {
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept() if no client came
    thread_.join();
    ::close(listen_fd_);
  }
  bool bound() const { return bound_; }
  std::string address() const { return "unix:" + path_; }

 private:
  TempDir dir_;
  std::string path_;
  int listen_fd_ = -1;
  bool bound_ = false;
  std::thread thread_;
};

std::unique_ptr<Client> connect(const ScriptedDaemon& d) {
  ClientOptions o;
  o.address = d.address();
  o.timeout = std::chrono::seconds(10);
  auto c = Client::connect(o);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST(ClientProtocol, ResponsesTrickledByteByByteAreReassembled) {
  const Key key = test_key(1);
  const std::vector<std::byte> value = pattern(key, 5000);
  ScriptedDaemon d([&](Peer& p) {
    if (!p.hello()) return;
    auto r = p.read_request();  // GET
    if (!r) return;
    std::vector<std::byte> out;
    ASSERT_TRUE(protocol::append_frame(out, r->header.request_id,
                                       protocol::GetResponse{value.size()}, value.size())
                    .ok());
    out.insert(out.end(), value.begin(), value.end());
    p.send(out, 1);
  });
  ASSERT_TRUE(d.bound());
  auto c = connect(d);
  ASSERT_NE(c, nullptr);
  std::vector<std::byte> dst(8192);
  GetResult r = c->get(key, dst);
  ASSERT_TRUE(r.status.ok()) << r.status.to_string();
  ASSERT_EQ(r.size, value.size());
  EXPECT_TRUE(matches_pattern(std::span(dst).first(r.size), key));
}

TEST(ClientProtocol, AResponseToAnotherRequestClosesTheConnection) {
  ScriptedDaemon d([](Peer& p) {
    if (!p.hello()) return;
    auto r = p.read_request();
    if (!r) return;
    std::vector<std::byte> out;
    (void)protocol::append_frame(out, r->header.request_id + 1, protocol::PingResponse{""});
    p.send(out);
    p.read_request();  // waits for the client to close
  });
  ASSERT_TRUE(d.bound());
  auto c = connect(d);
  ASSERT_NE(c, nullptr);
  Status s = c->ping();
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.to_string();
  EXPECT_NE(s.message().find("breaks the protocol"), std::string::npos) << s.message();
  EXPECT_EQ(c->ping().code(), StatusCode::kClosed);
}

TEST(ClientProtocol, AValueLargerThanTheBufferIsRefusedBeforeItsBytes) {
  ScriptedDaemon d([](Peer& p) {
    if (!p.hello()) return;
    auto r = p.read_request();
    if (!r) return;
    std::vector<std::byte> out;
    (void)protocol::append_frame(out, r->header.request_id, protocol::GetResponse{4096}, 4096);
    out.resize(out.size() + 4096);
    p.send(out);
    p.read_request();
  });
  ASSERT_TRUE(d.bound());
  auto c = connect(d);
  ASSERT_NE(c, nullptr);
  std::vector<std::byte> dst(100 + 64, std::byte{0x5a});
  GetResult r = c->get(test_key(2), std::span(dst).first(100));
  EXPECT_EQ(r.status.code(), StatusCode::kIOError) << r.status.to_string();
  for (std::byte b : dst) ASSERT_EQ(b, std::byte{0x5a});  // nothing was written, not even past 100
  EXPECT_EQ(c->get(test_key(2), dst).status.code(), StatusCode::kClosed);
}

// Today's client with a daemon of version 1 (HELLO answered in version 1's layout): it speaks
// version 1 and sees no capabilities.
TEST(ClientProtocol, AVersionOneDaemonIsSpokenTo) {
  ScriptedDaemon d([](Peer& p) {
    if (!p.hello(/*version=*/1)) return;
    auto r = p.read_request();  // PING
    if (!r) return;
    std::vector<std::byte> out;
    ASSERT_TRUE(protocol::append_frame(out, r->header.request_id, protocol::PingResponse{}).ok());
    p.send(out);
  });
  ASSERT_TRUE(d.bound());
  auto c = connect(d);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server_info().version, 1);
  EXPECT_FALSE(c->server_info().has(kCapabilitySharedMemory));
  EXPECT_TRUE(c->ping().ok());
}

TEST(ClientProtocol, AHelloOutsideTheOfferedVersionsFailsTheConnect) {
  ScriptedDaemon d([](Peer& p) { p.hello(/*version=*/3); });
  ASSERT_TRUE(d.bound());
  ClientOptions o;
  o.address = d.address();
  auto c = Client::connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kIOError);
  EXPECT_NE(c.status().message().find("version"), std::string::npos) << c.status().message();
}

TEST(ClientProtocol, AConnectionDroppedMidValueFailsTheWholeBatch) {
  ScriptedDaemon d([](Peer& p) {
    if (!p.hello()) return;
    auto r = p.read_request();  // GET_MANY of two keys
    if (!r) return;
    protocol::GetManyResponse m;
    m.results = {{StatusCode::kOk, 3000}, {StatusCode::kOk, 3000}};
    std::vector<std::byte> out;
    (void)protocol::append_frame(out, r->header.request_id, m, 6000);
    out.resize(out.size() + 4000);  // the first value and part of the second, then EOF
    p.send(out);
  });
  ASSERT_TRUE(d.bound());
  auto c = connect(d);
  ASSERT_NE(c, nullptr);
  std::vector<std::byte> a(3000), b(3000);
  std::vector<GetItem> items = {{test_key(3), a}, {test_key(4), b}};
  std::vector<GetResult> out(2);
  Status s = c->get_many(items, out);
  EXPECT_EQ(s.code(), StatusCode::kClosed) << s.to_string();
  EXPECT_EQ(out[0].status.code(), StatusCode::kClosed);
  EXPECT_EQ(out[1].status.code(), StatusCode::kClosed);
}

TEST(ClientProtocol, TheDaemonsErrorMessageReachesTheCaller) {
  ScriptedDaemon d([](Peer& p) {
    if (!p.hello()) return;
    auto r = p.read_request();  // PUT of 10 bytes: header + meta, then the data
    if (!r) return;
    std::vector<std::byte> out;
    (void)protocol::append_error_frame(out, r->header.opcode, r->header.request_id,
                                       Status::Rejected("tenant default is over its quota"));
    p.send(out);
    p.read_request();  // PING
  });
  ASSERT_TRUE(d.bound());
  auto c = connect(d);
  ASSERT_NE(c, nullptr);
  std::vector<std::byte> v(10);
  Status s = c->put(test_key(5), v);
  EXPECT_EQ(s.code(), StatusCode::kRejected);
  EXPECT_EQ(s.message(), "tenant default is over its quota");
}

}  // namespace
}  // namespace kvtier::testing
