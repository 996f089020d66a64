// Configuration of the storage engine. One struct per component; every field states its default.
// Only a config whose validate() returned OK reaches a constructor (Store::open checks).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "kvtier/status.h"

namespace kvtier {

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

struct DramConfig {
  // Bytes of values the DRAM tier may hold. 0 disables the tier. Default: 1 GiB.
  std::uint64_t capacity_bytes = 1 * kGiB;
  // Index shards (power of two). Default: 16.
  std::uint32_t shards = 16;
  // S3-FIFO small-queue share of the capacity. Default: 0.10 (the S3-FIFO paper's value).
  double small_queue_fraction = 0.10;
  // At most this share of the capacity may be pinned. Default: 0.5.
  double max_pinned_fraction = 0.5;
  // Longest lease a pin may ask for. Default: 10 minutes.
  std::chrono::milliseconds max_lease{10 * 60 * 1000};

  Status validate() const;
};

enum class ReclaimPolicy : std::uint8_t {
  kFifo,  // reclaim the region sealed longest ago
  kLru,   // reclaim the region read least recently
};

struct NvmeDeviceConfig {
  // A regular file (created if missing) or a block device.
  std::string path;
  // Bytes of the file to use; 0 means the block device's size. A file is preallocated to this size.
  std::uint64_t size_bytes = 0;
};

struct NvmeConfig {
  // Devices; empty means one file "<data_dir>/nvme/kvtier-nvme.dat" of default_file_bytes.
  std::vector<NvmeDeviceConfig> devices;
  // Size of the file created when `devices` is empty. 0 disables the tier. Default: 4 GiB.
  std::uint64_t default_file_bytes = 4 * kGiB;
  // Unit of allocation and reclaim; a multiple of 4 KiB. The largest value the tier holds is
  // region_size minus its 4 KiB entry header and the region summary. Default: 64 MiB.
  std::uint64_t region_size = 64 * kMiB;
  // In-memory region buffers that writes are appended to before they go to the device (>= 2 so
  // one fills while another is written). Default: 2.
  std::uint32_t write_buffers = 2;
  // Size of one device I/O when a region buffer is written out. Default: 1 MiB.
  std::uint64_t write_io_bytes = 1 * kMiB;
  // I/Os in flight per region write or read batch. Default: 8.
  std::uint32_t io_depth = 8;
  // Which sealed region is reclaimed when none is free. Default: FIFO.
  ReclaimPolicy reclaim = ReclaimPolicy::kFifo;
  // Entries read at least this many times since written are reinserted when their region is
  // reclaimed; 0 disables reinsertion. Default: 1.
  std::uint32_t reinsert_min_hits = 1;
  // Admission write budget in MB/s (10^6 bytes) to protect SSD endurance; 0 = unlimited. Puts
  // beyond the budget are rejected (a cache miss later), never queued. Default: 0.
  double write_budget_mb_s = 0;
  // Burst allowed above the budget, in seconds of budget. Default: 1.
  double write_budget_burst_s = 1.0;
  // Index shards (power of two). Default: 64.
  std::uint32_t index_shards = 64;
  // Format a device whose first block is not a kvtier superblock (it may hold someone's data).
  // Files kvtier creates itself are always formatted. Default: false.
  bool format_foreign_devices = false;

  Status validate() const;
};

struct StoreConfig {
  // Where kvtier keeps its files (NVMe data file by default, index checkpoint). Default: ./var
  std::string data_dir = "./var";
  // Largest value accepted by put. Default: 256 MiB.
  std::uint64_t max_value_bytes = 256 * kMiB;
  // Copy a block found on NVMe into DRAM when it is read. Default: true.
  bool promote_on_nvme_hit = true;
  DramConfig dram;
  NvmeConfig nvme;

  Status validate() const;
};

// Reads a StoreConfig from TOML text. Unknown keys and wrong types are errors that name the key.
Result<StoreConfig> parse_store_config_toml(std::string_view toml_text);
Result<StoreConfig> load_store_config_file(const std::string& path);

}  // namespace kvtier
