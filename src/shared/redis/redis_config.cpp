// RedisBackendConfig::validate (include/kvtier/config.h).
#include <string>

#include "config/config_error.h"
#include "kvtier/config.h"
#include "net/host_port.h"

namespace kvtier {
namespace {

constexpr std::uint32_t kMaxConnectionsPerNode = 1024;
constexpr std::size_t kMaxKeyPrefixBytes = 1024;

}  // namespace

Status RedisBackendConfig::validate() const {
  if (nodes.empty())
    return invalid_config_value("shared.redis.nodes", "[]", "needs at least one \"host:port\"");
  if (!cluster && nodes.size() > 1) {
    return invalid_config_value("shared.redis.nodes", std::to_string(nodes.size()) + " nodes",
                                "a single server takes one node; several need cluster = true");
  }
  for (const std::string& node : nodes) {
    Result<net::HostPort> hp = net::parse_host_port(node);
    if (!hp.ok())
      return invalid_config_value("shared.redis.nodes", "\"" + node + "\"", hp.status().message());
    if (hp->port == 0)
      return invalid_config_value("shared.redis.nodes", "\"" + node + "\"",
                                  "port must be in [1, 65535]");
  }
  if (ttl.count() < 0)
    return invalid_config_value("shared.redis.ttl", std::to_string(ttl.count()) + " ms",
                                "must be >= 0");
  if (connect_timeout.count() <= 0) {
    return invalid_config_value("shared.redis.connect_timeout",
                                std::to_string(connect_timeout.count()) + " ms", "must be > 0");
  }
  if (connections_per_node < 1 || connections_per_node > kMaxConnectionsPerNode) {
    return invalid_config_value("shared.redis.connections_per_node",
                                std::to_string(connections_per_node),
                                "must be in [1, " + std::to_string(kMaxConnectionsPerNode) + "]");
  }
  if (key_prefix.size() > kMaxKeyPrefixBytes) {
    return invalid_config_value("shared.redis.key_prefix",
                                std::to_string(key_prefix.size()) + " bytes",
                                "must be at most " + std::to_string(kMaxKeyPrefixBytes) + " bytes");
  }
  return Status::Ok();
}

}  // namespace kvtier
