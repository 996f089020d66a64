// The kvtier command: one binary, a subcommand per job.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"

int kvtier::cli::command_error(std::string_view command, std::string_view message, int exit_code) {
  std::fprintf(stderr, "kvtier %.*s: %.*s\n", static_cast<int>(command.size()), command.data(),
               static_cast<int>(message.size()), message.data());
  return exit_code;
}

int main(int argc, char** argv) {
  CLI::App app{"kvtier: KV-cache blocks next to the GPUs (DRAM, NVMe)"};
  app.require_subcommand(1);
  kvtier::cli::setup_logging("warn");
  kvtier::cli::CommandRunner run;
  kvtier::cli::add_demo_command(app, &run);
  kvtier::cli::add_serve_command(app, &run);
  kvtier::cli::add_put_command(app, &run);
  kvtier::cli::add_get_command(app, &run);
  kvtier::cli::add_lookup_command(app, &run);
  kvtier::cli::add_ping_command(app, &run);
  kvtier::cli::add_stat_command(app, &run);
  kvtier::cli::add_plan_command(app, &run);
  kvtier::cli::add_bench_command(app, &run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; any other parse error is a usage error, exit 2 like the subcommands' own
    // argument checks (CLI11's codes 100..114 would each mean something different).
    return app.exit(e) == 0 ? 0 : 2;
  }
  return run ? run() : 2;
}
