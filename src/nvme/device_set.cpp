// Opening, preallocating and formatting the NVMe tier's devices.
#include "nvme/device_set.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>

#include <spdlog/spdlog.h>

#include "integrity/checksum.h"
#include "memory/aligned_buffer.h"
#include "nvme/format.h"
#include "posix/durable_file.h"

namespace kvtier::nvme {
namespace {

// <data_dir>/nvme/format-id: this prefix and the format id in hex on the first line, then the
// path of each device of the set, a line each.
constexpr std::string_view kFormatIdPrefix = "kvtier-nvme-format-id ";
constexpr std::size_t kMaxFormatIdBytes = 64 * 1024;

// A device's path as format-id records it: absolute, so the same device configured through a
// relative and an absolute data directory is one path.
std::string recorded_path(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

std::string hex_id(std::uint64_t id) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(id));
  return hex;
}

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
  const std::filesystem::path dir = std::filesystem::path(data_dir) / "nvme";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir.string() + ": " + ec.message());
  set->format_id_path_ = (dir / "format-id").string();
  KVTIER_RETURN_IF_ERROR(set->open_devices(config, data_dir));
  KVTIER_RETURN_IF_ERROR(set->read_or_format(config));
  return set;
}

// Opens the devices that exist and sizes every device, creating and extending nothing: a start
// that is refused leaves the files as it found them (prepare_files does that once accepted).
Status DeviceSet::open_devices(const NvmeConfig& config, const std::string& data_dir) {
  std::vector<NvmeDeviceConfig> wanted = config.devices;
  if (wanted.empty()) {
    wanted.push_back({(std::filesystem::path(data_dir) / "nvme" / "kvtier-nvme.dat").string(),
                      config.default_file_bytes});
  }
  for (const NvmeDeviceConfig& want : wanted) {
    devices_.push_back(Device{.path = want.path});  // closed by the destructor from here on
    Device& d = devices_.back();
    struct stat st {};
    const bool exists = ::stat(want.path.c_str(), &st) == 0;
    if (!exists && errno != ENOENT) return Status::FromErrno("cannot stat " + want.path, errno);
    const bool block_device = exists && S_ISBLK(st.st_mode);
    if (exists) {
      d.fd = ::open(want.path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
      if (d.fd < 0) return Status::FromErrno("cannot open " + want.path + " with O_DIRECT", errno);
      KVTIER_RETURN_IF_ERROR(lock_device(d.fd, d.path));
    }
    if (block_device) {
      std::uint64_t size = 0;
      if (::ioctl(d.fd, BLKGETSIZE64, &size) != 0) return Status::FromErrno("BLKGETSIZE64 " + d.path, errno);
      d.bytes = want.size_bytes ? std::min<std::uint64_t>(want.size_bytes, size) : size;
      d.found_bytes = d.bytes;
    } else {
      if (want.size_bytes == 0) {
        return Status::InvalidArgument("nvme device " + want.path + ": size_bytes is required for a file");
      }
      d.bytes = want.size_bytes;
      d.found_bytes = exists ? static_cast<std::uint64_t>(st.st_size) : 0;
      d.created = d.found_bytes == 0;
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

// Creates the device files that are missing and extends the short ones, with blocks reserved.
Status DeviceSet::prepare_files() {
  for (Device& d : devices_) {
    if (d.fd < 0) {
      d.fd = ::open(d.path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC | O_CREAT | O_EXCL, 0600);
      if (d.fd < 0) return Status::FromErrno("cannot create " + d.path + " with O_DIRECT", errno);
      KVTIER_RETURN_IF_ERROR(lock_device(d.fd, d.path));
    }
    if (d.found_bytes < d.bytes) KVTIER_RETURN_IF_ERROR(reserve_file(d.fd, d.path, d.bytes));
  }
  return Status::Ok();
}

Result<DeviceSet::FoundDevice> DeviceSet::read_superblock(std::size_t i) const {
  const Device& d = devices_[i];
  if (d.fd < 0 || d.found_bytes < kPageSize) return FoundDevice{Found::kZero};
  AlignedBuffer page(kPageSize);
  if (page.empty()) return Status::NoSpace("no memory to read the superblock of " + d.path);
  ssize_t n = ::pread(d.fd, page.data(), kPageSize, 0);
  if (n != static_cast<ssize_t>(kPageSize)) {
    return Status::FromErrno("cannot read the superblock of " + d.path, n < 0 ? errno : EIO);
  }
  Superblock sb;
  std::memcpy(&sb, page.data(), sizeof sb);
  if (sb.magic != kSuperblockMagic || sb.checksum != superblock_checksum(sb)) {
    return FoundDevice{all_zero(page.span()) ? Found::kZero : Found::kForeign};
  }
  FoundDevice f{Found::kOurs, sb.format_id, sb.device_index, sb.device_count, sb.format_version};
  if (sb.format_version < kOldestReadableFormat || sb.format_version > kNvmeFormatVersion) {
    f.found = Found::kOtherFormat;
  } else if (sb.device_count != devices_.size() || sb.region_size != region_size_ ||
             sb.region_count != d.regions || sb.device_bytes != d.bytes) {
    f.found = Found::kGeometry;
  } else if (sb.device_index != i) {
    f.found = Found::kMisplaced;
  }
  return f;
}

std::string DeviceSet::damage(const std::vector<FoundDevice>& found,
                              const std::optional<Claim>& claimed) const {
  // A device the set had is gone when format-id lists its path, or when a device of the set
  // (this data directory's) says the set has as many devices as are configured now: an added
  // device is new, a replaced one is not.
  const bool same_count = std::ranges::any_of(found, [&](const FoundDevice& f) {
    return f.found != Found::kZero && f.found != Found::kForeign && claimed &&
           f.format_id == claimed->format_id && f.device_count == devices_.size();
  });
  std::string what;
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    const Device& d = devices_[i];
    const FoundDevice& f = found[i];
    std::string why;
    if (f.found == Found::kZero) {
      const bool listed =
          claimed && std::ranges::find(claimed->paths, recorded_path(d.path)) != claimed->paths.end();
      if (!d.created) {
        if (claimed) why = "has a zeroed superblock";
      } else if (listed || same_count) {
        why = "is missing or empty";
      }
    } else if (f.found == Found::kForeign) {
      if (claimed) why = "does not start with a kvtier superblock";
    } else if (f.found == Found::kMisplaced) {
      why = "is device " + std::to_string(f.device_index) + " of its set but listed as device " +
            std::to_string(i) + " (list nvme.devices in the order they were formatted)";
    } else if (!claimed) {
      // No record of this directory's set: a kvtier set this start would destroy.
      if (f.found != Found::kOurs) {
        why = "holds a kvtier device set (format id " + hex_id(f.format_id) +
              ") of another geometry or format version";
      }
    } else if (f.format_id != claimed->format_id) {
      why = "holds another kvtier device set (format id " + hex_id(f.format_id) + ", not " +
            hex_id(claimed->format_id) + " that " + format_id_path_ +
            " records; if that set is this node's, move that file away to use it)";
    } else if (f.found == Found::kOtherFormat) {
      why = "holds another format version";
    }
    if (!why.empty()) what += (what.empty() ? "" : "; ") + d.path + " " + why;
  }
  return what;
}

Status DeviceSet::read_or_format(const NvmeConfig& config) {
  Result<std::optional<Claim>> claim = read_format_id();
  if (!claim.ok()) return claim.status();
  const std::optional<Claim>& claimed = *claim;
  std::vector<FoundDevice> found;
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    Result<FoundDevice> f = read_superblock(i);
    if (!f.ok()) return f.status();
    found.push_back(*f);
  }
  const bool all_ours = std::ranges::all_of(found, [&](const FoundDevice& f) {
    return f.found == Found::kOurs && f.format_id == found.front().format_id;
  });
  if (all_ours && (!claimed || claimed->format_id == found.front().format_id)) {
    format_id_ = found.front().format_id;
    for (const Device& d : devices_) {
      if (d.found_bytes < d.bytes) {
        spdlog::warn("event=nvme_device_truncated path=\"{}\" bytes={} expected={} "
                     "lost=\"the entries past the end\" recovery=scan",
                     d.path, d.found_bytes, d.bytes);
        needs_scan_ = true;
      }
    }
    KVTIER_RETURN_IF_ERROR(prepare_files());
    KVTIER_RETURN_IF_ERROR(raise_format_version(found));
    // Written when missing, and again when the devices' paths changed, so it names them.
    if (claimed && claimed->paths == paths()) return Status::Ok();
    return write_format_id();
  }
  for (std::size_t i = 0; i < devices_.size(); ++i) {
    if (found[i].found == Found::kForeign && !config.format_foreign_devices) {
      return Status::InvalidArgument(devices_[i].path + " does not start with a kvtier superblock (it "
                                     "may hold other data); set nvme.format_foreign_devices = true "
                                     "to format it");
    }
  }
  const std::string lost = damage(found, claimed);
  if (!lost.empty() && !config.reformat_damaged) {
    return Status::Corruption("the NVMe tier's devices cannot be used as they are: " + lost +
                              ". Nothing was changed. Restore or reorder the devices, or set "
                              "nvme.reformat_damaged = true to start the tier empty (every block "
                              "on them is lost)");
  }
  const bool first_start = !claimed && std::ranges::all_of(found, [](const FoundDevice& f) {
    return f.found == Found::kZero;
  });
  if (!first_start) {
    // A changed geometry of this directory's set, or an accepted damage: said as a warning.
    spdlog::warn("event=nvme_reformat reason=\"{}\" discarded=\"every block of the NVMe tier\"",
                 lost.empty() ? "the configured geometry (devices, sizes, region_size) changed"
                              : "nvme.reformat_damaged: " + lost);
  }
  KVTIER_RETURN_IF_ERROR(prepare_files());
  format_id_ = random_u64();
  freshly_formatted_ = true;
  KVTIER_RETURN_IF_ERROR(write_superblocks());
  return write_format_id();
}

// A set of an older format this build reads is raised to the current format before anything of
// the current format is written to it, so that a build that knows only the older one refuses it
// instead of misreading records it does not know (tombstones would be taken for damage, and the
// removed blocks served again).
Status DeviceSet::raise_format_version(const std::vector<FoundDevice>& found) {
  const std::uint32_t oldest = std::ranges::min_element(found, {}, &FoundDevice::format_version)->format_version;
  if (oldest == kNvmeFormatVersion) return Status::Ok();
  KVTIER_RETURN_IF_ERROR(write_superblocks());
  spdlog::info("event=nvme_format_raised from={} to={} kept=\"every block\"", oldest, kNvmeFormatVersion);
  return Status::Ok();
}

std::vector<std::string> DeviceSet::paths() const {
  std::vector<std::string> out;
  for (const Device& d : devices_) out.push_back(recorded_path(d.path));
  return out;
}

Result<std::optional<DeviceSet::Claim>> DeviceSet::read_format_id() const {
  Result<std::vector<std::byte>> raw = read_regular_file(format_id_path_, kMaxFormatIdBytes);
  if (!raw.ok()) {
    if (raw.status().is_not_found()) return std::optional<Claim>();
    return raw.status();
  }
  std::string_view text(reinterpret_cast<const char*>(raw->data()), raw->size());
  Claim c;
  std::size_t eol = text.find('\n');
  std::string_view first = text.substr(0, eol);
  auto [end, ec] = std::from_chars(first.data() + std::min(first.size(), kFormatIdPrefix.size()),
                                   first.data() + first.size(), c.format_id, 16);
  if (!first.starts_with(kFormatIdPrefix) || ec != std::errc() || end != first.data() + first.size() ||
      c.format_id == 0 || eol == std::string_view::npos) {
    return Status::Corruption(format_id_path_ + " is not kvtier's record of the NVMe format; move it away");
  }
  for (text.remove_prefix(eol + 1); !text.empty();) {
    eol = text.find('\n');
    c.paths.emplace_back(text.substr(0, eol));
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
  }
  return std::optional<Claim>(std::move(c));
}

Status DeviceSet::write_format_id() const {
  std::string text = std::string(kFormatIdPrefix) + hex_id(format_id_) + "\n";
  for (const std::string& path : paths()) text += path + "\n";
  return replace_file_durably(format_id_path_,
                              {reinterpret_cast<const std::byte*>(text.data()), text.size()}, 0600);
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
