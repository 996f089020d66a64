// Disk faults under the real kvtierd on real file systems and block devices: a full disk at start,
// a thinly provisioned device that runs out of space under load (its writes fail), an ext4 the
// kernel remounts read-only after an error, and a device whose every I/O fails with EIO.
// Expected every time: a clear error in the log and the counters, the daemon keeps serving what
// it can (DRAM hits, blocks already on the device), no crash, never a wrong byte.
//
// These need root, loop devices and mount (and device-mapper or FUSE for the EIO test); each
// skips with the reason when the machine does not allow it.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "reliability/reliability_support.h"
#include "support/bindfs_mount.h"
#include "support/test_support.h"

namespace kvtier::testing {
namespace {

using namespace std::chrono_literals;

int shell(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

std::string shell_output(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// An ext4 image of `mib` MiB loop-mounted at <dir>/mnt (image at `image`, default <dir>/ext4.img),
// unmounted at scope exit.
class LoopExt4 {
 public:
  LoopExt4(const std::string& dir, int mib, const std::string& mount_options,
           std::string image = "")
      : image_(image.empty() ? dir + "/ext4.img" : std::move(image)), mnt_(dir + "/mnt") {
    std::filesystem::create_directories(mnt_);
    mounted_ = ::geteuid() == 0 &&
               shell("truncate -s " + std::to_string(mib) + "M " + image_) == 0 &&
               shell("mkfs.ext4 -q -F -O ^has_journal -E nodiscard " + image_) == 0 &&
               shell("mount -o loop," + mount_options + " " + image_ + " " + mnt_) == 0;
  }
  ~LoopExt4() {
    if (mounted_) shell("umount " + mnt_ + " || umount -l " + mnt_);
  }
  bool mounted() const { return mounted_; }
  const std::string& mnt() const { return mnt_; }
  std::string device() const { return shell_output("findmnt -no SOURCE " + mnt_); }
  // ext4's emergency read-only state does not show in statvfs flags: ask by creating a file.
  bool read_only() const {
    int fd = ::open((mnt_ + "/probe").c_str(), O_CREAT | O_WRONLY, 0600);
    if (fd >= 0) {
      ::close(fd);
      ::unlink((mnt_ + "/probe").c_str());
      return false;
    }
    return errno == EROFS;
  }

 private:
  std::string image_, mnt_;
  bool mounted_ = false;
};

#define SKIP_UNLESS_MOUNTED(fs)                                                            \
  if (!(fs).mounted()) GTEST_SKIP() << "needs root, a loop device, mkfs.ext4 and mount " \
                                       "(not allowed on this machine)"

// The default tenant's client on `d`, or a test failure.
std::unique_ptr<Client> client_of(const DaemonProcess& d) {
  auto c = connect_unix(d, "disk-fault-test");
  EXPECT_TRUE(c) << d.log();
  return c;
}

// Writes blocks [from, to); returns how many were acknowledged.
std::uint64_t put_blocks(Client& c, NumberedBlocks& blocks, std::uint64_t from, std::uint64_t to) {
  std::uint64_t acked = 0;
  for (std::uint64_t n = from; n < to; ++n) {
    std::vector<std::byte> v = blocks.value(n);
    if (c.put(blocks.key(n), v).ok()) ++acked;
  }
  return acked;
}

struct ReadBack {
  std::uint64_t intact = 0, missing = 0, wrong = 0, errors = 0;
};

// Reads blocks [from, to): each is byte-exact or a miss.
ReadBack read_blocks(Client& c, NumberedBlocks& blocks, std::uint64_t from, std::uint64_t to) {
  ReadBack r;
  std::vector<std::byte> buf(NumberedBlocks::largest());
  for (std::uint64_t n = from; n < to; ++n) {
    GetResult g = c.get(blocks.key(n), buf);
    if (g.status.ok()) {
      blocks.intact(n, std::span(buf).first(g.size)) ? ++r.intact : ++r.wrong;
    } else {
      g.status.code() == StatusCode::kNotFound ? ++r.missing : ++r.errors;
    }
  }
  return r;
}

// Blocks [from, to) all reported on NVMe by LOOKUP.
bool all_on_nvme(Client& c, NumberedBlocks& blocks, std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t n = from; n < to; ++n) {
    Key k = blocks.key(n);
    Result<PrefixMatch> m = c.lookup(std::span(&k, 1));
    if (!m.ok() || m->in_nvme != 1) return false;
  }
  return true;
}

// How many of blocks [from, to) LOOKUP reports in DRAM.
std::uint64_t count_in_dram(Client& c, NumberedBlocks& blocks, std::uint64_t from, std::uint64_t to) {
  std::uint64_t in_dram = 0;
  for (std::uint64_t n = from; n < to; ++n) {
    Key k = blocks.key(n);
    Result<PrefixMatch> m = c.lookup(std::span(&k, 1));
    if (m.ok() && m->in_dram == 1) ++in_dram;
  }
  return in_dram;
}

// The daemon ended by exiting (any code), not by a signal.
void expect_clean_exit(DaemonProcess& d) {
  int code = d.terminate(60s);
  EXPECT_GE(code, 0) << d.log();
  EXPECT_LT(code, 128) << "kvtierd died of a signal:\n" << d.log();
}

// 2 MiB DRAM so blocks are demoted to NVMe almost at once; the NVMe tier on `device` (a file
// on the faulty filesystem, or a block device with size 0) while the data dir with the log stays
// on a healthy disk, as with a real NVMe drive.
std::string fault_config(const std::string& device, const std::string& size) {
  return "[dram]\ncapacity_bytes = \"2MiB\"\n[nvme]\nregion_size = \"4MiB\"\n"
         "flush_interval_ms = 100\n[[nvme.devices]]\npath = \"" + device + "\"\nsize_bytes = \"" +
         size + "\"\n";
}

// A data dir under `dir` on the healthy disk (0700: the daemon refuses one others can reach).
std::string data_dir_in(const TempDir& dir) {
  std::string p = dir.path() + "/data";
  ::mkdir(p.c_str(), 0700);
  return p;
}

// ENOSPC at start: the NVMe file is reserved whole at open, so a disk too small for it is one
// clear error and a clean exit, not a failed write later.
TEST(DiskFault, FullDiskAtStartIsOneClearError) {
  TempDir dir;
  LoopExt4 fs(dir.path(), 24, "errors=continue");
  SKIP_UNLESS_MOUNTED(fs);
  DaemonProcess d(data_dir_in(dir), fault_config(fs.mnt() + "/nvme.dat", "64MiB"));
  EXPECT_FALSE(d.started());
  const int code = d.wait_exit(30s);
  EXPECT_GT(code, 0) << d.log();
  EXPECT_LT(code, 128) << "kvtierd died of a signal:\n" << d.log();
  EXPECT_NE(d.log().find("No space left on device"), std::string::npos) << d.log();
}

// ENOSPC while running: the data file sits on a filesystem on a loop device whose backing file
// lives on a small tmpfs (a thinly provisioned device): the file was reserved, but the device
// runs out under it and its writes fail. PUTs go on (DRAM), failed regions' entries are dropped,
// the newest blocks are DRAM hits, nothing reads back wrong.
TEST(DiskFault, DeviceOutOfSpaceUnderLoadKeepsServing) {
  TempDir dir;
  const std::string backing = dir.path() + "/backing";
  std::filesystem::create_directories(backing);
  if (::geteuid() != 0 || shell("mount -t tmpfs -o size=16m tmpfs " + backing) != 0) {
    GTEST_SKIP() << "needs root and tmpfs mounts (not allowed on this machine)";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { shell("umount " + path + " || umount -l " + path); }
  } unmount_backing{backing};
  std::unique_ptr<LoopExt4> fs;
  fs = std::make_unique<LoopExt4>(dir.path(), 256, "errors=continue", backing + "/ext4.img");
  SKIP_UNLESS_MOUNTED(*fs);
  NumberedBlocks blocks(71);
  {
    DaemonProcess d(data_dir_in(dir), fault_config(fs->mnt() + "/nvme.dat", "160MiB"));
    ASSERT_TRUE(d.started()) << d.log();
    auto c = client_of(d);
    ASSERT_TRUE(c);
    // ~40 MiB of blocks: more than the 16 MiB tmpfs can take.
    constexpr std::uint64_t kCount = 400;
    EXPECT_EQ(put_blocks(*c, blocks, 0, kCount), kCount);
    ASSERT_TRUE(poll_until(
        [&] { return daemon_metric(*c, "kvtier_nvme_write_errors_total").value_or(0) > 0; }, 30s))
        << d.log();
    ReadBack r = read_blocks(*c, blocks, 0, kCount);
    EXPECT_EQ(r.wrong, 0u);
    EXPECT_EQ(r.errors, 0u);
    EXPECT_GT(r.missing, 0u);  // the entries of failed region writes
    ReadBack newest = read_blocks(*c, blocks, kCount - 8, kCount);  // in DRAM
    EXPECT_EQ(newest.intact, 8u);
    EXPECT_TRUE(c->ping().ok());
    EXPECT_NE(d.log().find("level=error event=nvme_write_failed"), std::string::npos) << d.log();
    c.reset();
    expect_clean_exit(d);
  }
  fs.reset();
}

// Read-only remount: ext4 mounted errors=remount-ro, then an error forced through
// /sys/fs/ext4/<dev>/trigger_fs_error, so the kernel remounts it read-only under the running
// daemon (as after a real metadata error). Blocks already on the device stay readable; new ones
// are served from DRAM; write-outs fail and are counted.
TEST(DiskFault, ReadOnlyRemountKeepsServingWhatIsThere) {
  TempDir dir;
  LoopExt4 fs(dir.path(), 128, "errors=remount-ro");
  SKIP_UNLESS_MOUNTED(fs);
  const std::string trigger =
      "/sys/fs/ext4/" + std::filesystem::path(fs.device()).filename().string() +
      "/trigger_fs_error";
  if (!std::filesystem::exists(trigger)) GTEST_SKIP() << "no " << trigger << " on this kernel";
  NumberedBlocks blocks(72);
  DaemonProcess d(data_dir_in(dir), fault_config(fs.mnt() + "/nvme.dat", "64MiB"));
  ASSERT_TRUE(d.started()) << d.log();
  auto c = client_of(d);
  ASSERT_TRUE(c);
  constexpr std::uint64_t kBefore = 60, kAfter = 60;
  ASSERT_EQ(put_blocks(*c, blocks, 0, kBefore), kBefore);
  // The oldest blocks were demoted; ten flush intervals later they are on the device.
  ASSERT_TRUE(poll_until([&] { return all_on_nvme(*c, blocks, 0, 20); }, 20s));
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(std::ofstream(trigger) << "1\n");
  ASSERT_TRUE(poll_until([&] { return fs.read_only(); }, 10s)) << "the kernel did not remount after " << trigger << ": "
      << shell_output("findmnt -no OPTIONS " + fs.mnt());
  EXPECT_EQ(put_blocks(*c, blocks, kBefore, kBefore + kAfter), kAfter);
  ASSERT_TRUE(poll_until(
      [&] { return daemon_metric(*c, "kvtier_nvme_write_errors_total").value_or(0) > 0; }, 30s))
      << d.log();
  ReadBack old = read_blocks(*c, blocks, 0, 20);
  EXPECT_EQ(old.intact, 20u) << "blocks on the device before the remount must stay readable";
  ReadBack all = read_blocks(*c, blocks, 0, kBefore + kAfter);
  EXPECT_EQ(all.wrong, 0u);
  EXPECT_EQ(all.errors, 0u);
  ReadBack newest = read_blocks(*c, blocks, kBefore + kAfter - 8, kBefore + kAfter);
  EXPECT_EQ(newest.intact, 8u);
  EXPECT_TRUE(c->ping().ok());
  EXPECT_NE(d.log().find("Read-only file system"), std::string::npos) << d.log();
  c.reset();
  expect_clean_exit(d);
}

// A 64 MiB block device that can be made to fail every I/O with EIO, in whichever way the
// machine allows: a loop device over a file on a bindfs FUSE mount whose process is then
// SIGKILLed (tried first: it needs only FUSE and loop devices), or a device-mapper linear target
// whose table is swapped for `error`. In the first, the loop driver's reads and writes of its
// backing file fail and it reports EIO ("I/O error, dev loopN" in the kernel log). The loop device runs with direct I/O on its backing
// file, so no page cache can still answer for the dead mount. path() is empty when neither way is
// available (not root, no loop devices, no device-mapper and no FUSE).
class FailingDevice {
 public:
  explicit FailingDevice(const std::string& dir) {
    if (::geteuid() != 0) return;
    if (BindfsMount::available()) set_up_loop_over_fuse(dir);
    if (path_.empty() && std::filesystem::exists("/dev/mapper/control") && shell("dmsetup version") == 0) {
      set_up_device_mapper(dir);
    }
  }
  ~FailingDevice() {
    if (!dm_name_.empty()) shell("dmsetup remove --retry " + dm_name_);
    if (!loop_.empty()) shell("losetup -d " + loop_);
  }
  FailingDevice(const FailingDevice&) = delete;
  FailingDevice& operator=(const FailingDevice&) = delete;

  const std::string& path() const { return path_; }
  const char* how() const { return dm_name_.empty() ? "loop device over a killed FUSE mount" : "device-mapper error target"; }

  // From now on every read and write of the device fails with EIO.
  bool fail() {
    if (!dm_name_.empty()) {
      return shell("dmsetup suspend --noflush " + dm_name_ + " && dmsetup load " + dm_name_ +
                   " --table '0 " + std::to_string(kSectors) + " error' && dmsetup resume " + dm_name_) == 0;
    }
    fuse_->kill();
    return true;
  }

 private:
  static constexpr std::uint64_t kSectors = 64 * 1024 * 1024 / 512;

  void set_up_device_mapper(const std::string& dir) {
    const std::string image = dir + "/dev.img";
    if (shell("truncate -s 64M " + image) != 0) return;
    loop_ = shell_output("losetup --find --show " + image);
    if (loop_.empty()) return;
    const std::string name = "kvtier-eio-" + std::to_string(::getpid());
    if (shell("dmsetup create " + name + " --table '0 " + std::to_string(kSectors) + " linear " + loop_ + " 0'") != 0) return;
    dm_name_ = name;
    path_ = "/dev/mapper/" + name;
  }

  void set_up_loop_over_fuse(const std::string& dir) {
    std::filesystem::create_directories(dir + "/fuse-source");
    std::filesystem::create_directories(dir + "/fuse");
    fuse_ = std::make_unique<BindfsMount>(dir + "/fuse-source", dir + "/fuse");
    if (!fuse_->mounted()) return;
    const std::string image = dir + "/fuse/dev.img";
    if (shell("truncate -s 64M " + image) != 0) return;
    loop_ = shell_output("losetup --direct-io=on --find --show " + image);
    if (loop_.empty()) return;
    // Without direct I/O the loop driver would read through the page cache of a dead mount.
    const std::string dio = "/sys/block/" + std::filesystem::path(loop_).filename().string() + "/loop/dio";
    std::ifstream flag(dio);
    char on = 0;
    if (!(flag >> on) || on != '1') {
      shell("losetup -d " + loop_);
      loop_.clear();
      return;
    }
    path_ = loop_;
  }

  std::unique_ptr<BindfsMount> fuse_;  // destroyed after the loop device is detached
  std::string loop_, dm_name_, path_;
};

// EIO: the NVMe tier on a FailingDevice. A first daemon writes blocks and stops (SIGTERM seals and
// persists them on the device); a second one restarts warm on the device, takes new blocks into
// DRAM, and then every I/O of the device starts failing. Reads of blocks that only the device
// holds are misses (counted read errors), DRAM hits go on, new writes are acknowledged (their
// write-out fails and is counted), the daemon answers and exits cleanly, nothing reads back wrong.
TEST(DiskFault, EioDeviceReadsAreMissesAndDramServes) {
  TempDir dir;
  FailingDevice device(dir.path());
  if (device.path().empty()) {
    GTEST_SKIP() << "needs root, a loop device and device-mapper or FUSE (bindfs): not here";
  }
  std::printf("EIO from: %s (%s)\n", device.how(), device.path().c_str());
  NumberedBlocks blocks(73);
  constexpr std::uint64_t kOnDevice = 40, kNew = 8;
  {
    DaemonProcess first(data_dir_in(dir), fault_config(device.path(), "0"));
    ASSERT_TRUE(first.started()) << first.log();
    auto c = client_of(first);
    ASSERT_TRUE(c);
    ASSERT_EQ(put_blocks(*c, blocks, 0, kOnDevice), kOnDevice);
    c.reset();
    ASSERT_EQ(first.terminate(60s), 0) << first.log();
  }
  DaemonProcess d(data_dir_in(dir), fault_config(device.path(), "0"));
  ASSERT_TRUE(d.started()) << d.log();
  auto c = client_of(d);
  ASSERT_TRUE(c);
  ASSERT_TRUE(all_on_nvme(*c, blocks, 0, kOnDevice)) << "warm restart from the device";
  ASSERT_EQ(put_blocks(*c, blocks, kOnDevice, kOnDevice + kNew), kNew);
  ASSERT_EQ(count_in_dram(*c, blocks, kOnDevice, kOnDevice + kNew), kNew);
  ASSERT_EQ(count_in_dram(*c, blocks, 0, kOnDevice), 0u);

  ASSERT_TRUE(device.fail());
  ReadBack old = read_blocks(*c, blocks, 0, kOnDevice);
  EXPECT_EQ(old.wrong, 0u);
  EXPECT_EQ(old.errors, 0u);
  EXPECT_EQ(old.missing, kOnDevice) << "reads of a failing device are misses";
  EXPECT_GT(daemon_metric(*c, "kvtier_nvme_read_errors_total").value_or(0), 0.0);
  ReadBack fresh = read_blocks(*c, blocks, kOnDevice, kOnDevice + kNew);
  EXPECT_EQ(fresh.intact, kNew) << "DRAM goes on serving";
  EXPECT_EQ(put_blocks(*c, blocks, kOnDevice + kNew, kOnDevice + kNew + 20), 20u);
  EXPECT_TRUE(c->ping().ok());
  c.reset();
  expect_clean_exit(d);
}

}  // namespace
}  // namespace kvtier::testing
