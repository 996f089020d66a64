// Server: kvtierd. Opens the store on a validated DaemonConfig, listens on the Unix socket, TCP
// and HTTP /metrics, and serves clients from a few event-driven I/O threads until stop().
//
//   auto server = Server::start(config);   // Result<std::unique_ptr<Server>>
//   ... wait for SIGTERM ...
//   server->stop();                        // stop accepting, finish in-flight requests
//   Status s = server->wait();             // flush, persist the NVMe index, release the data dir
//
// Once start() returns, <data_dir>/kvtierd.ready lists the bound addresses (one "key=value" per
// line: pid, unix, tcp, metrics), for scripts and tests that bind port 0; it is removed at exit.
//
// Thread-safety: stop() may be called from any thread (and more than once); wait() once.
#pragma once

#include <memory>
#include <string>

#include "kvtier/status.h"
#include "server/server_config.h"

namespace kvtier::server {

struct ServerEndpoints {
  std::string unix_socket;  // path, or empty
  std::string tcp;          // "HOST:PORT" bound, or empty
  std::string metrics;      // "HOST:PORT" bound, or empty
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> start(const DaemonConfig& config);
  virtual ~Server() = default;

  virtual const ServerEndpoints& endpoints() const = 0;
  // Applies what can change while running (SIGHUP): [[tenants]] (tokens, quotas, new tenants;
  // sessions whose token no longer names their tenant are closed at their next request),
  // server.log_level and server.metrics_token_file. Everything else in `fresh` is ignored until
  // a restart. On error nothing changed.
  virtual Status reload(const DaemonConfig& fresh) = 0;
  virtual void stop() = 0;
  virtual Status wait() = 0;
};

}  // namespace kvtier::server
