// The descriptors kvtierd may hold, and the RLIMIT_NOFILE it needs for them.
//
// Every descriptor a client can make the daemon hold is bounded: one socket per connection
// (server.max_connections past HELLO, server.max_pending_hello before it), memfds received with
// SCM_RIGHTS after HELLO and not yet claimed by a SHM_REGISTER (at most
// kMaxReceivedFdsPerConnection per connection and kMaxHeldReceivedFds in the daemon; a registered
// region keeps only its mapping, not its memfd). Everything else the daemon opens is
// its own and fixed by the config (listeners, epoll and event fds, NVMe files and io_uring, the
// outbox, the log, shared-tier files and sockets, /metrics connections): kReservedFds covers it.
// At start the soft limit is raised to the sum; a hard limit below it refuses the config, so
// running out of descriptors (EMFILE) is left to other users of the process's table (and the
// system-wide ENFILE), which the listener survives (io_thread.cpp: it pauses, it never spins).
#pragma once

#include <cstdint>

#include "kvtier/status.h"

namespace kvtier::server {

struct ServerConfig;

inline constexpr std::uint64_t kReservedFds = 512;
inline constexpr std::uint32_t kMaxReceivedFdsPerConnection = 4;
inline constexpr std::int64_t kMaxHeldReceivedFds = 256;

// What `config` may make the daemon hold at once.
std::uint64_t fds_needed(const ServerConfig& config);

// Raises this process's soft RLIMIT_NOFILE to `needed` when it is lower and returns the soft
// limit in force. InvalidArgument (naming server.max_connections, the need and the hard limit)
// when the hard limit is below `needed`.
Result<std::uint64_t> ensure_fd_limit(std::uint64_t needed);

}  // namespace kvtier::server
