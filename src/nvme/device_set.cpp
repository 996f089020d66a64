// Opening, preallocating and formatting the NVMe tier's devices.
#include "nvme/device_set.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "integrity/checksum.h"
#include "memory/aligned_buffer.h"
#include "nvme/format.h"

namespace kvtier::nvme {
namespace {

std::uint64_t random_u64() {
  std::random_device rd;
  std::uint64_t v = (std::uint64_t{rd()} << 32) ^ rd();
  return v ? v : 1;
}

std::uint64_t superblock_checksum(const Superblock& sb) {
  return block_checksum({reinterpret_cast<const std::byte*>(&sb), offsetof(Superblock, checksum)});
}

bool all_zero(std::span<const std::byte> b) {
  for (std::byte x : b) {
    if (x != std::byte{0}) return false;
  }
  return true;
}

// Makes the file at least `bytes` long with blocks reserved, so a full disk shows up now as a
// clear error instead of later as a failed write.
Status reserve_file(int fd, const std::string& path, std::uint64_t bytes) {
  int rc = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  if (rc == EOPNOTSUPP || rc == EINVAL) {
    if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) rc = errno; else rc = 0;
  }
  if (rc != 0) {
    return Status::FromErrno("cannot reserve " + std::to_string(bytes) + " bytes for " + path, rc);
  }
  return Status::Ok();
}

// Two stores writing one device would destroy each other's data: one owner at a time. The lock
// goes away with its owner however it ends, but a killed owner's io_uring is torn down
// asynchronously and holds the file a few milliseconds longer, so a busy lock is retried briefly.
Status lock_device(int fd, const std::string& path) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return Status::Ok();
    if (errno != EWOULDBLOCK) return Status::FromErrno("flock " + path, errno);
    ::usleep(20000);
  }
  return Status::Busy(path + " is in use by another kvtier store");
}

}  // namespace

DeviceSet::~DeviceSet() {
  for (Device& d : devices_) {
    if (d.fd >= 0) ::close(d.fd);
  }
}

Result<std::unique_ptr<DeviceSet>> DeviceSet::open(const NvmeConfig& config,
                                                   const std::string& data_dir) {
  std::unique_ptr<DeviceSet> set(new DeviceSet());
  set->region_size_ = config.region_size;
  bool created_any = false;
  KVTIER_RETURN_IF_ERROR(set->open_devices(config, data_dir, &created_any));
  KVTIER_RETURN_IF_ERROR(set->read_or_format(config.format_foreign_devices, created_any));
  return set;
}

Status DeviceSet::open_devices(const NvmeConfig& config, const std::string& data_dir,
                               bool* created_any) {
  std::vector<NvmeDeviceConfig> wanted = config.devices;
  if (wanted.empty()) {
    std::filesystem::path dir = std::filesystem::path(data_dir) / "nvme";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::IOError("cannot create " + dir.string() + ": " + ec.message());
    wanted.push_back({(dir / "kvtier-nvme.dat").string(), config.default_file_bytes});
  }
  for (const NvmeDeviceConfig& want : wanted) {
    Device dev;
    dev.path = want.path;
    struct stat st {};
    bool exists = ::stat(want.path.c_str(), &st) == 0;
    bool block_device = exists && S_ISBLK(st.st_mode);
    dev.fd = ::open(want.path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC | (block_device ? 0 : O_CREAT), 0600);
    if (dev.fd < 0) return Status::FromErrno("cannot open " + want.path + " with O_DIRECT", errno);
    devices_.push_back(dev);  // closed by the destructor from here on
    Device& d = devices_.back();
    KVTIER_RETURN_IF_ERROR(lock_device(d.fd, d.path));
    if (block_device) {
      std::uint64_t size = 0;
      if (::ioctl(d.fd, BLKGETSIZE64, &size) != 0) return Status::FromErrno("BLKGETSIZE64 " + d.path, errno);
      d.bytes = want.size_bytes ? std::min<std::uint64_t>(want.size_bytes, size) : size;
    } else {
      if (want.size_bytes == 0) {
        return Status::InvalidArgument("nvme device " + want.path + ": size_bytes is required for a file");
      }
      d.bytes = want.size_bytes;
      if (!exists || st.st_size == 0) *created_any = true;
      if (static_cast<std::uint64_t>(st.st_size) < d.bytes || !exists) {
        KVTIER_RETURN_IF_ERROR(reserve_file(d.fd, d.path, d.bytes));
      }
    }
    if (d.bytes < kPageSize + region_size_) {
      return Status::InvalidArgument("nvme device " + d.path + " (" + std::to_string(d.bytes) +
                                     " bytes) holds no region of " + std::to_string(region_size_) + " bytes");
    }
    d.first_region = static_cast<std::uint32_t>(region_device_.size());
    d.regions = static_cast<std::uint32_t>((d.bytes - kPageSize) / region_size_);
    for (std::uint32_t r = 0; r < d.regions; ++r) {
      region_device_.push_back(static_cast<std::uint32_t>(devices_.size() - 1));
    }
  }
  if (region_device_.size() < 2) {
    return Status::InvalidArgument("the nvme tier needs at least 2 regions; it has " +
                                   std::to_string(region_device_.size()));
  }
  return Status::Ok();
}

Status DeviceSet::read_or_format(bool format_foreign, bool created_any) {
  AlignedBuffer page(kPageSize);
  bool all_ours = true;
  std::uint64_t format_id = 0;
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    const Device& d = devices_[i];
    ssize_t n = ::pread(d.fd, page.data(), kPageSize, 0);
    if (n != static_cast<ssize_t>(kPageSize)) {
      return Status::FromErrno("cannot read the superblock of " + d.path, n < 0 ? errno : EIO);
    }
    Superblock sb;
    std::memcpy(&sb, page.data(), sizeof sb);
    bool valid = sb.magic == kSuperblockMagic && sb.checksum == superblock_checksum(sb);
    bool matches = valid && sb.format_version == kNvmeFormatVersion && sb.device_index == i &&
                   sb.device_count == devices_.size() && sb.region_size == region_size_ &&
                   sb.region_count == d.regions && sb.device_bytes == d.bytes &&
                   (format_id == 0 || sb.format_id == format_id);
    if (matches) {
      format_id = sb.format_id;
      continue;
    }
    all_ours = false;
    bool foreign = !valid && !all_zero(page.span());
    if (foreign && !format_foreign && !created_any) {
      return Status::InvalidArgument(d.path + " does not start with a kvtier superblock (it may hold other "
                                     "data); set nvme.format_foreign_devices = true to format it");
    }
  }
  if (all_ours) {
    format_id_ = format_id;
    return Status::Ok();
  }
  format_id_ = random_u64();
  freshly_formatted_ = true;
  return write_superblocks();
}

Status DeviceSet::write_superblocks() {
  AlignedBuffer page(kPageSize);
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    const Device& d = devices_[i];
    std::memset(page.data(), 0, kPageSize);
    Superblock sb{};
    sb.magic = kSuperblockMagic;
    sb.format_version = kNvmeFormatVersion;
    sb.device_index = static_cast<std::uint32_t>(i);
    sb.device_count = static_cast<std::uint32_t>(devices_.size());
    sb.region_size = region_size_;
    sb.region_count = d.regions;
    sb.device_bytes = d.bytes;
    sb.format_id = format_id_;
    sb.checksum = superblock_checksum(sb);
    std::memcpy(page.data(), &sb, sizeof sb);
    ssize_t n = ::pwrite(d.fd, page.data(), kPageSize, 0);
    if (n != static_cast<ssize_t>(kPageSize)) {
      return Status::FromErrno("cannot write the superblock of " + d.path, n < 0 ? errno : EIO);
    }
  }
  return sync();
}

DeviceExtent DeviceSet::locate(std::uint32_t region, std::uint64_t offset_in_region) const {
  const Device& d = devices_[region_device_[region]];
  return {d.fd, kPageSize + std::uint64_t{region - d.first_region} * region_size_ + offset_in_region};
}

IoRequest DeviceSet::io(std::uint32_t region, std::uint64_t offset_in_region,
                        std::span<std::byte> bytes, bool write) const {
  const DeviceExtent ext = locate(region, offset_in_region);
  IoRequest q;
  q.fd = ext.fd;
  q.offset = ext.offset;
  q.write = write;
  q.iov[0] = {bytes.data(), bytes.size()};
  q.iov_count = 1;
  return q;
}

Status DeviceSet::sync() const {
  for (const Device& d : devices_) {
    if (::fdatasync(d.fd) != 0) return Status::FromErrno("fdatasync " + d.path, errno);
  }
  return Status::Ok();
}

}  // namespace kvtier::nvme
