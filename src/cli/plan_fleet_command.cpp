// `kvtier plan fleet`: being written (issue 5); registers the subcommand so `kvtier plan` builds.
#include <cstdio>

#include "cli/commands.h"

namespace kvtier::cli {

void add_plan_fleet_command(CLI::App& plan, CommandRunner* run) {
  CLI::App* cmd = plan.add_subcommand("fleet", "(not yet available)");
  cmd->callback([run] {
    *run = [] {
      std::fprintf(stderr, "kvtier plan fleet: not yet available in this build\n");
      return 1;
    };
  });
}

}  // namespace kvtier::cli
