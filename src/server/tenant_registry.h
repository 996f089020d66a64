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
#include "server/token_file.h"
#include "sync/mutex.h"

namespace kvtier::server {

enum class Transport : std::uint8_t { kUnix, kTcp };
std::string_view transport_name(Transport t);

struct Tenant {
  std::string name;
  NamespaceId ns = kDefaultNamespace;
  // Per tier, in charged bytes (NamespaceUsage::charged_bytes: what its blocks cost, a page or
  // more for a tiny value); 0 = none.
  std::uint64_t quota_bytes = 0;
  std::uint64_t max_pinned_bytes = 0;  // DRAM bytes it may keep pinned; 0 = the DRAM-wide limit
  std::uint32_t max_connections = 0;   // connections past HELLO at once; 0 = only the server's
  std::string token;
  std::string tls_client_name;  // a verified client certificate's CN that names it; empty: none
  // SHA-256 of the token: what a presented token is compared with, so the comparison takes the
  // same time whatever the lengths (authenticate()).
  TokenDigest token_digest{};
  mutable std::atomic<std::uint64_t> quota_rejections{0};  // counted by admit()
  // Charged bytes admitted for puts not yet published: added (and read) under admit_mu by admit(),
  // given back by the QuotaHold that holds them, from any thread.
  mutable std::atomic<std::uint64_t> admitted_in_flight{0};
  mutable Mutex admit_mu;  // one admission at a time: a check and its hold are one step
};

// Bytes a tenant's puts were admitted for and have not yet given back. While held they count as
// the tenant's usage, so puts that arrive together on several connections cannot all pass a quota
// only some of them fit in. Given back when the hold is destroyed, which the holder does after
// the put is published or abandoned: for a moment the bytes count twice, which can only refuse a
// put, never let one past the quota.
class QuotaHold {
 public:
  QuotaHold() = default;
  ~QuotaHold() { release(); }
  QuotaHold(QuotaHold&& other) noexcept { *this = std::move(other); }
  QuotaHold& operator=(QuotaHold&& other) noexcept;
  QuotaHold(const QuotaHold&) = delete;
  QuotaHold& operator=(const QuotaHold&) = delete;

  std::uint64_t bytes() const { return bytes_; }

 private:
  friend class TenantRegistry;
  void release();

  const Tenant* tenant_ = nullptr;  // set by the first admission it holds
  std::uint64_t bytes_ = 0;
};

class TenantRegistry {
 public:
  // The configured tenants plus "default" (namespace 0), whose token is `default_token` when the
  // config gives it none. A named tenant without max_pinned_bytes gets `default_pin_budget`.
  static Result<std::unique_ptr<TenantRegistry>> create(const ServerConfig& config,
                                                        std::string default_token,
                                                        std::uint64_t default_pin_budget = 0);

  // The tenant `token` names, or nullptr. On the Unix socket (its access is the credential) an
  // empty token selects the default tenant; on TCP every connection must present a valid token,
  // or a verified client certificate whose common name (`client_name`) is a tenant's
  // tls_client_name. With both, they must name the same tenant.
  const Tenant* authenticate(std::string_view token, Transport transport,
                             std::string_view client_name = {}) const;

  // Whether `tenant` may store a value of `bytes` more: its charged usage in each tier, plus what
  // other puts hold, plus the value's charge (dram::block_charge) stays within its quota. If so
  // (and the tenant has a quota) `hold` takes the charge until it is destroyed; `hold` is empty or already holds for `tenant`. Counts a
  // rejection when not.
  static bool admit(const Tenant& tenant, Store& store, std::uint64_t bytes, QuotaHold& hold);

  const std::vector<std::unique_ptr<Tenant>>& tenants() const { return tenants_; }
  const Tenant& default_tenant() const { return *tenants_.front(); }

 private:
  TenantRegistry() = default;
  std::vector<std::unique_ptr<Tenant>> tenants_;  // default first
};

// The daemon's current TenantRegistry, replaced whole by a reload (SIGHUP). A connection keeps
// the registry it authenticated against alive (Session::registry) with the generation it had;
// when the generation moves, the connection authenticates its token again against the new one
// before its next request, and is closed when the token no longer names the same tenant
// (a revoked or changed token cuts its sessions).
//
// Thread-safety: every method from any thread.
class TenantDirectory {
 public:
  explicit TenantDirectory(std::shared_ptr<const TenantRegistry> first)
      : current_(std::move(first)) {}

  std::shared_ptr<const TenantRegistry> current() const {
    MutexLock lock(mu_);
    return current_;
  }
  // Moves by one at each replace(): a cheap check, per request, that nothing changed.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  void replace(std::shared_ptr<const TenantRegistry> next) {
    MutexLock lock(mu_);
    current_ = std::move(next);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const TenantRegistry> current_ KVTIER_GUARDED_BY(mu_);
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace kvtier::server
