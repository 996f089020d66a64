// The kvtier command's subcommands. Each add_*_command registers its options on `app` and sets
// *run to the function main() calls when that subcommand was chosen; the function returns the
// process exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <string_view>

#include "kvtier/status.h"

namespace kvtier::cli {

// Exit codes of every subcommand (docs/CLI.md): scripts tell a miss from a usage error from a
// failure without parsing messages.
inline constexpr int kExitOk = 0;
inline constexpr int kExitMiss = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitFailure = 3;

using CommandRunner = std::function<int()>;

// Prints "kvtier <command>: <message>" on stderr, as every subcommand reports what stopped it, and
// returns `exit_code`.
int command_error(std::string_view command, std::string_view message, int exit_code);

// InvalidArgument "<flag>: <why>", for a flag whose value was refused.
inline Status flag_error(std::string_view flag, const Status& why) {
  return Status::InvalidArgument(std::string(flag) + ": " + why.message());
}

// `text` read by Parse (a function returning a Result) into `out`; an error names the flag.
template <auto Parse, typename T>
Status parse_flag(std::string_view flag, const std::string& text, T& out) {
  auto v = Parse(text);
  if (!v.ok()) return flag_error(flag, v.status());
  out = *v;
  return Status::Ok();
}

// spdlog's default logger to stderr, logfmt, at `level` ("debug", "info", "warn", "error").
void setup_logging(const std::string& level);

void add_demo_command(CLI::App& app, CommandRunner* run);
void add_serve_command(CLI::App& app, CommandRunner* run);
// Client subcommands (client_commands.cpp); their shared flags are in client_flags.h.
void add_put_command(CLI::App& app, CommandRunner* run);
void add_get_command(CLI::App& app, CommandRunner* run);
void add_lookup_command(CLI::App& app, CommandRunner* run);
void add_ping_command(CLI::App& app, CommandRunner* run);
// `kvtier stat` (stat_command.cpp): the daemon's metrics as a table, over the protocol or HTTP.
void add_stat_command(CLI::App& app, CommandRunner* run);
// `kvtier plan` (plan_command.cpp) and its subcommands `plan kv` and `plan fleet`.
void add_plan_command(CLI::App& app, CommandRunner* run);
void add_plan_kv_command(CLI::App& plan, CommandRunner* run);
void add_plan_fleet_command(CLI::App& plan, CommandRunner* run);
// `kvtier bench` (bench_command.cpp): a workload or trace against a running kvtierd.
void add_bench_command(CLI::App& app, CommandRunner* run);

}  // namespace kvtier::cli
