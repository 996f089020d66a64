// Namespace bindings: which tenant name each namespace id belongs to in a data dir.
//
// A tenant's blocks carry only its 32-bit namespace id, on every tier and in the outbox. Ids are
// derived from tenant names (FNV-1a) unless set, and such ids collide: a name whose id is another
// tenant's can be found in seconds. ServerConfig::validate() refuses collisions among the tenants
// of one config, but not with a tenant that has left the config and whose blocks are still on the
// device: a tenant configured later under a colliding name would read them. So the data dir
// remembers every binding it has served, in <data_dir>/tenant-namespaces (one line per binding,
// "<id> <name>", decimal id; written to a temporary file, synced and renamed), and at start:
//  - a tenant whose id is derived from its name and bound to another name is refused, with an
//    error that names both tenants and says how to proceed;
//  - a tenant with an explicit namespace_id bound to another name takes the binding over (the
//    operator says so, as when renaming a tenant and keeping its blocks), with a warning;
//  - new bindings are added; bindings of tenants no longer configured are kept.
// The default tenant is namespace 0 by definition and is not recorded.
//
// Thread-safety: a function of its arguments and the file, called once at start under the data-dir
// lock.
#pragma once

#include <string>
#include <vector>

#include "kvtier/status.h"
#include "server/server_config.h"

namespace kvtier::server {

inline constexpr const char* kNamespaceBindingsFile = "tenant-namespaces";
// More lines than any deployment has tenants: a larger file is not one of ours.
inline constexpr std::size_t kMaxNamespaceBindings = 1 << 20;

// Checks `tenants` against the bindings recorded in `data_dir` and records the new ones (see the
// file comment). Refusals are InvalidArgument; an unreadable or malformed file is Corruption or
// IOError (naming the file: it is never silently replaced). Takeovers of a binding by an explicit
// namespace_id are appended to *warnings.
Status check_and_record_namespaces(const std::string& data_dir,
                                   const std::vector<TenantConfig>& tenants,
                                   std::vector<std::string>* warnings);

}  // namespace kvtier::server
