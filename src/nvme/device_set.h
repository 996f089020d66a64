// DeviceSet: the files or block devices of the NVMe tier, opened with O_DIRECT, seen as one array
// of equally sized regions. Owns the superblocks: formats a new set, recognises its own set on
// reopen, and refuses to format a device that holds something else unless told to.
//
// Thread-safety: immutable after open(); every method may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kvtier/config.h"
#include "kvtier/status.h"
#include "nvme/io_ring.h"

namespace kvtier::nvme {

struct DeviceExtent {
  int fd;
  std::uint64_t offset;  // byte offset in the device
};

class DeviceSet {
 public:
  // Opens every device of `config` (or the default file under data_dir), creating and
  // preallocating files. A full disk is NoSpace naming the path and size.
  //
  // <data_dir>/nvme/format-id records the format id once a format is on the devices, so damage
  // to them is told apart from a first start (docs/NVME_FORMAT.md, "Opening a device set"): with
  // it present, a device that is missing, empty, zeroed or of another format is Corruption naming
  // the device and what is lost, unless config.reformat_damaged; a changed geometry is
  // reformatted with a warning; a truncated file is kept (its lost regions read as empty) and
  // needs_scan() says the checkpoint cannot be trusted.
  static Result<std::unique_ptr<DeviceSet>> open(const NvmeConfig& config, const std::string& data_dir);
  ~DeviceSet();
  DeviceSet(const DeviceSet&) = delete;
  DeviceSet& operator=(const DeviceSet&) = delete;

  std::uint32_t region_count() const { return static_cast<std::uint32_t>(region_device_.size()); }
  std::uint64_t region_size() const { return region_size_; }
  std::uint64_t pages_per_region() const { return region_size_ / 4096; }
  // Random per format; stamped into every entry and summary so data from an earlier format (or
  // another set) is never taken for ours.
  std::uint64_t format_id() const { return format_id_; }
  // True when open() formatted the set (fresh files, changed geometry): there is nothing to recover.
  bool freshly_formatted() const { return freshly_formatted_; }
  // A device was shorter than its superblock says (truncated): the index must be rebuilt from
  // what the devices hold, not from a checkpoint.
  bool needs_scan() const { return needs_scan_; }

  // Where byte `offset_in_region` of region `region` is.
  DeviceExtent locate(std::uint32_t region, std::uint64_t offset_in_region) const;
  // The I/O of `bytes` (4 KiB-aligned) at `offset_in_region` of `region`: a read, or a write with
  // `write`. More buffers may be added to iov[] after the first.
  IoRequest io(std::uint32_t region, std::uint64_t offset_in_region, std::span<std::byte> bytes,
               bool write = false) const;

  // fdatasync on every device.
  Status sync() const;

 private:
  DeviceSet() = default;
  struct Device {
    std::string path;
    int fd = -1;
    std::uint64_t bytes = 0;
    std::uint32_t first_region = 0;
    std::uint32_t regions = 0;
    bool created = false;           // a file missing or empty at this open (fd -1 if missing)
    std::uint64_t found_bytes = 0;  // its size at this open (before prepare_files)
  };
  // What a device's first page says, against the configured geometry.
  enum class Found : std::uint8_t {
    kOurs,         // this geometry, at its place in the set
    kMisplaced,    // this geometry, but formatted as another device of the set
    kGeometry,     // another geometry (sizes, region_size, device count)
    kOtherFormat,  // a format version this build does not read
    kZero,         // zeros (or no file, or an empty one)
    kForeign,      // not a kvtier superblock: maybe someone's data
  };
  struct FoundDevice {
    Found found;
    std::uint64_t format_id = 0;  // of a valid superblock
    std::uint32_t device_index = 0, device_count = 0;
    std::uint32_t format_version = 0;
  };
  // What <data_dir>/nvme/format-id records: the set's format id and its devices' absolute paths.
  struct Claim {
    std::uint64_t format_id = 0;
    std::vector<std::string> paths;
  };
  Status open_devices(const NvmeConfig& config, const std::string& data_dir);
  Status prepare_files();
  Result<FoundDevice> read_superblock(std::size_t i) const;
  Status read_or_format(const NvmeConfig& config);
  // What forbids formatting the set without nvme.reformat_damaged, device by device (empty: a
  // first start, or a changed geometry of this directory's own set, reformatted with a warning).
  std::string damage(const std::vector<FoundDevice>& found, const std::optional<Claim>& claimed) const;
  // The devices' paths as format-id records them (absolute).
  std::vector<std::string> paths() const;
  // nullopt when the file does not exist; Corruption when it is not kvtier's.
  Result<std::optional<Claim>> read_format_id() const;
  Status write_format_id() const;
  Status write_superblocks();
  Status raise_format_version(const std::vector<FoundDevice>& found);

  std::vector<Device> devices_;
  std::vector<std::uint32_t> region_device_;  // region -> index in devices_
  std::uint64_t region_size_ = 0;
  std::uint64_t format_id_ = 0;
  bool freshly_formatted_ = false;
  bool needs_scan_ = false;
  std::string format_id_path_;  // <data_dir>/nvme/format-id
};

}  // namespace kvtier::nvme
