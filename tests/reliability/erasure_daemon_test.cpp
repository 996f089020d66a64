// nvme.erase_removed through kvtierd (issue 27): a tenant puts blocks (most go down to NVMe: 1 MiB
// of DRAM), replaces some, reads some back up, then removes every block. Once the REMOVEs are
// answered, and again once the daemon has stopped, no page of any version is left in the NVMe
// file. Without the option the same run leaves many: the bytes a tenant removed stayed readable.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reliability/reliability_support.h"
#include "support/device_pages.h"
#include "support/test_support.h"

namespace kvtier::testing::erasure_daemon {

constexpr std::uint64_t kBlocks = 160;
constexpr std::size_t kSize = 64 * 1024;

std::vector<std::byte> value(std::uint64_t n, std::uint64_t v) { return pattern(test_key(n), kSize, v); }

// Runs the tenant's life on a fresh daemon; returns the pages of its values left in the file.
std::size_t pages_left(bool erase) {
  TempDir dir;
  DaemonProcess d(dir.path(), std::string("[dram]\ncapacity_bytes = \"1MiB\"\nshards = 4\n"
                                          "[nvme]\ndefault_file_bytes = \"32MiB\"\nregion_size = \"2MiB\"\n"
                                          "flush_interval_ms = 50\nerase_removed = ") +
                                  (erase ? "true" : "false") + "\n");
  EXPECT_TRUE(d.started()) << d.log();
  if (!d.started()) return 0;
  auto c = connect_unix(d, "erasure");
  EXPECT_TRUE(c) << d.log();
  if (!c) return 0;
  PageSet all;
  for (std::uint64_t n = 0; n < kBlocks; ++n) {
    all.add(value(n, 0));
    EXPECT_TRUE(c->put(test_key(n), value(n, 0)).ok());
  }
  std::vector<std::byte> buf(kSize);
  for (std::uint64_t n = 0; n < kBlocks; n += 4) {
    all.add(value(n, 1));
    EXPECT_TRUE(c->put(test_key(n), value(n, 1)).ok());  // replaced, the older one mostly on NVMe
    EXPECT_TRUE(c->get(test_key(n + 1), buf).status.ok());  // promoted: a copy in DRAM and on NVMe
  }
  EXPECT_GT(daemon_metric(*c, "kvtier_nvme_inserts_total").value_or(0), kBlocks / 2) << "NVMe was not used";
  for (std::uint64_t n = 0; n < kBlocks; ++n) EXPECT_TRUE(c->remove(test_key(n)).ok()) << n;
  const std::string file = (std::filesystem::path(dir.path()) / "nvme" / "kvtier-nvme.dat").string();
  if (erase) {
    EXPECT_GT(daemon_metric(*c, "kvtier_nvme_erased_bytes_total").value_or(0), 0);
    // No region was reclaimed (the values fill a third of the file), so every copy the tier wrote
    // was one it held: already gone once the REMOVEs were answered, before any region is written again.
    EXPECT_EQ(daemon_metric(*c, "kvtier_nvme_regions_reclaimed_total").value_or(-1), 0);
    EXPECT_EQ(all.count_in(file), 0u) << "while the daemon runs";
  }
  c.reset();
  EXPECT_EQ(d.terminate(), 0) << d.log();
  return all.count_in(file);
}

TEST(ErasureThroughTheDaemon, ATenantThatRemovedEveryBlockLeavesNoPageOfItInTheNvmeFile) {
  EXPECT_EQ(pages_left(true), 0u);
  EXPECT_GT(pages_left(false), 0u) << "without erasure the test shows nothing";
}

}  // namespace kvtier::testing::erasure_daemon
