// Server (see server.h): wires the store, tenants, listeners, I/O threads and /metrics together.
#include "server/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "config/toml_fields.h"
#include "engine/serving_store.h"
#include "memory/buffer_pool.h"
#include "nvme/format.h"
#include "server/data_dir_lock.h"
#include "posix/file_mode.h"
#include "server/private_dir.h"
#include "server/fd_limit.h"
#include "server/namespace_bindings.h"
#include "server/io_thread.h"
#include "server/listener.h"
#include "server/metrics_http_server.h"
#include "server/metrics_render.h"
#include "server/server_context.h"
#include "server/tenant_registry.h"
#include "server/token_file.h"

namespace kvtier::server {

namespace {

// Idle value buffers kept for reuse across requests (puts and gets of one model's block size
// reuse them instead of faulting in fresh pages): half of what requests may hold in flight, so the
// pool is a known share of the RSS bound (docs/ARCHITECTURE.md, "Memory").
std::uint64_t buffer_pool_bytes(const ServerConfig& server) { return server.max_inflight_bytes / 2; }

bool is_off(const std::string& s) { return s == "off"; }

class ServerImpl final : public Server {
 public:
  explicit ServerImpl(const DaemonConfig& config) : config_(config) {}

  ~ServerImpl() override {
    stop();
    (void)wait();
  }

  Status open() {
    // First: a config the descriptor limit cannot hold is refused before anything is opened.
    Result<std::uint64_t> fds = ensure_fd_limit(fds_needed(config_.server));
    if (!fds.ok()) return fds.status();
    spdlog::info("event=fd_limit soft={} needed={}", *fds, fds_needed(config_.server));
    const std::string& dir = config_.store.data_dir;
    KVTIER_RETURN_IF_ERROR(ensure_private_dir(dir, "data directory"));
    Result<std::unique_ptr<DataDirLock>> lock = DataDirLock::acquire(dir);
    if (!lock.ok()) return lock.status();
    lock_ = std::move(lock).value();
    // A ready file left by a daemon that crashed names a dead pid and old addresses: gone before
    // the (maybe long) recovery, so nobody waiting for this daemon reads it as this one's.
    ::unlink((dir + "/" + std::string(kReadyFileName)).c_str());

    Result<std::shared_ptr<const TenantRegistry>> tenants = load_tenants(config_.server);
    if (!tenants.ok()) return tenants.status();
    tenants_ = std::make_unique<TenantDirectory>(std::move(tenants).value());

    // The tenants' shared-tier keys, by namespace: read at start (a reload does not change them).
    config_.store.shared.namespace_keys = shared_keys(config_.server);
    Result<std::unique_ptr<engine::ServingStore>> store = engine::ServingStore::open(config_.store);
    if (!store.ok()) return store.status();
    store_ = std::move(store).value();
    spdlog::info("event=store_open data_dir={} recovery=\"{}\"", dir, store_->recovery_summary());

    context_ = std::make_unique<ServerContext>(
        *store_, config_.server, *tenants_, metrics_, buffers_, config_.store.max_value_bytes,
        config_.store.nvme.enabled() ? std::min(config_.store.max_value_bytes,
                                                nvme::max_value_for_region(config_.store.nvme.region_size))
                                     : 0,
        [this](TenantLines tenant_lines) {
          return render_metrics(metrics_, context_->memory, *tenants_->current(), *store_,
                                http_view_.load(std::memory_order_acquire), tenant_lines);
        });
    if (!config_.server.tls_cert_file.empty()) {
      Result<LoadedTls> tls = load_tls(config_.server);
      if (!tls.ok()) return tls.status();
      context_->set_tls_context(std::move(tls->context), tls->client_ca_digest);
    }
    KVTIER_RETURN_IF_ERROR(open_listeners());
    KVTIER_RETURN_IF_ERROR(start_threads());
    return write_ready_file();
  }

  const ServerEndpoints& endpoints() const override { return endpoints_; }

  Status reload(const DaemonConfig& fresh) override {
    if (!context_) return Status::Closed("the server is not running");
    // Certificates are read again (renewed files), not switched on or off: the listener stays
    // TLS or plaintext as it started. Read before the tenants, whose loading records their
    // namespaces: a reload refused for its certificates changes nothing.
    std::optional<LoadedTls> tls;
    if (context_->has_tls() && !fresh.server.tls_cert_file.empty()) {
      Result<LoadedTls> loaded = load_tls(fresh.server);
      if (!loaded.ok()) return loaded.status();
      tls = std::move(loaded).value();
    }
    Result<std::shared_ptr<const TenantRegistry>> tenants = load_tenants(fresh.server);
    if (!tenants.ok()) return tenants.status();
    // The TLS context first: a session checked against the new tenants sees the new CAs.
    if (tls) context_->set_tls_context(std::move(tls->context), tls->client_ca_digest);
    tenants_->replace(std::move(tenants).value());
    if (shared_keys(fresh.server) != config_.store.shared.namespace_keys) {
      spdlog::warn("event=reload_kept field=\"tenants.shared_key_file\" msg=\"the shared-tier keys "
                   "are read at start: the running ones stay until a restart\"");
    }
    spdlog::set_level(spdlog::level::from_str(
        fresh.server.log_level == "warn" ? "warning" : fresh.server.log_level));
    if (http_) http_->set_bearer_token(fresh.server.metrics_token);
    spdlog::info("event=reloaded tenants={} log_level={} metrics_token={}",
                 fresh.server.tenants.size() + 1, fresh.server.log_level,
                 fresh.server.metrics_token.empty() ? "none" : "set");
    return Status::Ok();
  }

  void stop() override {
    if (!context_ || context_->draining.exchange(true)) return;
    spdlog::info("event=shutdown_begin msg=\"no new connections; finishing in-flight requests\"");
    for (const auto& l : listeners_) l->stop_listening();
    for (auto& t : threads_) t->wake();
  }

  Status wait() override {
    if (waited_) return close_status_;
    waited_ = true;
    for (auto& t : threads_) t->join();
    threads_.clear();
    if (http_) http_->stop();
    listeners_.clear();  // removes the socket file
    if (store_) {
      close_status_ = store_->close();
      spdlog::info("event=store_closed status=\"{}\"", close_status_.to_string());
    }
    if (!ready_path_.empty()) ::unlink(ready_path_.c_str());
    lock_.reset();
    return close_status_;
  }

 private:
  Status open_listeners() {
    const ServerConfig& s = config_.server;
    // Keeps the listener, and its address without the scheme in `endpoint` ("tcp:127.0.0.1:7420"
    // -> "127.0.0.1:7420").
    auto keep = [this](Result<std::unique_ptr<Listener>> l, std::string& endpoint) -> Status {
      if (!l.ok()) return l.status();
      endpoint = (*l)->address().substr((*l)->address().find(':') + 1);
      listeners_.push_back(std::move(l).value());
      return Status::Ok();
    };
    if (!is_off(s.unix_socket)) {
      const std::string path = effective_unix_socket(config_);
      Result<gid_t> gid = socket_group();
      if (!gid.ok()) return gid.status();
      KVTIER_RETURN_IF_ERROR(
          ensure_socket_dir(std::filesystem::path(path).parent_path().string(), *gid));
      KVTIER_RETURN_IF_ERROR(keep(Listener::unix_socket(path, *gid), endpoints_.unix_socket));
    }
    if (!is_off(s.tcp_listen)) {
      KVTIER_RETURN_IF_ERROR(keep(Listener::tcp(s.tcp_listen), endpoints_.tcp));
    }
    if (!is_off(s.metrics_listen)) {
      Result<std::unique_ptr<MetricsHttpServer>> h =
          MetricsHttpServer::start(
              s.metrics_listen,
              [ctx = context_.get()](bool with_tenants) {
                return ctx->render_metrics(with_tenants ? TenantLines::all() : TenantLines::none());
              },
              MetricsHttpServer::Options{s.metrics_token});
      if (!h.ok()) return h.status();
      http_ = std::move(h).value();
      http_view_.store(http_.get(), std::memory_order_release);
      endpoints_.metrics = http_->address();
    }
    for (const auto& l : listeners_) spdlog::info("event=listening address={}", l->address());
    if (http_) spdlog::info("event=listening address=http://{}/metrics", endpoints_.metrics);
    return Status::Ok();
  }

  Status start_threads() {
    std::vector<const Listener*> ls;
    for (const auto& l : listeners_) ls.push_back(l.get());
    for (std::uint32_t i = 0; i < config_.server.io_threads; ++i) {
      Result<std::unique_ptr<IoThread>> t = IoThread::create(*context_, i, ls);
      if (!t.ok()) return t.status();
      threads_.push_back(std::move(t).value());
    }
    std::vector<IoThread*> group;
    for (auto& t : threads_) group.push_back(t.get());
    for (auto& t : threads_) t->set_group(group);
    metrics_.io_threads.store(static_cast<std::uint32_t>(threads_.size()),
                              std::memory_order_relaxed);
    for (auto& t : threads_) t->start();
    return Status::Ok();
  }

  // The tenants of `server` plus the default one (its token from the config, else the data
  // directory's auth-token), once no tenant would take the namespace of another's blocks.
  // The tenants' shared-tier keys by namespace (SharedTierConfig::namespace_keys).
  static std::map<std::uint32_t, std::string> shared_keys(const ServerConfig& server) {
    std::map<std::uint32_t, std::string> keys;
    for (const TenantConfig& t : server.tenants) {
      if (!t.shared_key.empty()) keys[tenant_namespace(t)] = t.shared_key;
    }
    return keys;
  }

  Result<std::shared_ptr<const TenantRegistry>> load_tenants(const ServerConfig& server) {
    const std::string& dir = config_.store.data_dir;
    std::string default_token;
    for (const TenantConfig& t : server.tenants) {
      if (t.name == kDefaultTenantName) default_token = t.token;
    }
    if (default_token.empty()) {
      Result<std::string> token = load_or_create_default_token(dir);
      if (!token.ok()) return token.status();
      default_token = std::move(token).value();
    }
    std::vector<std::string> takeovers;
    KVTIER_RETURN_IF_ERROR(check_and_record_namespaces(dir, server.tenants, &takeovers));
    for (const std::string& w : takeovers) spdlog::warn("event=namespace_takeover msg=\"{}\"", w);
    // A named tenant may pin a quarter of what DRAM lets be pinned, unless its config says.
    const auto pin_limit = static_cast<std::uint64_t>(config_.store.dram.max_pinned_fraction *
                                                      static_cast<double>(config_.store.dram.capacity_bytes));
    Result<std::unique_ptr<TenantRegistry>> registry =
        TenantRegistry::create(server, default_token, std::max<std::uint64_t>(pin_limit / 4, 1));
    if (!registry.ok()) return registry.status();
    return std::shared_ptr<const TenantRegistry>(std::move(registry).value());
  }

  struct LoadedTls {
    std::shared_ptr<net::TlsContext> context;
    TokenDigest client_ca_digest{};  // of the client CA file's contents; zero without one
  };
  static Result<LoadedTls> load_tls(const ServerConfig& server) {
    LoadedTls loaded;
    if (!server.tls_client_ca_file.empty()) {
      Result<std::string> ca = read_config_file_text(server.tls_client_ca_file);
      if (!ca.ok()) {
        return Status(ca.status().code(), "server.tls_client_ca_file: " + ca.status().message());
      }
      loaded.client_ca_digest = token_digest(*ca);
    }
    Result<std::shared_ptr<net::TlsContext>> context = net::TlsContext::for_server(
        {server.tls_cert_file, server.tls_key_file, server.tls_client_ca_file});
    if (!context.ok()) return context.status();
    loaded.context = std::move(context).value();
    return loaded;
  }

  // The group that may use the Unix socket (server.unix_socket_group), or -1. Such a socket must
  // not be in the 0700 data directory, where the group could not reach it.
  Result<gid_t> socket_group() const {
    const std::string& name = config_.server.unix_socket_group;
    if (name.empty()) return static_cast<gid_t>(-1);
    const std::filesystem::path socket_dir =
        std::filesystem::path(effective_unix_socket(config_)).parent_path().lexically_normal();
    const std::filesystem::path data_dir =
        std::filesystem::path(config_.store.data_dir).lexically_normal();
    const std::string rel = socket_dir.lexically_relative(data_dir).string();
    if (std::filesystem::weakly_canonical(socket_dir) ==
            std::filesystem::weakly_canonical(data_dir) ||
        (!rel.empty() && !rel.starts_with(".."))) {
      return Status::InvalidArgument(
          "server.unix_socket_group = \"" + name + "\" cannot reach a socket inside the data "
          "directory (mode 0700): set server.unix_socket to a runtime directory, e.g. "
          "/run/kvtier/kvtierd.sock");
    }
    return group_id(name, "server.unix_socket_group");
  }

  Status write_ready_file() {
    const std::string path = config_.store.data_dir + "/" + std::string(kReadyFileName);
    const std::string tmp = path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::trunc);
      f << "pid=" << ::getpid() << "\n"
        << "unix=" << endpoints_.unix_socket << "\n"
        << "tcp=" << endpoints_.tcp << "\n"
        << "metrics=" << endpoints_.metrics << "\n";
      if (!f) return Status::IOError("cannot write " + tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno("rename " + path, errno);
    ready_path_ = path;
    return Status::Ok();
  }

  DaemonConfig config_;
  std::unique_ptr<DataDirLock> lock_;
  std::unique_ptr<TenantDirectory> tenants_;
  std::unique_ptr<engine::ServingStore> store_;
  ServerMetrics metrics_;
  BufferPool buffers_{buffer_pool_bytes(config_.server)};
  std::unique_ptr<ServerContext> context_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unique_ptr<MetricsHttpServer> http_;
  // What render_metrics reads: the HTTP thread may scrape before start() has returned into http_.
  std::atomic<const MetricsHttpServer*> http_view_{nullptr};
  std::vector<std::unique_ptr<IoThread>> threads_;
  ServerEndpoints endpoints_;
  std::string ready_path_;
  bool waited_ = false;
  Status close_status_;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::start(const DaemonConfig& config) {
  KVTIER_RETURN_IF_ERROR(config.validate());
  auto server = std::make_unique<ServerImpl>(config);
  Status s = server->open();
  if (!s.ok()) return s;
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace kvtier::server
