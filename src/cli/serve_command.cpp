// `kvtier serve`: runs kvtierd in the foreground. Embedded defaults (data under ./var/kvtier, Unix
// socket in the data dir, TCP on 127.0.0.1:7420, /metrics on 127.0.0.1:7421), overridden by a
// TOML config file (--config, docs/CONFIG.md), overridden in turn by the flags given.
// SIGTERM or SIGINT: stop accepting, finish in-flight requests, flush, persist the index, exit 0.
// SIGHUP: read the config again and apply what can change while running (Server::reload).
#include <signal.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "config/size_parse.h"
#include "server/fd_limit.h"
#include "server/host_memory.h"
#include "server/server.h"
#include "server/server_config.h"

namespace kvtier::cli {
namespace {

// Flags given on the command line; unset ones leave the config file's (or the default) value.
struct ServeOptions {
  std::string config_file;
  std::optional<std::string> data_dir, unix_socket, tcp_listen, metrics_listen, log_level;
  std::optional<std::string> dram_bytes, nvme_bytes, max_value_bytes;
  std::optional<std::string> shared_fs, shared_redis, shared_s3, shared_s3_bucket;
  std::optional<std::string> shared_azure, shared_azure_container;
  bool shared_redis_cluster = false;
  std::optional<std::uint32_t> io_threads, max_connections;
  bool allow_non_loopback = false;
};

Status apply_size(const std::optional<std::string>& flag, const char* name, std::uint64_t& out) {
  return flag ? parse_flag<parse_byte_size>(name, *flag, out) : Status::Ok();
}

// --shared-fs, --shared-redis, --shared-s3 and --shared-azure pick the shared tier's backend
// (overriding [shared].backend).
Status apply_shared_flags(const ServeOptions& o, SharedTierConfig& shared) {
  if ((o.shared_fs ? 1 : 0) + (o.shared_redis ? 1 : 0) + (o.shared_s3 ? 1 : 0) +
          (o.shared_azure ? 1 : 0) > 1) {
    return Status::InvalidArgument(
        "--shared-fs, --shared-redis, --shared-s3 and --shared-azure: choose one shared tier");
  }
  if (o.shared_azure_container && !o.shared_azure && shared.backend != SharedBackendKind::kAzure) {
    return Status::InvalidArgument("--shared-azure-container goes with --shared-azure");
  }
  if (o.shared_azure) {
    shared.backend = SharedBackendKind::kAzure;
    shared.azure.endpoint = *o.shared_azure;
  }
  if (o.shared_azure_container) shared.azure.container = *o.shared_azure_container;
  if (o.shared_s3_bucket && !o.shared_s3 && shared.backend != SharedBackendKind::kS3) {
    return Status::InvalidArgument("--shared-s3-bucket goes with --shared-s3");
  }
  if (o.shared_s3) {
    shared.backend = SharedBackendKind::kS3;
    shared.s3.endpoint = *o.shared_s3;
  }
  if (o.shared_s3_bucket) shared.s3.bucket = *o.shared_s3_bucket;
  if (o.shared_fs) {
    shared.backend = SharedBackendKind::kFs;
    shared.fs.path = *o.shared_fs;
  }
  if (o.shared_redis) {
    shared.backend = SharedBackendKind::kRedis;
    shared.redis.nodes.clear();
    std::string list = *o.shared_redis;
    for (std::size_t start = 0; start <= list.size();) {
      std::size_t comma = std::min(list.find(',', start), list.size());
      if (comma > start) shared.redis.nodes.push_back(list.substr(start, comma - start));
      start = comma + 1;
    }
  }
  if (o.shared_redis_cluster) shared.redis.cluster = true;
  return Status::Ok();
}

Result<server::DaemonConfig> build_config(const ServeOptions& o) {
  server::DaemonConfig c = server::DaemonConfig::defaults();
  if (!o.config_file.empty()) {
    Result<server::DaemonConfig> file = server::load_daemon_config_file(o.config_file);
    if (!file.ok()) return file.status();
    c = std::move(file).value();
  }
  if (o.data_dir) c.store.data_dir = *o.data_dir;
  if (o.unix_socket) c.server.unix_socket = *o.unix_socket;
  if (o.tcp_listen) c.server.tcp_listen = *o.tcp_listen;
  if (o.metrics_listen) c.server.metrics_listen = *o.metrics_listen;
  if (o.log_level) c.server.log_level = *o.log_level;
  if (o.io_threads) c.server.io_threads = *o.io_threads;
  if (o.max_connections) c.server.max_connections = *o.max_connections;
  if (o.allow_non_loopback) c.server.allow_non_loopback = true;
  KVTIER_RETURN_IF_ERROR(apply_size(o.dram_bytes, "--dram-bytes", c.store.dram.capacity_bytes));
  KVTIER_RETURN_IF_ERROR(apply_size(o.nvme_bytes, "--nvme-bytes", c.store.nvme.default_file_bytes));
  KVTIER_RETURN_IF_ERROR(apply_size(o.max_value_bytes, "--max-value-bytes", c.store.max_value_bytes));
  KVTIER_RETURN_IF_ERROR(apply_shared_flags(o, c.store.shared));
  KVTIER_RETURN_IF_ERROR(c.validate());
  return c;
}

int run_serve(const ServeOptions& o) {
  Result<server::DaemonConfig> config = build_config(o);
  if (!config.ok()) return command_error("serve", config.status().message(), 2);
  setup_logging(config->server.log_level);
  // A config the descriptor limit cannot hold cannot run here: a config error, as one that does
  // not parse (Server::start checks it again for other embedders).
  if (Result<std::uint64_t> fds = server::ensure_fd_limit(server::fds_needed(config->server));
      !fds.ok()) {
    return command_error("serve", fds.status().message(), 2);
  }
  // A DRAM tier the machine cannot hold is refused the same way (server/host_memory.h).
  if (Result<server::HostMemory> host = server::read_host_memory(); host.ok()) {
    std::string warning;
    Status fits = server::check_dram_against_host(config->store.dram.capacity_bytes, *host, &warning);
    if (!fits.ok()) return command_error("serve", fits.message(), 2);
    if (!warning.empty()) spdlog::warn("event=dram_over_available msg=\"{}\"", warning);
  }
  // Signals are taken by sigwait below: block them before any thread starts, so every thread
  // inherits the mask and none is interrupted. Writes to a closed socket fail with EPIPE
  // (MSG_NOSIGNAL), but SIGPIPE is ignored too in case a library writes without it.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Result<std::unique_ptr<server::Server>> server = server::Server::start(*config);
  if (!server.ok()) {
    spdlog::error("event=start_failed error=\"{}\"", server.status().to_string());
    return command_error("serve", server.status().to_string(),
                         server.status().code() == StatusCode::kBusy ? 4 : 1);
  }
  spdlog::info("event=ready pid={} data_dir={}", ::getpid(), config->store.data_dir);
  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    // Reload: the config file read again, with the same command-line overrides. A config that
    // does not parse or validate changes nothing; the daemon goes on with what it has.
    spdlog::info("event=signal signal=SIGHUP msg=\"reloading {}\"",
                 o.config_file.empty() ? "(no config file: the flags)" : o.config_file);
    Result<server::DaemonConfig> fresh = build_config(o);
    Status reloaded = fresh.ok() ? (*server)->reload(*fresh) : fresh.status();
    if (!reloaded.ok()) {
      spdlog::error("event=reload_failed error=\"{}\" msg=\"still serving with the previous "
                    "config\"",
                    reloaded.to_string());
    }
  }
  spdlog::info("event=signal signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->stop();
  Status closed = (*server)->wait();
  if (!closed.ok()) {
    spdlog::error("event=stopped error=\"{}\"", closed.to_string());
    return 1;
  }
  spdlog::info("event=stopped msg=\"flushed, index persisted\"");
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, CommandRunner* run) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "run the kvtier daemon (kvtierd) in the foreground; SIGTERM stops it cleanly");
  cmd->add_option("--config", o->config_file, "TOML daemon config (docs/CONFIG.md); flags override it");
  cmd->add_option("--data-dir", o->data_dir, "where kvtier keeps its files (default ./var/kvtier)");
  cmd->add_option("--unix-socket", o->unix_socket,
                  "Unix socket path, or \"off\" (default <data-dir>/kvtierd.sock)");
  cmd->add_option("--tcp-listen", o->tcp_listen,
                  "TCP HOST:PORT, or \"off\" (default 127.0.0.1:7420; port 0 picks one)");
  cmd->add_option("--metrics-listen", o->metrics_listen,
                  "HTTP /metrics HOST:PORT, or \"off\" (default 127.0.0.1:7421)");
  cmd->add_flag("--allow-non-loopback", o->allow_non_loopback,
                "allow listening on addresses other than loopback");
  cmd->add_option("--io-threads", o->io_threads, "event-driven I/O threads (default 2)");
  cmd->add_option("--max-connections", o->max_connections, "connections at once (default 1024)");
  cmd->add_option("--dram-bytes", o->dram_bytes, "DRAM tier capacity, e.g. 8GiB (default 1GiB)");
  cmd->add_option("--nvme-bytes", o->nvme_bytes,
                  "size of the NVMe data file under the data dir, e.g. 100GiB; 0 disables "
                  "(default 4GiB)");
  cmd->add_option("--max-value-bytes", o->max_value_bytes, "largest value a PUT may carry (default 256MiB)");
  cmd->add_option("--shared-fs", o->shared_fs,
                  "shared tier on a shared directory (an NFS, CephFS, ... mount) shared by every node");
  cmd->add_option("--shared-redis", o->shared_redis,
                  "shared tier on Redis / Valkey: host:port[,host:port...]");
  cmd->add_flag("--shared-redis-cluster", o->shared_redis_cluster,
                "the --shared-redis nodes are a Redis Cluster");
  cmd->add_option("--shared-s3", o->shared_s3,
                  "shared tier in an S3 bucket, blocks packed into segments: the endpoint URL "
                  "(http://host:port); credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
                  "or ~/.aws/credentials");
  cmd->add_option("--shared-s3-bucket", o->shared_s3_bucket, "the bucket of --shared-s3");
  cmd->add_option("--shared-azure", o->shared_azure,
                  "shared tier in an Azure Blob container, blocks packed into segments: the "
                  "account's blob endpoint URL; account and credential from AZURE_STORAGE_ACCOUNT "
                  "and AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN");
  cmd->add_option("--shared-azure-container", o->shared_azure_container,
                  "the container of --shared-azure");
  cmd->add_option("--log-level", o->log_level, "debug, info, warn or error (default info)");
  cmd->callback([o, run] { *run = [o] { return run_serve(*o); }; });
}

// Logs go to stderr as logfmt lines: ts=... level=... event=... key=value. Every command logs
// this way (the tiers log through spdlog's default logger, which would otherwise print to stdout,
// among a command's own output); `serve` sets the level of its config.
void setup_logging(const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>("kvtierd",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level == "warn" ? "warning" : level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace kvtier::cli
