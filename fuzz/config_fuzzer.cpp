// libFuzzer target for config files: the daemon's (src/server/server_config_toml.cpp, which reads
// the engine's keys through src/config/) and the embedded store's (parse_store_config_toml).
// Promises: an error with a message, or a config that passed validate() — the readers say only a
// validated config leaves them, so validate() of what they return must be OK again.
#include <filesystem>

#include "fuzz_check.h"
#include "kvtier/config.h"
#include "server/server_config.h"

namespace {

// A relative tenants.token_file is read from the config's directory: an empty one, so a fuzzed
// path finds nothing there.
std::string empty_config_dir() {
  static const std::string dir = [] {
    std::string d = (std::filesystem::temp_directory_path() / "kvtier-config-fuzz").string();
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir + "/kvtierd.toml";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = kvtier::fuzz::as_text(data, size);
  auto daemon = kvtier::server::parse_daemon_config_toml(text, empty_config_dir());
  if (daemon.ok()) {
    kvtier::Status again = daemon.value().validate();
    FUZZ_EXPECT(again.ok(), "returned a daemon config that does not validate: " + again.message());
  } else {
    FUZZ_EXPECT(!daemon.status().message().empty(), "a daemon config error without a message");
  }
  auto store = kvtier::parse_store_config_toml(text);
  if (store.ok()) {
    kvtier::Status again = store.value().validate();
    FUZZ_EXPECT(again.ok(), "returned a store config that does not validate: " + again.message());
  } else {
    FUZZ_EXPECT(!store.status().message().empty(), "a store config error without a message");
  }
  return 0;
}
