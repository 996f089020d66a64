// ClientSocket: the client's non-blocking stream socket to kvtierd (Unix or TCP), connected within
// a deadline. Every wait on it is a poll() bounded by the calling operation's deadline, so no
// call can hang past ClientOptions::timeout.
//
// Thread-safety: a move-only value used by one thread at a time.
#pragma once

#include <chrono>

#include <memory>

#include "client/address.h"
#include "kvtier/status.h"
#include "net/tls.h"
#include "posix/unique_fd.h"

namespace kvtier::client {

using Clock = std::chrono::steady_clock;

// The poll() timeout that ends at `deadline`: 0 once it has passed, whole milliseconds rounded up
// otherwise (so a wait never ends just before the deadline and spins).
int poll_timeout_ms(Clock::time_point deadline);

class ClientSocket {
 public:
  // Connects to `address` (TCP: each address the host resolves to, in order, until one accepts),
  // leaving the socket non-blocking, close-on-exec, and on TCP with Nagle off (requests are
  // small frames whose answers the caller waits for). IOError, naming the address, when nothing
  // accepts before `deadline`.
  static Result<ClientSocket> connect(const ClientAddress& address, Clock::time_point deadline);

  ClientSocket() = default;
  // Move-only, and not assignable: an assignment would close the fd before ending the TLS over it.
  ClientSocket(ClientSocket&& other) noexcept = default;

  // Runs the TLS handshake over the connected TCP socket within `deadline`; every later byte then
  // goes through tls(). IOError saying what failed (the certificate check, a plaintext port).
  Status start_tls(std::shared_ptr<net::TlsContext> ctx, const std::string& host,
                   Clock::time_point deadline);

  int fd() const { return fd_.get(); }
  bool is_open() const { return fd_.valid(); }
  bool is_unix() const { return is_unix_; }
  net::TlsStream* tls() const { return tls_.get(); }
  void close() {
    tls_.reset();
    fd_.reset();
  }

 private:
  ClientSocket(int fd, bool is_unix) : fd_(fd), is_unix_(is_unix) {}

  UniqueFd fd_;
  bool is_unix_ = false;
  std::unique_ptr<net::TlsStream> tls_;  // declared after fd_: ended before fd_ closes
};

}  // namespace kvtier::client
