// TenantRegistry: who a connection acts as. Every block a tenant stores lives under the tenant's
// NamespaceId on every tier, so tenants can neither read, probe nor count each other's blocks:
// the same key in another namespace is a different block. Tokens are compared in constant time.
//
// Thread-safety: immutable after create(), except the per-tenant counters (atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/key.h"
#include "kvtier/status.h"
#include "kvtier/store.h"
#include "server/server_config.h"

namespace kvtier::server {

enum class Transport : std::uint8_t { kUnix, kTcp };
std::string_view transport_name(Transport t);

struct Tenant {
  std::string name;
  NamespaceId ns = kDefaultNamespace;
  std::uint64_t quota_bytes = 0;  // per tier; 0 = none
  std::string token;
  mutable std::atomic<std::uint64_t> quota_rejections{0};  // counted by admit()
};

class TenantRegistry {
 public:
  // The configured tenants plus "default" (namespace 0), whose token is `default_token` when the
  // config gives it none.
  static Result<std::unique_ptr<TenantRegistry>> create(const ServerConfig& config,
                                                        std::string default_token);

  // The tenant `token` names, or nullptr. On the Unix socket (mode 0660: only the daemon's user
  // and group can connect) an empty token selects the default tenant; on TCP every connection
  // must present a valid token.
  const Tenant* authenticate(std::string_view token, Transport transport) const;

  // Whether `tenant` may store `bytes` more: its usage in each tier plus `bytes` stays within its
  // quota. Counts a rejection when not.
  bool admit(const Tenant& tenant, Store& store, std::uint64_t bytes) const;

  const std::vector<std::unique_ptr<Tenant>>& tenants() const { return tenants_; }
  const Tenant& default_tenant() const { return *tenants_.front(); }

 private:
  TenantRegistry() = default;
  std::vector<std::unique_ptr<Tenant>> tenants_;  // default first
};

}  // namespace kvtier::server
