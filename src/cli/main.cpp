// The kvtier command: subcommands for people at a terminal.
#include <CLI/CLI.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  CLI::App app{"kvtier: KV-cache blocks next to the GPUs"};
  app.require_subcommand(1);
  CLI::App* demo = app.add_subcommand("demo", "replay a chat workload through the engine");
  std::string data_dir = "./var";
  demo->add_option("--data-dir", data_dir, "where kvtier keeps its files");
  CLI11_PARSE(app, argc, argv);
  std::fprintf(stderr, "kvtier demo: work in progress\n");
  return 1;
}
