// Every damaged or unexpected state of the NVMe tier's part of the data directory either recovers
// with a warning of what was lost or refuses to start with an error naming it; nothing is
// reformatted silently unless nvme.reformat_damaged says a fresh start is acceptable (issue 27,
// docs/NVME_FORMAT.md, "Opening a device set"). Real files, real O_DIRECT devices.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "memory/aligned_buffer.h"
#include "nvme/nvme_tier.h"
#include "support/child_process.h"
#include "support/test_support.h"

namespace kvtier::nvme::data_dir_damage {
namespace {

using kvtier::testing::matches_pattern;
using kvtier::testing::pattern;
using kvtier::testing::TempDir;
using kvtier::testing::test_key;

constexpr std::size_t kValue = 300 * kKiB;  // three to a 1 MiB region
constexpr std::uint64_t kBlocks = 12;       // regions 0..3

NvmeConfig small_config() {
  NvmeConfig c;
  c.region_size = 1 * kMiB;
  c.default_file_bytes = kPageSize + 12 * c.region_size;
  c.write_io_bytes = 256 * kKiB;
  c.io_depth = 4;
  c.index_shards = 4;
  return c;
}

std::string data_file(const TempDir& dir) { return dir.file("nvme/kvtier-nvme.dat"); }

// A tier of `c` with kBlocks blocks, closed cleanly (its checkpoint written).
void write_blocks_with(const NvmeConfig& c, const std::string& dir) {
  auto t = NvmeTier::open(c, dir);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  for (std::uint64_t i = 0; i < kBlocks; ++i) {
    std::vector<std::byte> v = pattern(test_key(i), kValue);
    ASSERT_TRUE((*t)->put({0, test_key(i)}, v).ok());
  }
  ASSERT_TRUE((*t)->close().ok());
}

void write_blocks(const std::string& dir) { write_blocks_with(small_config(), dir); }

bool reads_back(NvmeTier& t, std::uint64_t i) {
  AlignedBuffer buf(kValue);
  GetResult r = t.get({0, test_key(i)}, buf.span());
  return r.status.ok() && r.size == kValue && matches_pattern(buf.span().first(kValue), test_key(i));
}

void expect_refused(const Result<std::unique_ptr<NvmeTier>>& t, std::string_view names,
                    std::string_view says) {
  ASSERT_FALSE(t.ok()) << "opened a damaged data directory";
  EXPECT_NE(t.status().message().find(names), std::string::npos) << t.status().to_string();
  EXPECT_NE(t.status().message().find(says), std::string::npos) << t.status().to_string();
}

void overwrite(const std::string& path, std::uint64_t offset, std::size_t n, char byte) {
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  std::string bytes(n, byte);
  ASSERT_EQ(::pwrite(fd, bytes.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
  ::close(fd);
}

// In this process from now on, io_uring_setup fails with ENOSYS (as under a seccomp profile that
// forbids io_uring): the tier's device reads cannot start.
void forbid_io_uring() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    ::_exit(90);
  }
}

// A start that fails half-way (here: the crash scan cannot read the devices) must leave the data
// directory as it found it. It used to write the checkpoint of its empty index on the way out,
// and the next start trusted that checkpoint: every block lost (audit of 2026-12-07).
TEST(DataDirDamage, AStartThatFailsHalfWayLeavesNothingTheNextStartTrusts) {
  TempDir dir;
  std::unique_ptr<NvmeTier> open_tier;  // the child keeps it open through the kill
  const std::string crashed = testing::in_child_then_sigkill([&]() -> std::string {
    auto t = NvmeTier::open(small_config(), dir.path());
    if (!t.ok()) return t.status().to_string();
    open_tier = std::move(t).value();
    for (std::uint64_t i = 0; i < kBlocks; ++i) {
      std::vector<std::byte> v = pattern(test_key(i), kValue);
      if (!open_tier->put({0, test_key(i)}, v).ok()) return "put";
    }
    return open_tier->flush().ok() ? "ok" : "flush";  // then killed: no close(), no checkpoint
  });
  ASSERT_EQ(crashed, "ok");
  const std::string failed = testing::in_child([&]() -> std::string {
    forbid_io_uring();
    auto t = NvmeTier::open(small_config(), dir.path());
    return t.ok() ? "the start succeeded without io_uring" : "ok";
  });
  ASSERT_EQ(failed, "ok");
  EXPECT_FALSE(std::filesystem::exists(dir.file("nvme/index.ckpt")));
  auto t = NvmeTier::open(small_config(), dir.path());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ((*t)->recovery_info().mode, RecoveryMode::kScan);
  for (std::uint64_t i = 0; i < kBlocks; ++i) EXPECT_TRUE(reads_back(**t, i)) << i;
}

TEST(DataDirDamage, TheDataDirectoryAsAFileIsRefused) {
  TempDir dir;
  const std::string not_a_dir = dir.file("data");
  std::ofstream(not_a_dir) << "not a directory";
  auto t = NvmeTier::open(small_config(), not_a_dir);
  expect_refused(t, not_a_dir, "cannot create");
}

TEST(DataDirDamage, ADirectoryWhereTheCheckpointBelongsIsRefusedNotRemoved) {
  TempDir dir;
  write_blocks(dir.path());
  const std::string ckpt = dir.file("nvme/index.ckpt");
  std::filesystem::remove(ckpt);
  std::filesystem::create_directories(ckpt + "/inside");
  auto t = NvmeTier::open(small_config(), dir.path());
  expect_refused(t, ckpt, "move away");
  EXPECT_TRUE(std::filesystem::is_directory(ckpt + "/inside"));  // nothing of it deleted
  // Moved away, the tier recovers every block from the devices.
  std::filesystem::remove_all(ckpt);
  auto again = NvmeTier::open(small_config(), dir.path());
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ((*again)->recovery_info().mode, RecoveryMode::kScan);
  for (std::uint64_t i = 0; i < kBlocks; ++i) EXPECT_TRUE(reads_back(**again, i)) << i;
}

TEST(DataDirDamage, ADirectoryWhereTheDataFileBelongsIsRefused) {
  TempDir dir;
  std::filesystem::create_directories(data_file(dir));
  auto t = NvmeTier::open(small_config(), dir.path());
  expect_refused(t, data_file(dir), "Is a directory");
}

TEST(DataDirDamage, AnEmptyDirectoryIsAFreshFirstStart) {
  TempDir dir;
  auto t = NvmeTier::open(small_config(), dir.path());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ((*t)->recovery_info().mode, RecoveryMode::kFresh);
  EXPECT_TRUE(std::filesystem::is_regular_file(dir.file("nvme/format-id")));
}

TEST(DataDirDamage, AZeroedSuperblockIsRefusedUnlessAFreshStartIsAccepted) {
  TempDir dir;
  write_blocks(dir.path());
  overwrite(data_file(dir), 0, kPageSize, '\0');
  expect_refused(NvmeTier::open(small_config(), dir.path()), data_file(dir), "zeroed superblock");
  NvmeConfig accept = small_config();
  accept.reformat_damaged = true;
  auto t = NvmeTier::open(accept, dir.path());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ((*t)->recovery_info().mode, RecoveryMode::kFresh);
  EXPECT_EQ((*t)->entry_count(), 0u);
}

TEST(DataDirDamage, ADeletedDataFileIsRefusedUnlessAFreshStartIsAccepted) {
  TempDir dir;
  write_blocks(dir.path());
  std::filesystem::remove(data_file(dir));
  expect_refused(NvmeTier::open(small_config(), dir.path()), data_file(dir), "missing or empty");
  // A refused start creates nothing: a second one refuses the same way.
  EXPECT_FALSE(std::filesystem::exists(data_file(dir)));
  expect_refused(NvmeTier::open(small_config(), dir.path()), data_file(dir), "missing or empty");
  NvmeConfig accept = small_config();
  accept.reformat_damaged = true;
  auto t = NvmeTier::open(accept, dir.path());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ((*t)->recovery_info().mode, RecoveryMode::kFresh);
}

// format-id records absolute paths: the same data directory spelled relatively is the same set,
// so its deleted file is still refused, not taken for a new device.
TEST(DataDirDamage, ADeletedDataFileIsRefusedWhateverTheDataDirectorysSpelling) {
  TempDir dir;
  write_blocks(dir.path());
  std::filesystem::remove(data_file(dir));
  const std::filesystem::path cwd = std::filesystem::current_path();
  std::filesystem::current_path(std::filesystem::path(dir.path()).parent_path());
  const std::string relative = std::filesystem::path(dir.path()).filename().string();
  auto t = NvmeTier::open(small_config(), relative);
  std::filesystem::current_path(cwd);
  expect_refused(t, "kvtier-nvme.dat", "missing or empty");
}

TEST(DataDirDamage, ATruncatedDataFileKeepsWhatIsLeftAndRebuildsTheIndex) {
  TempDir dir;
  write_blocks(dir.path());
  // Regions 2 and 3 (blocks 6..11) are cut off; the checkpoint still lists them.
  ASSERT_EQ(::truncate(data_file(dir).c_str(), static_cast<off_t>(kPageSize + 2 * kMiB)), 0);
  auto t = NvmeTier::open(small_config(), dir.path());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ((*t)->recovery_info().mode, RecoveryMode::kScan);
  for (std::uint64_t i = 0; i < 6; ++i) EXPECT_TRUE(reads_back(**t, i)) << i;
  for (std::uint64_t i = 6; i < kBlocks; ++i) {
    EXPECT_FALSE((*t)->contains({0, test_key(i)})) << i;
  }
}

TEST(DataDirDamage, AForeignFileIsNeverFormattedWithoutBeingAllowed) {
  TempDir dir;
  write_blocks(dir.path());
  overwrite(data_file(dir), 0, kPageSize, 'x');  // someone's data where the superblock was
  NvmeConfig accept = small_config();
  accept.reformat_damaged = true;  // a fresh start is fine, formatting someone's data is not
  expect_refused(NvmeTier::open(accept, dir.path()), data_file(dir), "format_foreign_devices");
  accept.format_foreign_devices = true;
  auto t = NvmeTier::open(accept, dir.path());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ((*t)->recovery_info().mode, RecoveryMode::kFresh);
}

TEST(DataDirDamage, AnotherSetsDevicesAreRefused) {
  TempDir dir, other;
  write_blocks(dir.path());
  write_blocks(other.path());
  std::filesystem::copy_file(other.file("nvme/kvtier-nvme.dat"), data_file(dir),
                             std::filesystem::copy_options::overwrite_existing);
  expect_refused(NvmeTier::open(small_config(), dir.path()), data_file(dir),
                 "another kvtier device set");
}

// Two devices listed in the other order are not a new geometry: refused (a block device's name
// can change across a reboot), and listed as formatted they open with every block.
TEST(DataDirDamage, DevicesListedInAnotherOrderAreRefusedNotReformatted) {
  TempDir dir;
  NvmeConfig ab = small_config();
  ab.devices = {{dir.file("a.dat"), 6 * kMiB + kPageSize}, {dir.file("b.dat"), 6 * kMiB + kPageSize}};
  write_blocks_with(ab, dir.path());
  NvmeConfig ba = ab;
  std::swap(ba.devices[0], ba.devices[1]);
  expect_refused(NvmeTier::open(ba, dir.path()), dir.file("b.dat"), "in the order they were formatted");
  auto t = NvmeTier::open(ab, dir.path());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  for (std::uint64_t i = 0; i < kBlocks; ++i) EXPECT_TRUE(reads_back(**t, i)) << i;
}

// A device moved to another path is recorded there, so its later loss is told apart from a
// device added to the config: the rest of the set is not reformatted.
TEST(DataDirDamage, AMovedDeviceIsRecordedAndItsLaterLossRefused) {
  TempDir dir;
  NvmeConfig c = small_config();
  c.devices = {{dir.file("a.dat"), 6 * kMiB + kPageSize}, {dir.file("m1.dat"), 6 * kMiB + kPageSize}};
  write_blocks_with(c, dir.path());
  std::filesystem::rename(dir.file("m1.dat"), dir.file("m2.dat"));
  c.devices[1].path = dir.file("m2.dat");
  {
    auto t = NvmeTier::open(c, dir.path());
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_EQ((*t)->entry_count(), kBlocks);
  }
  std::filesystem::remove(dir.file("m2.dat"));
  expect_refused(NvmeTier::open(c, dir.path()), dir.file("m2.dat"), "missing or empty");
}

// Without a record of its own (a first start), a directory does not destroy a kvtier device set
// it finds: someone's tier, formatted with another geometry.
TEST(DataDirDamage, AFirstStartDoesNotReformatAnotherDirectorysSet) {
  TempDir dir, other;
  NvmeConfig c = small_config();
  c.devices = {{dir.file("shared.dat"), 12 * kMiB + kPageSize}};
  write_blocks_with(c, other.path());  // other's set, on a device outside both directories
  NvmeConfig bigger = c;
  bigger.region_size = 2 * kMiB;
  expect_refused(NvmeTier::open(bigger, dir.path()), dir.file("shared.dat"), "another geometry");
}

TEST(DataDirDamage, AFormatIdThatIsNotKvtiersIsRefused) {
  TempDir dir;
  write_blocks(dir.path());
  std::ofstream(dir.file("nvme/format-id")) << "hello\n";
  expect_refused(NvmeTier::open(small_config(), dir.path()), "format-id", "move it away");
}

TEST(DataDirDamage, AChangedGeometryIsReformattedNotRefused) {
  TempDir dir;
  write_blocks(dir.path());
  NvmeConfig bigger = small_config();
  bigger.region_size = 2 * kMiB;
  auto t = NvmeTier::open(bigger, dir.path());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ((*t)->recovery_info().mode, RecoveryMode::kFresh);
}

TEST(DataDirDamage, ADeviceAddedToTheConfigIsNewNotDamage) {
  TempDir dir;
  write_blocks(dir.path());
  NvmeConfig two = small_config();
  two.devices.push_back({data_file(dir), two.default_file_bytes});
  two.devices.push_back({dir.file("nvme/second.dat"), two.default_file_bytes});
  auto t = NvmeTier::open(two, dir.path());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ((*t)->recovery_info().mode, RecoveryMode::kFresh);
}

}  // namespace
}  // namespace kvtier::nvme::data_dir_damage
