// Descriptor budget (see fd_limit.h).
#include "server/fd_limit.h"

#include <sys/resource.h>

#include <cerrno>

#include "server/server_config.h"

namespace kvtier::server {

std::uint64_t fds_needed(const ServerConfig& config) {
  return std::uint64_t{config.max_connections} + config.max_pending_hello +
         static_cast<std::uint64_t>(kMaxHeldReceivedFds) + kReservedFds;
}

Result<std::uint64_t> ensure_fd_limit(std::uint64_t needed) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return Status::FromErrno("getrlimit(RLIMIT_NOFILE)", errno);
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur >= needed) return std::uint64_t{lim.rlim_cur};
  if (lim.rlim_cur == RLIM_INFINITY) return needed;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < needed) {
    return Status::InvalidArgument(
        "server.max_connections needs " + std::to_string(needed) +
        " file descriptors (connections + server.max_pending_hello + " +
        std::to_string(kMaxHeldReceivedFds) +
        " memfds in transit + " + std::to_string(kReservedFds) +
        " for the daemon), but the hard RLIMIT_NOFILE is " + std::to_string(lim.rlim_max) +
        ": raise it (ulimit -Hn, systemd LimitNOFILE=) or lower server.max_connections");
  }
  lim.rlim_cur = needed;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return Status::FromErrno("setrlimit(RLIMIT_NOFILE)", errno);
  return needed;
}

}  // namespace kvtier::server
