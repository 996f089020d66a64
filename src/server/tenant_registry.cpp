// TenantRegistry (see tenant_registry.h).
#include "server/tenant_registry.h"

#include <openssl/crypto.h>

#include "dram/block.h"
#include "server/token_file.h"
#include "sync/mutex.h"

#include <utility>

namespace kvtier::server {

std::string_view transport_name(Transport t) { return t == Transport::kUnix ? "unix" : "tcp"; }

Result<std::unique_ptr<TenantRegistry>> TenantRegistry::create(const ServerConfig& config,
                                                               std::string default_token,
                                                               std::uint64_t default_pin_budget) {
  std::unique_ptr<TenantRegistry> r(new TenantRegistry());
  auto def = std::make_unique<Tenant>();
  def->name = std::string(kDefaultTenantName);
  def->ns = kDefaultNamespace;
  def->token = std::move(default_token);
  r->tenants_.push_back(std::move(def));
  for (const TenantConfig& t : config.tenants) {
    if (t.name == kDefaultTenantName) {
      Tenant& d = *r->tenants_.front();
      if (!t.token.empty()) d.token = t.token;
      d.quota_bytes = t.quota_bytes;
      d.max_pinned_bytes = t.max_pinned_bytes.value_or(0);
      d.max_connections = t.max_connections.value_or(0);
      continue;
    }
    auto tenant = std::make_unique<Tenant>();
    tenant->name = t.name;
    tenant->ns = tenant_namespace(t);
    tenant->quota_bytes = t.quota_bytes;
    tenant->token = t.token;
    tenant->tls_client_name = t.tls_client_name;
    tenant->max_pinned_bytes = t.max_pinned_bytes.value_or(default_pin_budget);
    tenant->max_connections =
        t.max_connections.value_or(std::max<std::uint32_t>(config.max_connections / 2, 1));
    for (const auto& other : r->tenants_) {
      if (!t.tls_client_name.empty() && other->tls_client_name == t.tls_client_name) {
        return Status::InvalidArgument("tenants \"" + other->name + "\" and \"" + t.name +
                                       "\" have the same tls_client_name \"" +
                                       t.tls_client_name + "\"");
      }
    }
    r->tenants_.push_back(std::move(tenant));
  }
  if (r->tenants_.front()->token.empty()) {
    return Status::InvalidArgument("the default tenant has no token");
  }
  for (auto& t : r->tenants_) t->token_digest = token_digest(t->token);
  return r;
}

const Tenant* TenantRegistry::authenticate(std::string_view token, Transport transport,
                                           std::string_view client_name) const {
  const Tenant* by_certificate = nullptr;
  if (!client_name.empty()) {
    for (const auto& t : tenants_) {
      if (t->tls_client_name == client_name) by_certificate = t.get();
    }
  }
  if (token.empty()) {
    if (by_certificate != nullptr) return by_certificate;
    return transport == Transport::kUnix ? tenants_.front().get() : nullptr;
  }
  // Digests are compared, every tenant's, in constant time each: timing tells neither which
  // tenant nor how much of a token matched, nor a token's length.
  const TokenDigest presented = token_digest(token);
  const Tenant* found = nullptr;
  for (const auto& t : tenants_) {
    if (CRYPTO_memcmp(t->token_digest.data(), presented.data(), presented.size()) == 0) {
      found = t.get();
    }
  }
  if (by_certificate != nullptr && found != by_certificate) return nullptr;
  return found;
}

bool TenantRegistry::admit(const Tenant& tenant, Store& store, std::uint64_t bytes,
                           QuotaHold& hold) {
  if (tenant.quota_bytes == 0) return true;
  // Quotas count what blocks cost, not their value bytes: 1,000 one-byte values take over 8 MiB
  // of DRAM. A block's DRAM charge is at least its NVMe entry's, so it stands for both.
  const std::uint64_t charge = dram::block_charge(bytes);
  MutexLock lock(tenant.admit_mu);
  // What is held is read before the usage: a hold is given back only after its put is
  // published, so a put this misses in one is counted in the other.
  const std::uint64_t held = tenant.admitted_in_flight.load();
  for (Tier tier : {Tier::kDram, Tier::kNvme}) {
    if (store.namespace_usage(tenant.ns, tier).charged_bytes + held + charge > tenant.quota_bytes) {
      tenant.quota_rejections.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  tenant.admitted_in_flight.fetch_add(charge);
  hold.tenant_ = &tenant;
  hold.bytes_ += charge;
  return true;
}

QuotaHold& QuotaHold::operator=(QuotaHold&& other) noexcept {
  if (this != &other) {
    release();
    tenant_ = std::exchange(other.tenant_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void QuotaHold::release() {
  if (tenant_ != nullptr && bytes_ > 0) tenant_->admitted_in_flight.fetch_sub(bytes_);
  tenant_ = nullptr;
  bytes_ = 0;
}

}  // namespace kvtier::server
