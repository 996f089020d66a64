// The daemon's metrics as one Prometheus text (HTTP /metrics and the STATS operation): the
// server's request, byte, connection and rejection counters, per-operation latency histograms,
// per-tenant usage and quota rejections, every engine counter (Store::visit_counters) and the
// /metrics server's own (when there is one). With `only_tenant`, the per-tenant lines are that
// tenant's alone (a tenant's STATS must not count another tenant's blocks).
#pragma once

#include <string>

#include "kvtier/store.h"
#include "server/memory_budget.h"
#include "server/metrics_http_server.h"
#include "server/server_metrics.h"
#include "server/tenant_registry.h"

namespace kvtier::server {

std::string render_metrics(const ServerMetrics& metrics, const MemoryBudget& memory,
                           const TenantRegistry& tenants, Store& store,
                           const MetricsHttpServer* http, const Tenant* only_tenant = nullptr);

}  // namespace kvtier::server
