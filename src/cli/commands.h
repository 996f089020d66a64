// The kvtier command's subcommands. Each add_*_command registers its options on `app` and sets
// *run to the function main() calls when that subcommand was chosen; the function returns the
// process exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace kvtier::cli {

using CommandRunner = std::function<int()>;

void add_demo_command(CLI::App& app, CommandRunner* run);
void add_serve_command(CLI::App& app, CommandRunner* run);

}  // namespace kvtier::cli
