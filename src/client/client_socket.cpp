// ClientSocket: connecting to kvtierd over a Unix or TCP socket within a deadline.
#include "client/client_socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace kvtier::client {
namespace {

// Waits until a non-blocking connect() on `fd` finished; returns its result as an errno value
// (0 on success, ETIMEDOUT when the deadline passed first).
int wait_connected(int fd, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, poll_timeout_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return ETIMEDOUT;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
  }
}

// A Unix socket connect() never "is in progress": a listener with a full backlog answers EAGAIN
// at once. Retry a few milliseconds apart until the deadline, as a blocking connect would wait.
Status connect_unix(int fd, const ClientAddress& address, Clock::time_point deadline) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, address.unix_path.data(), address.unix_path.size());
  const auto len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.unix_path.size() + 1);
  for (;;) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), len) == 0) return Status::Ok();
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN && Clock::now() < deadline) {
      ::poll(nullptr, 0, 5);
      continue;
    }
    std::string what = "connect to " + address.to_string();
    if (err == ENOENT || err == ECONNREFUSED) {
      return Status::IOError(what + ": " + std::strerror(err) + " (is kvtierd running there?)");
    }
    if (err == EAGAIN) return Status::IOError(what + ": the daemon's accept queue stayed full");
    return Status::FromErrno(what, err);
  }
}

}  // namespace

int poll_timeout_ms(Clock::time_point deadline) {
  auto now = Clock::now();
  if (now >= deadline) return 0;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return left > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(left);
}

Status ClientSocket::start_tls(std::shared_ptr<net::TlsContext> ctx, const std::string& host,
                               Clock::time_point deadline) {
  Result<std::unique_ptr<net::TlsStream>> s = net::TlsStream::connect(std::move(ctx), fd(), host);
  if (!s.ok()) return s.status();
  for (;;) {
    const net::TlsStream::Io io = (*s)->handshake();
    if (io == net::TlsStream::Io::kDone) break;
    if (io == net::TlsStream::Io::kClosed || io == net::TlsStream::Io::kError) {
      return Status::IOError("TLS handshake with " + host + " failed: " + (*s)->error() +
                             (io == net::TlsStream::Io::kClosed
                                  ? " (the daemon closed the connection: does it have TLS here, "
                                    "and does it trust this client's certificate?)"
                                  : (*s)->error().find("wrong version number") != std::string::npos
                                        ? " (is this port plaintext? use tcp:HOST:PORT)"
                                        : ""));
    }
    pollfd p{fd(), static_cast<short>(io == net::TlsStream::Io::kWantRead ? POLLIN : POLLOUT), 0};
    int n = ::poll(&p, 1, poll_timeout_ms(deadline));
    if (n < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
    if (n == 0) return Status::IOError("TLS handshake with " + host + " timed out");
  }
  tls_ = std::move(s).value();
  return Status::Ok();
}

Result<ClientSocket> ClientSocket::connect(const ClientAddress& address,
                                           Clock::time_point deadline) {
  if (address.is_unix()) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::FromErrno("socket(AF_UNIX)", errno);
    ClientSocket s(fd, /*is_unix=*/true);
    KVTIER_RETURN_IF_ERROR(connect_unix(fd, address, deadline));
    return s;
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (address.tcp.is_ipv6 ? AI_NUMERICHOST : 0);
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.tcp.port);
  int rc = ::getaddrinfo(address.tcp.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return Status::IOError("connect to " + address.to_string() + ": cannot resolve \"" +
                           address.tcp.host + "\": " + ::gai_strerror(rc));
  }
  std::string failures;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      failures += std::string(failures.empty() ? "" : "; ") + "socket: " + std::strerror(errno);
      continue;
    }
    ClientSocket s(fd, /*is_unix=*/false);
    int err = 0;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS || err == EINTR) err = wait_connected(fd, deadline);
    }
    if (err == 0) {
      int one = 1;
      (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::freeaddrinfo(found);
      return s;
    }
    failures += std::string(failures.empty() ? "" : "; ") +
                (err == ETIMEDOUT ? std::string("timed out") : std::string(std::strerror(err)));
    if (Clock::now() >= deadline) break;
  }
  ::freeaddrinfo(found);
  return Status::IOError("connect to " + address.to_string() + ": " + failures +
                         (failures.find("refused") != std::string::npos
                              ? " (is kvtierd running and listening there?)"
                              : ""));
}

}  // namespace kvtier::client
