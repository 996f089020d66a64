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
  ~ClientSocket() { close(); }
  ClientSocket(ClientSocket&& other) noexcept;
  ClientSocket(const ClientSocket&) = delete;
  ClientSocket& operator=(const ClientSocket&) = delete;

  // Runs the TLS handshake over the connected TCP socket within `deadline`; every later byte then
  // goes through tls(). IOError saying what failed (the certificate check, a plaintext port).
  Status start_tls(std::shared_ptr<net::TlsContext> ctx, const std::string& host,
                   Clock::time_point deadline);

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  bool is_unix() const { return is_unix_; }
  net::TlsStream* tls() const { return tls_.get(); }
  void close();

 private:
  ClientSocket(int fd, bool is_unix) : fd_(fd), is_unix_(is_unix) {}

  int fd_ = -1;
  bool is_unix_ = false;
  std::unique_ptr<net::TlsStream> tls_;  // ended before fd_ closes
};

}  // namespace kvtier::client
