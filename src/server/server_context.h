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
#include <memory>
#include <mutex>
#include <string>

#include "kvtier/store.h"
#include "memory/buffer_pool.h"
#include "net/tls.h"
#include "server/auth_throttle.h"
#include "server/memory_budget.h"
#include "server/metrics_render.h"
#include "server/server_config.h"
#include "server/server_metrics.h"
#include "server/tenant_registry.h"

namespace kvtier::server {

struct ServerContext {
  Store& store;
  const ServerConfig& config;
  const TenantDirectory& tenants;
  ServerMetrics& metrics;
  BufferPool& buffers;
  std::uint64_t max_value_bytes;  // the store's: the largest value a PUT may carry
  // The daemon's metrics in the Prometheus text format (STATS and HTTP /metrics); with a tenant,
  // only that tenant's per-tenant lines (render_metrics in metrics_render.h).
  std::function<std::string(TenantLines tenant_lines)> render_metrics;
  std::atomic<bool> draining{false};
  AuthThrottle auth_throttle;  // failed HELLOs per peer
  MemoryBudget memory{config.max_inflight_bytes};  // what requests hold outside the tiers

  // The TCP listener's TLS context (null: plaintext), replaced by a reload; a connection keeps
  // the one it was accepted with.
  std::shared_ptr<net::TlsContext> tls_context() const {
    std::lock_guard<std::mutex> lock(tls_mu);
    return tls;
  }
  void set_tls_context(std::shared_ptr<net::TlsContext> next) {
    std::lock_guard<std::mutex> lock(tls_mu);
    tls = std::move(next);
  }
  mutable std::mutex tls_mu;
  std::shared_ptr<net::TlsContext> tls;  // guarded by tls_mu
};

}  // namespace kvtier::server
