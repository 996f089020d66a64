// The kvtier command: one binary, a subcommand per job.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"kvtier: KV-cache blocks next to the GPUs (DRAM, NVMe)"};
  app.require_subcommand(1);
  kvtier::cli::CommandRunner run;
  kvtier::cli::add_demo_command(app, &run);
  kvtier::cli::add_serve_command(app, &run);
  CLI11_PARSE(app, argc, argv);
  return run ? run() : 2;
}
