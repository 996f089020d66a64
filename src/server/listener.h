// Listening sockets of kvtierd: the Unix stream socket (mode 0660, same node; carries memfds) and
// TCP on a configured address (loopback unless the config allows more). Both are non-blocking and
// shared by every I/O thread (EPOLLEXCLUSIVE wakes one thread per connection).
//
// Thread-safety: immutable after creation; accept() may be called from any thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "kvtier/status.h"
#include "server/tenant_registry.h"
#include "posix/unique_fd.h"

namespace kvtier::server {

class Listener {
 public:
  // Binds `path` (a stale socket file there is replaced: the caller holds the data-dir lock, so
  // no other daemon serves it) with mode 0660, in group `gid` unless it is -1.
  static Result<std::unique_ptr<Listener>> unix_socket(const std::string& path,
                                                       gid_t gid = static_cast<gid_t>(-1));
  // Binds "HOST:PORT" (port 0: an ephemeral port; see address()).
  static Result<std::unique_ptr<Listener>> tcp(const std::string& host_port);
  ~Listener();

  int fd() const { return fd_.get(); }
  Transport transport() const { return transport_; }
  // "unix:/path" or "tcp:127.0.0.1:7420" with the port actually bound.
  const std::string& address() const { return address_; }

  // One pending connection, non-blocking, named by `peer`; or, or an invalid fd with *error set (EAGAIN when none is pending;
  // EMFILE / ENFILE when the descriptor table is full and the connection is still pending).
  UniqueFd accept(std::string* peer, int* error) const;

  // Refuses connections from now on (shutdown(SHUT_RD): a connect gets ECONNREFUSED, and over
  // TCP those accepted by the kernel but not yet by the daemon are reset) while the fd stays
  // open, so threads still polling or accepting it need no coordination. For a draining daemon:
  // a client learns at once to go elsewhere instead of waiting on a socket nobody serves.
  void stop_listening() const;

 private:
  Listener(UniqueFd fd, Transport t, std::string address, std::string unlink_path)
      : fd_(std::move(fd)), transport_(t), address_(std::move(address)),
        unlink_path_(std::move(unlink_path)) {}
  UniqueFd fd_;
  Transport transport_;
  std::string address_;
  std::string unlink_path_;  // the socket file to remove at close
};

}  // namespace kvtier::server
