// The daemon's metrics as one Prometheus text (HTTP /metrics and the STATS operation): the
// server's request, byte, connection and rejection counters, per-operation latency histograms,
// per-tenant usage and quota rejections, every engine counter (Store::visit_counters) and the
// /metrics server's own (when there is one). `tenant_lines` says which per-tenant lines it has: a
// tenant's STATS must not count another tenant's blocks, and /metrics has them only when the
// scraper is authorized (metrics_http_server.h).
#pragma once

#include <string>

#include "kvtier/store.h"
#include "server/memory_budget.h"
#include "server/metrics_http_server.h"
#include "server/server_metrics.h"
#include "server/tenant_registry.h"

namespace kvtier::server {

// Which per-tenant lines a rendering has.
struct TenantLines {
  bool any = true;              // false: none
  const Tenant* only = nullptr;  // with `any`: this tenant's alone; null: every tenant's
  static TenantLines all() { return {}; }
  static TenantLines none() { return {false, nullptr}; }
  static TenantLines of(const Tenant* t) { return {true, t}; }
};

std::string render_metrics(const ServerMetrics& metrics, const MemoryBudget& memory,
                           const TenantRegistry& tenants, Store& store,
                           const MetricsHttpServer* http, TenantLines tenant_lines);

}  // namespace kvtier::server
