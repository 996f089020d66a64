// render_metrics (see metrics_render.h).
#include "server/metrics_render.h"

#include <string>

#include "coding/ascii.h"
#include "metrics/prometheus_text.h"
#include "protocol/frame.h"

namespace kvtier::server {

namespace {

template <typename T>
double load(const std::atomic<T>& c) {
  return static_cast<double>(c.load(std::memory_order_relaxed));
}

void add_requests(PrometheusText& p, const ServerMetrics& m) {
  for (std::size_t op = 1; op < kOpcodes; ++op) {
    const std::string name = ascii_lower(protocol::opcode_name(static_cast<protocol::Opcode>(op)));
    for (std::size_t st = 0; st < kStatusCodes; ++st) {
      double n = load(m.requests[op][st]);
      // Every op's ok line is always there (so rates start at 0); other statuses once seen.
      if (n == 0 && st != 0) continue;
      p.add("requests", {{"op", name}, {"status", status_code_name(static_cast<StatusCode>(st))}},
            n, CounterKind::kCount, "Requests answered, by operation and status");
    }
    // Another family: rendered after all of "requests" (prometheus_text.h), as if added after.
    p.add_histogram("request", {{"op", name}}, m.latency_by_op[op].snapshot(),
                    "Time from a request's header to its queued response");
  }
}

void add_connections(PrometheusText& p, const ServerMetrics& m) {
  p.add("uptime_seconds", {},
        std::chrono::duration<double>(std::chrono::steady_clock::now() - m.started).count(),
        CounterKind::kGauge, "Seconds since the daemon started");
  p.add("bytes_received", {}, load(m.bytes_received), CounterKind::kCount,
        "Bytes read from client sockets");
  p.add("bytes_sent", {}, load(m.bytes_sent), CounterKind::kCount,
        "Bytes written to client sockets");
  p.add("shm_bytes_read", {}, load(m.shm_bytes_read), CounterKind::kCount,
        "Value bytes PUT_MANY_SHM stored from client shared memory");
  p.add("shm_bytes_written", {}, load(m.shm_bytes_written), CounterKind::kCount,
        "Value bytes GET_MANY_SHM wrote into client shared memory");
  p.add("connections_accepted", {}, load(m.connections_accepted), CounterKind::kCount,
        "Connections accepted");
  p.add("connections_open", {}, load(m.connections_open), CounterKind::kGauge,
        "Connections open now");
  p.add("connections_pending_hello", {}, load(m.connections_pending_hello), CounterKind::kGauge,
        "Connections accepted and not yet through HELLO");
  p.add("connections_authenticated", {}, load(m.connections_authenticated), CounterKind::kGauge,
        "Connections through HELLO");
  for (const auto& [reason, r] : {std::pair{"max_connections", ConnectionRejection::kLimit},
                                  {"no_descriptors", ConnectionRejection::kNoDescriptors},
                                  {"pending_hello", ConnectionRejection::kPendingHello},
                                  {"tenant_max_connections", ConnectionRejection::kTenantLimit}}) {
    p.add("connections_rejected", {{"reason", reason}},
          load(m.connections_rejected[static_cast<std::size_t>(r)]), CounterKind::kCount,
          "Connections closed at accept, or at HELLO (max_connections)");
  }
  for (std::size_t t = 1; t < static_cast<std::size_t>(ConnectionTimeout::kCount_); ++t) {
    p.add("connections_timed_out",
          {{"reason", connection_timeout_name(static_cast<ConnectionTimeout>(t))}},
          load(m.connections_timed_out[t]), CounterKind::kCount,
          "Connections the daemon closed on a deadline: hello, frame, idle");
  }
  const std::uint32_t threads = m.io_threads.load(std::memory_order_relaxed);
  for (std::uint32_t t = 0; t < threads && t < kMaxIoThreads; ++t) {
    const std::string thread = std::to_string(t);
    p.add("io_thread_connections", {{"thread", thread}}, load(m.io_thread_connections[t]),
          CounterKind::kGauge, "Connections served by each I/O thread");
  }
  for (std::size_t r = 0; r < static_cast<std::size_t>(FrameRejection::kCount_); ++r) {
    p.add("frames_rejected", {{"reason", frame_rejection_name(static_cast<FrameRejection>(r))}},
          load(m.frames_rejected[r]), CounterKind::kCount,
          "Frames refused before execution, by reason");
  }
  p.add("queued_response_bytes", {}, load(m.queued_response_bytes), CounterKind::kGauge,
        "Response bytes waiting for slow readers (backpressure stops reading at the limit)");
  p.add("shm_regions", {}, load(m.shm_regions), CounterKind::kGauge,
        "Shared memory regions registered");
  p.add("shm_region_bytes", {}, load(m.shm_region_bytes), CounterKind::kGauge,
        "Bytes of registered shared memory");
}

void add_tenants(PrometheusText& p, const TenantRegistry& tenants, Store& store,
                 TenantLines lines) {
  for (const auto& t : tenants.tenants()) {
    if (!lines.any || (lines.only != nullptr && t.get() != lines.only)) continue;
    for (Tier tier : {Tier::kDram, Tier::kNvme}) {
      NamespaceUsage u = store.namespace_usage(t->ns, tier);
      std::string_view tier_name = tier == Tier::kDram ? "dram" : "nvme";
      p.add("tenant_bytes", {{"tenant", t->name}, {"tier", tier_name}},
            static_cast<double>(u.bytes), CounterKind::kGauge, "Bytes a tenant holds, per tier");
      p.add("tenant_blocks", {{"tenant", t->name}, {"tier", tier_name}},
            static_cast<double>(u.blocks), CounterKind::kGauge, "Blocks a tenant holds, per tier");
      p.add("tenant_charged_bytes", {{"tenant", t->name}, {"tier", tier_name}},
            static_cast<double>(u.charged_bytes), CounterKind::kGauge,
            "What a tenant's blocks cost, per tier: what its quota counts");
    }
    p.add("tenant_quota_bytes", {{"tenant", t->name}}, static_cast<double>(t->quota_bytes),
          CounterKind::kGauge, "A tenant's per-tier quota (0: none)");
    p.add("quota_rejections", {{"tenant", t->name}}, load(t->quota_rejections),
          CounterKind::kCount, "Puts refused because the tenant was at its quota");
  }
}

}  // namespace

std::string_view frame_rejection_name(FrameRejection r) {
  switch (r) {
    case FrameRejection::kMalformed: return "malformed";
    case FrameRejection::kTooLarge: return "too_large";
    case FrameRejection::kBeforeHello: return "before_hello";
    case FrameRejection::kAuth: return "auth";
    case FrameRejection::kCount_: break;
  }
  return "unknown";
}

std::string_view connection_timeout_name(ConnectionTimeout t) {
  switch (t) {
    case ConnectionTimeout::kHello: return "hello";
    case ConnectionTimeout::kFrame: return "frame";
    case ConnectionTimeout::kIdle: return "idle";
    case ConnectionTimeout::kNone:
    case ConnectionTimeout::kCount_: break;
  }
  return "none";
}

void add_memory(PrometheusText& p, const ServerMetrics& m, const MemoryBudget& memory) {
  p.add("tls_handshake_failures", {}, load(m.tls_handshake_failures), CounterKind::kCount,
        "TLS connections closed before their handshake completed (plaintext, wrong CA, ...)");
  p.add("inflight_bytes", {}, static_cast<double>(memory.used()), CounterKind::kGauge,
        "Memory requests hold outside the tiers: values arriving, responses not yet sent");
  p.add("inflight_limit_bytes", {}, static_cast<double>(memory.limit()), CounterKind::kGauge,
        "server.max_inflight_bytes");
  p.add("memory_waits", {}, load(m.memory_waits), CounterKind::kCount,
        "Frames that waited for room in the in-flight memory (back-pressure)");
  p.add("memory_refusals", {}, load(m.memory_refusals), CounterKind::kCount,
        "Frames refused because the in-flight memory stayed full, or could never hold them");
}

std::string render_metrics(const ServerMetrics& metrics, const MemoryBudget& memory,
                           const TenantRegistry& tenants, Store& store,
                           const MetricsHttpServer* http, TenantLines tenant_lines) {
  PrometheusText p;
  add_requests(p, metrics);
  add_connections(p, metrics);
  add_memory(p, metrics, memory);
  add_tenants(p, tenants, store, tenant_lines);
  store.visit_counters(p.visitor());
  if (http != nullptr) http->visit_counters(p.visitor());
  return p.text();
}

}  // namespace kvtier::server
