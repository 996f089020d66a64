// RawWire: a test's own byte-level connection to the real daemon, built on the protocol codec
// only (not the client library), so tests can send what no well-behaved client would: garbage,
// truncated and oversized frames, requests before HELLO, half a value and then nothing.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <span>
#include <optional>
#include <string>
#include <vector>

#include "net/host_port.h"
#include "protocol/dispatch.h"
#include "protocol/frame.h"
#include "protocol/meta.h"

namespace kvtier::testing {

struct RawResponse {
  protocol::FrameHeader header;
  std::vector<std::byte> meta;
  std::vector<std::byte> data;
  StatusCode status() const { return static_cast<StatusCode>(header.status); }
  std::string message() const {
    return std::string(reinterpret_cast<const char*>(meta.data()), meta.size());
  }
};

class RawWire {
 public:
  // "unix:/path" or "tcp:HOST:PORT".
  explicit RawWire(const std::string& address) {
    if (address.rfind("unix:", 0) == 0) {
      fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::string path = address.substr(5);
      std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) close();
    } else {
      auto hp = net::parse_host_port(address.substr(4));
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(hp->port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) close();
    }
  }
  ~RawWire() { close(); }
  RawWire(const RawWire&) = delete;
  RawWire& operator=(const RawWire&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send_bytes(std::span<const std::byte> b) {
    std::size_t off = 0;
    while (off < b.size()) {
      ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Sends `b` with `fd` riding along (SCM_RIGHTS on the first sendmsg), as SHM_REGISTER needs.
  bool send_bytes_with_fd(std::span<const std::byte> b, int fd) {
    iovec iov{const_cast<std::byte*>(b.data()), b.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n <= 0) return false;
    return send_bytes(b.subspan(static_cast<std::size_t>(n)));
  }
  // Registers `memfd` (of `size` bytes) as a shared-memory region: its id, or nullopt.
  std::optional<std::uint32_t> register_region(int memfd, std::uint64_t size, std::uint64_t id) {
    std::vector<std::byte> frame;
    if (!protocol::append_frame(frame, id, protocol::ShmRegisterRequest{size}).ok()) return {};
    if (!send_bytes_with_fd(frame, memfd)) return {};
    auto r = receive();
    if (!r || r->status() != StatusCode::kOk) return {};
    auto m = protocol::decode_meta<protocol::ShmRegisterResponse>(r->meta);
    if (!m.ok()) return {};
    return m->region_id;
  }
  bool send_text(std::string_view s) {
    return send_bytes({reinterpret_cast<const std::byte*>(s.data()), s.size()});
  }

  template <typename T>
  bool send(std::uint64_t id, const T& message, std::span<const std::byte> data = {}) {
    std::vector<std::byte> out;
    if (!protocol::append_frame(out, id, message, data.size()).ok()) return false;
    out.insert(out.end(), data.begin(), data.end());
    return send_bytes(out);
  }

  bool hello(const std::string& token = "") {
    protocol::HelloRequest h;
    h.token = token;
    h.client_name = "raw-wire-test";
    if (!send(1, h)) return false;
    auto r = receive();
    return r && r->status() == StatusCode::kOk;
  }

  // The next response frame, or nullopt on EOF, a parse error or `timeout`.
  std::optional<RawResponse> receive(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    RawResponse r;
    for (;;) {
      std::span<const std::byte> in(buf_.data() + begin_, buf_.size() - begin_);
      protocol::ReadState st = reader_.feed(in);
      begin_ = static_cast<std::size_t>(in.data() - buf_.data());
      switch (st) {
        case protocol::ReadState::kHeaderReady: r.header = reader_.header(); continue;
        case protocol::ReadState::kMetaReady: {
          auto m = reader_.meta();
          r.meta.assign(m.begin(), m.end());
          continue;
        }
        case protocol::ReadState::kDataPending: {
          if (!in.empty()) {
            auto d = reader_.take_data(in);
            begin_ = static_cast<std::size_t>(in.data() - buf_.data());
            r.data.insert(r.data.end(), d.begin(), d.end());
            continue;
          }
          break;
        }
        case protocol::ReadState::kFrameDone: return r;
        case protocol::ReadState::kError: return std::nullopt;
        case protocol::ReadState::kNeedMore: break;
      }
      if (begin_ == buf_.size()) {
        buf_.clear();
        begin_ = 0;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      std::byte chunk[65536];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      buf_.insert(buf_.end(), chunk, chunk + n);
    }
  }

  // Whether the daemon closed the connection (EOF within `timeout`).
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      std::byte chunk[65536];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
  protocol::FrameReader reader_ =
      std::move(protocol::FrameReader::create(protocol::FrameKind::kResponse)).value();
  std::vector<std::byte> buf_;
  std::size_t begin_ = 0;
};

}  // namespace kvtier::testing
