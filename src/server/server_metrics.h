// ServerMetrics: what kvtierd counts about its clients: requests per operation and status, their
// latency, bytes through the sockets and through shared memory, connections and rejections. The
// engine's own counters (hits and misses per tier, evictions, ...) come from Store::visit_counters;
// render_metrics() in metrics_render.h puts both into one Prometheus text.
//
// Thread-safety: every member is a relaxed atomic or a LatencyHistogram; any thread may count.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "kvtier/status.h"
#include "metrics/latency_histogram.h"
#include "protocol/frame.h"
#include "server/server_config.h"

namespace kvtier::server {

inline constexpr std::size_t kStatusCodes = static_cast<std::size_t>(StatusCode::kRejected) + 1;
inline constexpr std::size_t kOpcodes = protocol::kMaxOpcode + 1;

// Why a frame was refused before it could be executed.
enum class FrameRejection : std::uint8_t {
  kMalformed,    // header or meta did not parse: the connection was closed
  kTooLarge,     // a size limit: value, batch, frame
  kBeforeHello,  // a request other than HELLO came first
  kAuth,         // HELLO with a wrong or missing token
  kCount_,
};
std::string_view frame_rejection_name(FrameRejection r);

enum class ConnectionRejection : std::uint8_t {
  kLimit,          // max_connections reached (at HELLO)
  kPendingHello,   // max_pending_hello reached: this one, or the oldest pending, closed
  kNoDescriptors,  // the descriptor table was full (EMFILE / ENFILE): closed with a spare fd
  kTenantLimit,    // the tenant's max_connections reached (at HELLO)
  kCount_,
};

// Why the daemon closed a connection on a deadline (Connection::overdue).
enum class ConnectionTimeout : std::uint8_t {
  kNone,
  kHello,  // no HELLO within server.hello_timeout_ms
  kFrame,  // a frame begun and not completed within server.frame_timeout_ms (+ its data's time)
  kIdle,   // no byte either way for server.idle_timeout_ms
  kCount_,
};
std::string_view connection_timeout_name(ConnectionTimeout t);

struct ServerMetrics {
  using Counter = std::atomic<std::uint64_t>;

  void count_request(protocol::Opcode op, StatusCode status, std::chrono::nanoseconds latency) {
    auto o = static_cast<std::size_t>(op);
    requests[o][static_cast<std::size_t>(status)].fetch_add(1, std::memory_order_relaxed);
    latency_by_op[o].record(latency);
  }
  void count(Counter& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
  void count(FrameRejection r) { count(frames_rejected[static_cast<std::size_t>(r)]); }
  void count(ConnectionRejection r) { count(connections_rejected[static_cast<std::size_t>(r)]); }

  std::array<std::array<Counter, kStatusCodes>, kOpcodes> requests{};
  std::array<LatencyHistogram, kOpcodes> latency_by_op;
  std::array<Counter, static_cast<std::size_t>(FrameRejection::kCount_)> frames_rejected{};
  std::array<Counter, static_cast<std::size_t>(ConnectionRejection::kCount_)>
      connections_rejected{};
  std::array<Counter, static_cast<std::size_t>(ConnectionTimeout::kCount_)> connections_timed_out{};
  // When the daemon started: kvtier_uptime_seconds, which turns totals into average rates.
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  Counter bytes_received{0};  // socket bytes read, all frames
  Counter bytes_sent{0};      // socket bytes written
  Counter shm_bytes_read{0};     // value bytes PUT_MANY_SHM took from client memory
  Counter shm_bytes_written{0};  // value bytes GET_MANY_SHM wrote into client memory
  Counter connections_accepted{0};
  std::atomic<std::int64_t> connections_open{0};
  std::atomic<std::int64_t> connections_pending_hello{0};  // accepted, not yet through HELLO
  std::atomic<std::int64_t> connections_authenticated{0};  // through HELLO
  // Connections assigned to each I/O thread (kvtier_io_thread_connections): what a new
  // connection is balanced by (IoThread::least_loaded). Only the first io_threads are used.
  std::array<std::atomic<std::int64_t>, kMaxIoThreads> io_thread_connections{};
  std::atomic<std::uint32_t> io_threads{0};            // how many there are; set before they start
  std::atomic<std::int64_t> queued_response_bytes{0};  // over every connection
  Counter tls_handshake_failures{0};  // TLS connections closed before their handshake completed
  Counter memory_waits{0};     // frames that waited for room in server.max_inflight_bytes
  Counter memory_refusals{0};  // frames refused for it (waited kMemoryWait, or larger than it)
  std::atomic<std::int64_t> shm_regions{0};
  // memfds received with SCM_RIGHTS and not yet claimed by a SHM_REGISTER (fd_limit.h).
  std::atomic<std::int64_t> received_fds_held{0};
  std::atomic<std::int64_t> shm_region_bytes{0};
};

}  // namespace kvtier::server
