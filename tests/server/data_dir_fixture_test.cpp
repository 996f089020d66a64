// A data directory written by the v1 daemon (issue 26, before the engine is reorganised), kept in
// tests/fixtures/v1/data-dir/: a copy opens with today's daemon and every block it held is read
// back with its bytes, after its clean shutdown (the index checkpoint) and after a crash (the
// checkpoint gone: the regions are scanned).
//
// KVTIER_RECORD_DATA_DIR=PATH writes a new one there instead: only when the on-disk format is
// meant to change (say so in docs/NVME_FORMAT.md).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kvtier/client.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier::testing::data_dir_fixture_test {

namespace fs = std::filesystem;

constexpr int kBlocks = 48;
constexpr std::uint64_t kFirstKey = 260'000;

// Small enough to keep in git: 4 MiB of DRAM, an 8 MiB NVMe file of 1 MiB regions.
std::string fixture_config() {
  return "max_value_bytes = \"64KiB\"\n"
         "[dram]\ncapacity_bytes = \"4MiB\"\n"
         "[nvme]\ndefault_file_bytes = \"8MiB\"\nregion_size = \"1MiB\"\n";
}

// Block i: test_key(kFirstKey + i), 1 KiB to 48 KiB of its pattern.
std::uint64_t size_of(int i) { return 1024 * static_cast<std::uint64_t>(1 + i); }

std::string fixture_dir() { return std::string(KVTIER_SOURCE_DIR) + "/tests/fixtures/v1/data-dir"; }

// What the daemon keeps across restarts: the data dir without the test's own files (log,
// config), the socket or the lock's holder.
void copy_data_dir(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  fs::permissions(to, fs::perms::owner_all, fs::perm_options::replace);
  for (const auto& e : fs::recursive_directory_iterator(from)) {
    const fs::path rel = fs::relative(e.path(), from);
    const std::string name = e.path().filename().string();
    if (name == "kvtierd.log" || name == "test-config.toml" || name == "kvtierd.lock" ||
        e.is_socket()) {
      continue;
    }
    // A git checkout makes files 0644: the daemon's own files are private (0600, 0700).
    if (e.is_directory()) {
      fs::create_directories(to / rel);
      fs::permissions(to / rel, fs::perms::owner_all, fs::perm_options::replace);
    } else if (e.is_regular_file()) {
      fs::copy_file(e.path(), to / rel, fs::copy_options::overwrite_existing);
      fs::permissions(to / rel, fs::perms::owner_read | fs::perms::owner_write,
                      fs::perm_options::replace);
    }
  }
}

std::unique_ptr<Client> connect(const DaemonProcess& d) {
  ClientOptions o;
  o.address = d.unix_address();
  o.timeout = std::chrono::milliseconds(10000);
  auto c = Client::connect(o);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c).value() : nullptr;
}

// How many of the fixture's blocks `d` returns with their bytes; a wrong byte fails the test.
int blocks_read_back(const DaemonProcess& d) {
  auto c = connect(d);
  if (!c) return -1;
  int found = 0;
  for (int i = 0; i < kBlocks; ++i) {
    const Key k = test_key(kFirstKey + i);
    std::vector<std::byte> dst(size_of(i));
    GetResult g = c->get(k, dst);
    if (!g.status.ok()) continue;
    EXPECT_EQ(g.size, size_of(i)) << i;
    EXPECT_TRUE(matches_pattern(std::span(dst).first(g.size), k)) << "block " << i << " wrong";
    ++found;
  }
  return found;
}

TEST(DataDirFixtureV1, OpensWithEveryBlockReadable) {
  if (const char* record = std::getenv("KVTIER_RECORD_DATA_DIR")) {
    TempDir dir;
    {
      DaemonProcess d(dir.path(), fixture_config());
      ASSERT_TRUE(d.started()) << d.log();
      auto c = connect(d);
      ASSERT_TRUE(c);
      for (int i = 0; i < kBlocks; ++i) {
        const Key k = test_key(kFirstKey + i);
        ASSERT_TRUE(c->put(k, pattern(k, size_of(i))).ok()) << i;
      }
      c.reset();
      ASSERT_EQ(d.terminate(), 0) << d.log();
    }
    fs::remove_all(record);
    copy_data_dir(dir.path(), record);
    GTEST_SKIP() << "recorded a v1 data directory into " << record;
  }

  ASSERT_TRUE(fs::exists(fixture_dir())) << "no fixture at " << fixture_dir();
  for (const bool crashed : {false, true}) {
    SCOPED_TRACE(crashed ? "without its checkpoint (a crash)" : "as shut down");
    TempDir dir;
    copy_data_dir(fixture_dir(), dir.path());
    if (crashed) {
      for (const auto& e : fs::recursive_directory_iterator(dir.path())) {
        if (e.path().filename() == "index.ckpt") fs::remove(e.path());
      }
    }
    DaemonProcess d(dir.path(), fixture_config());
    ASSERT_TRUE(d.started()) << d.log();
    EXPECT_EQ(blocks_read_back(d), kBlocks);
  }
}

}  // namespace kvtier::testing::data_dir_fixture_test
