// `kvtier stat`: kvtierd's metrics for a person, as a compact table (stat_report.h): requests per
// op with rates and p50/p99, hit ratio per tier, bytes and GB/s, evictions, rejections,
// connections, queues, tenants. The text comes over the protocol (STATS, the same flags and
// environment as the other client commands) or, with --url, from the HTTP /metrics endpoint.
//
//   kvtier stat [--url http://127.0.0.1:7421/metrics [--metrics-token-file F] [--ca-file F]]
//               [--watch [SECONDS]] [--count N] [--raw]
//
// --watch refreshes every SECONDS (default 2): rates, ratios and latencies are then over each
// interval. On a terminal the screen is redrawn; otherwise each table follows the previous one
// after a blank line, so the output can be logged. --count bounds the number of tables.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cli/client_flags.h"
#include "cli/commands.h"
#include "kvtier/client.h"
#include "scrape/metrics_url_fetch.h"
#include "scrape/prometheus_parse.h"
#include "server/token_file.h"
#include "scrape/stat_report.h"

namespace kvtier::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct StatOptions {
  ClientFlags client;
  std::string url;
  std::string metrics_token_file;  // the bearer token for --url
  std::string ca_file;             // a CA bundle for an https --url
  double watch_seconds = 0;  // 0: one table
  std::uint32_t count = 0;   // 0: one table, or unbounded with --watch
  bool raw = false;
};

// Where the metrics come from: one Client kept across refreshes (reconnected after an error,
// so a watch survives a daemon restart), or the HTTP endpoint.
class MetricsSource {
 public:
  explicit MetricsSource(const StatOptions& o) : o_(o) {}

  std::string describe() const {
    if (!o_.url.empty()) return o_.url;
    Result<ClientOptions> options = client_options_from(o_.client, "kvtier stat");
    return options.ok() ? options->address : "kvtierd";
  }

  // The metrics text, or nullopt after printing why not (and setting *exit_code).
  std::optional<std::string> fetch(int* exit_code) {
    if (!o_.url.empty()) {
      MetricsFetch fetch{o_.url, std::chrono::milliseconds(o_.client.timeout_ms), "",
                                  o_.ca_file};
      if (!o_.metrics_token_file.empty()) {
        Result<std::string> token = server::read_private_token_file(o_.metrics_token_file);
        if (!token.ok()) {
          *exit_code = command_error("stat", token.status().message(), kExitUsage);
          return std::nullopt;
        }
        fetch.bearer_token = std::move(token).value();
      }
      Result<std::string> body = fetch_metrics_url(fetch);
      if (!body.ok()) {
        *exit_code = command_error("stat", body.status().message(),
                                   check_metrics_url(o_.url).ok() ? kExitFailure : kExitUsage);
        return std::nullopt;
      }
      return std::move(body).value();
    }
    if (!client_) {
      client_ = connect_or_report(o_.client, "stat", exit_code);
      if (!client_) return std::nullopt;
    }
    Result<std::string> text = client_->stats();
    if (!text.ok()) {
      *exit_code = command_error("stat", text.status().to_string(), kExitFailure);
      client_.reset();  // a failed call closes the connection: connect again next time
      return std::nullopt;
    }
    return std::move(text).value();
  }

 private:
  const StatOptions& o_;
  std::unique_ptr<Client> client_;
};

std::string wall_clock_now() {
  std::time_t t = std::time(nullptr);
  std::tm local{};
  localtime_r(&t, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
  return buf;
}

int run_stat(const StatOptions& o) {
  // --count N alone means a watch at the default interval (N tables are not one table).
  const double interval = o.watch_seconds > 0 ? o.watch_seconds : (o.count > 1 ? 2.0 : 0.0);
  const bool watch = interval > 0;
  const std::uint32_t tables = o.count > 0 ? o.count : (watch ? 0 : 1);  // 0: until interrupted
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  MetricsSource source(o);
  const std::string where = source.describe();
  std::optional<ParsedMetrics> previous;
  Clock::time_point previous_at;
  int last_failure = kExitOk;
  bool any_shown = false;
  for (std::uint32_t i = 0; tables == 0 || i < tables; ++i) {
    const Clock::time_point started = Clock::now();
    int code = kExitOk;
    std::optional<std::string> text = source.fetch(&code);
    std::string out;
    if (text) {
      if (o.raw) {
        out = *text;
      } else {
        Result<ParsedMetrics> parsed = parse_prometheus_text(*text);
        if (!parsed.ok()) {
          code = command_error("stat", "the daemon's metrics did not parse: " +
                                           parsed.status().message(), kExitFailure);
        } else {
          double seconds = std::chrono::duration<double>(started - previous_at).count();
          out = "kvtier stat: " + where + " at " + wall_clock_now() + "\n" +
                render_stat_report(*parsed, previous ? &*previous : nullptr, seconds);
          previous = std::move(parsed).value();
          previous_at = started;
        }
      }
    }
    if (code != kExitOk) {
      if (code == kExitUsage || !watch) return code;  // a watch keeps trying after an error
      last_failure = code;
    } else {
      if (tty && watch) {
        std::fputs("\x1b[H\x1b[2J", stdout);  // home, clear: redraw in place
      } else if (any_shown) {
        std::fputs("\n", stdout);
      }
      std::fputs(out.c_str(), stdout);
      std::fflush(stdout);
      any_shown = true;
      last_failure = kExitOk;
    }
    if (!watch || (tables != 0 && i + 1 >= tables)) break;
    std::this_thread::sleep_until(started + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(interval)));
  }
  return last_failure;
}

}  // namespace

void add_stat_command(CLI::App& app, CommandRunner* run) {
  auto o = std::make_shared<StatOptions>();
  CLI::App* cmd = app.add_subcommand(
      "stat", "show kvtierd's metrics as a table: requests, latency, hit ratios, bytes, "
              "rejections (--watch refreshes)");
  cmd->add_option("--url", o->url,
                  "read the HTTP /metrics endpoint instead of asking over the protocol, e.g. "
                  "http://127.0.0.1:7421/metrics (or https://)");
  cmd->add_option("--metrics-token-file", o->metrics_token_file,
                  "with --url: a file (mode 0600) holding the bearer token /metrics requires")
      ->check(CLI::ExistingFile);
  cmd->add_option("--ca-file", o->ca_file, "with an https --url: trust this CA bundle")
      ->check(CLI::ExistingFile);
  cmd->add_option("--watch", o->watch_seconds,
                  "refresh every SECONDS (default 2); rates and latencies are then per interval")
      ->expected(0, 1)
      ->default_str("2")
      ->check(CLI::Range(0.05, 86400.0));
  cmd->add_option("--count", o->count, "stop after N tables (default: 1, or unbounded with --watch; "
                  "N > 1 alone watches every 2 s)")
      ->check(CLI::Range(1u, 1000000000u));
  cmd->add_flag("--raw", o->raw, "print the Prometheus text as received instead of the table");
  add_client_flags(cmd, &o->client);
  cmd->callback([o, run] { *run = [o] { return run_stat(*o); }; });
}

}  // namespace kvtier::cli
