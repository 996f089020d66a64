// `kvtier plan`: the sizing planner (docs/PLAN.md). Two subcommands, each in its own file:
//   kvtier plan kv     (plan_kv_command.cpp): KV bytes per token of a model, write rates, DRAM and
//                      NVMe per GPU, load-versus-recompute per tier;
//   kvtier plan fleet  (plan_fleet_command.cpp): what a shared capacity (1 EB by default) costs on
//                      each deployment shape of data/shapes.toml.
#include "cli/commands.h"

namespace kvtier::cli {

void add_plan_command(CLI::App& app, CommandRunner* run) {
  CLI::App* plan = app.add_subcommand("plan", "Size the GPU-adjacent tier and compare shared-capacity costs");
  plan->require_subcommand(1);
  add_plan_kv_command(*plan, run);
  add_plan_fleet_command(*plan, run);
}

}  // namespace kvtier::cli
