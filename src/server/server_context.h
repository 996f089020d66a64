// ServerContext: what every connection of kvtierd shares: the store, the validated config, the
// tenants, the counters and the value-buffer pool. Built once by Server and outlives every
// connection.
//
// Thread-safety: the referenced objects are themselves safe for concurrent use; `draining` is
// set once, by Server, when shutdown begins.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "engine/serving_store.h"
#include "memory/buffer_pool.h"
#include "net/tls.h"
#include "server/auth_throttle.h"
#include "server/memory_budget.h"
#include "server/metrics_render.h"
#include "server/server_config.h"
#include "server/server_metrics.h"
#include "server/tenant_registry.h"
#include "sync/mutex.h"

namespace kvtier::server {

struct ServerContext {
  engine::ServingStore& store;
  const ServerConfig& config;
  const TenantDirectory& tenants;
  ServerMetrics& metrics;
  BufferPool& buffers;
  std::uint64_t max_value_bytes;  // the store's: the largest value a PUT may carry
  // The largest value a durable put may carry (the NVMe tier's largest entry, at most
  // max_value_bytes); 0: no NVMe tier, so a put's kFlagDurable is not honoured.
  std::uint64_t max_durable_value_bytes;
  // The daemon's metrics in the Prometheus text format (STATS and HTTP /metrics); with a tenant,
  // only that tenant's per-tenant lines (render_metrics in metrics_render.h).
  std::function<std::string(TenantLines tenant_lines)> render_metrics;
  std::atomic<bool> draining{false};
  AuthThrottle auth_throttle;  // failed HELLOs per peer
  MemoryBudget memory{config.max_inflight_bytes};  // what requests hold outside the tiers

  // What a tenant holds across its connections, by tenant name so a reload keeps it; never
  // erased (one per name ever configured), so a pointer to one lives as long as the daemon.
  struct TenantCounters {
    // What it holds of `memory`, its values arriving and its responses (frames and data queued)
    // together, within MemoryBudget::tenant_share: one tenant's withheld bodies and unread
    // responses cannot take the whole budget.
    std::atomic<std::uint64_t> held_bytes{0};
    // Its connections past HELLO, within its max_connections.
    std::atomic<std::uint32_t> connections{0};
  };
  TenantCounters* counters_of(const std::string& tenant) {
    MutexLock lock(counters_mu);
    std::unique_ptr<TenantCounters>& c = tenant_counters[tenant];
    if (!c) c = std::make_unique<TenantCounters>();
    return c.get();
  }
  Mutex counters_mu;
  std::map<std::string, std::unique_ptr<TenantCounters>> tenant_counters KVTIER_GUARDED_BY(counters_mu);

  // The TCP listener's TLS context (null: plaintext), replaced by a reload; a connection keeps
  // the one it was accepted with. client_ca_generation changes when a context trusts other
  // client CAs than the one before (its CA file's contents changed): sessions a client
  // certificate let in under an older generation are ended at their next frame.
  struct TlsInUse {
    std::shared_ptr<net::TlsContext> context;
    std::uint64_t client_ca_generation = 0;
  };
  TlsInUse tls_in_use() const {
    MutexLock lock(tls_mu);
    return {tls, client_ca_generation};
  }
  std::uint64_t current_client_ca_generation() const {
    MutexLock lock(tls_mu);
    return client_ca_generation;
  }
  bool has_tls() const { return tls_in_use().context != nullptr; }
  // `client_ca_digest`: SHA-256 of the client CA file's contents (zero without one).
  void set_tls_context(std::shared_ptr<net::TlsContext> next, const TokenDigest& client_ca_digest) {
    MutexLock lock(tls_mu);
    if (tls != nullptr && client_ca_digest != client_ca) ++client_ca_generation;
    tls = std::move(next);
    client_ca = client_ca_digest;
  }
  mutable Mutex tls_mu;
  std::shared_ptr<net::TlsContext> tls KVTIER_GUARDED_BY(tls_mu);
  TokenDigest client_ca KVTIER_GUARDED_BY(tls_mu){};
  std::uint64_t client_ca_generation KVTIER_GUARDED_BY(tls_mu) = 0;
};

}  // namespace kvtier::server
