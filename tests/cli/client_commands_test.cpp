// `kvtier put` and `kvtier get` against a real kvtierd: `put --durable` is answered once the
// value would survive the daemon's SIGKILL, and does (issue 27: the CLI exposes durable puts).
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "support/child_process.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier::client_commands {
namespace {

using testing::run_kvtier;

TEST(ClientCommands, ADurablePutSurvivesASigkillOfTheDaemon) {
  testing::TempDir dir;
  // No open-region writer: a put without --durable stays in memory until a region fills.
  testing::DaemonProcess daemon(dir.path(), testing::small_daemon_config("flush_interval_ms = 0\n"));
  ASSERT_TRUE(daemon.started()) << daemon.log();
  const std::string value_file = dir.file("value");
  std::ofstream(value_file) << std::string(70000, 'v');
  const std::string durable_key = testing::test_key(1).hex(), plain_key = testing::test_key(2).hex();
  const std::string address = daemon.unix_address();
  auto put = run_kvtier({"put", durable_key, value_file, "--durable", "--address", address});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  put = run_kvtier({"put", plain_key, value_file, "--address", address});
  ASSERT_EQ(put.exit_code, 0) << put.err;

  daemon.kill_now();
  ASSERT_TRUE(daemon.start()) << daemon.log();
  auto got = run_kvtier({"get", durable_key, "--address", daemon.unix_address()});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(got.out, std::string(70000, 'v'));
  // Without the flag the value was only in memory: the kill took it (so the test can tell).
  got = run_kvtier({"get", plain_key, "--address", daemon.unix_address()});
  EXPECT_EQ(got.exit_code, 1) << got.out << got.err;
}

TEST(ClientCommands, ADurablePutWhereTheDaemonHasNoNvmeTierFailsClearly) {
  testing::TempDir dir;
  testing::DaemonProcess daemon(dir.path(),
                                "[dram]\ncapacity_bytes = \"64MiB\"\n[nvme]\ndefault_file_bytes = 0\n");
  ASSERT_TRUE(daemon.started()) << daemon.log();
  const std::string value_file = dir.file("value");
  std::ofstream(value_file) << "bytes";
  auto put = run_kvtier({"put", testing::test_key(1).hex(), value_file, "--durable", "--address",
                         daemon.unix_address()});
  EXPECT_EQ(put.exit_code, 3) << put.out;  // a failed operation (src/cli/commands.h)
  EXPECT_NE(put.err.find("durable"), std::string::npos) << put.err;
}

}  // namespace
}  // namespace kvtier::client_commands
