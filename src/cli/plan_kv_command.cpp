// `kvtier plan kv`: being written (issue 5); registers the subcommand so `kvtier plan` builds.
#include <cstdio>

#include "cli/commands.h"

namespace kvtier::cli {

void add_plan_kv_command(CLI::App& plan, CommandRunner* run) {
  CLI::App* cmd = plan.add_subcommand("kv", "(not yet available)");
  cmd->callback([run] {
    *run = [] {
      std::fprintf(stderr, "kvtier plan kv: not yet available in this build\n");
      return 1;
    };
  });
}

}  // namespace kvtier::cli
