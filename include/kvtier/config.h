// Configuration of the storage engine. One struct per component; every field states its default.
// Only a config whose validate() returned OK reaches a constructor (Store::open checks).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kvtier/status.h"
#include "kvtier/types.h"  // kKiB, kMiB, kGiB

namespace kvtier {

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
  // Entries still in the open region's memory buffer are written to the device (and synced) at
  // least this often, so a crash of the process loses at most this much of the tier's newest
  // writes; a full region is written at once regardless. 0 = only when a region fills or on
  // flush(). Default: 1 s.
  std::chrono::milliseconds flush_interval{1000};
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
  // A fresh start is acceptable: when the data directory shows the tier held data (its
  // nvme/format-id) but a device is gone, emptied, zeroed or holds another format, the tier is
  // reformatted with a warning naming what was lost, instead of refusing to start. Default: false.
  bool reformat_damaged = false;
  // Removed bytes are overwritten: a REMOVE, or a PUT replacing a block the tier holds, is
  // answered only once the older value's pages on the device are overwritten with zeros and
  // synced, and each region is written whole, so no byte of a block the tier dropped outlives the
  // region being refilled (docs/RELIABILITY.md, "Erasure of removed bytes", says what this does
  // and does not guarantee on which devices). Default: false.
  bool erase_removed = false;

  // Whether the config has the tier at all (devices, or a default file).
  bool enabled() const { return !devices.empty() || default_file_bytes > 0; }
  Status validate() const;
};

// The shared capacity tier (docs/SHARED_TIER.md): a shared filesystem, Redis / Redis Cluster or an
// S3 bucket, reached through a durable outbox for writes and a deadline and circuit breaker for
// reads.
enum class SharedBackendKind : std::uint8_t { kNone, kFs, kRedis, kS3, kAzure };

// How the object-store backends pack blocks into segments (docs/SHARED_OBJECT_FORMAT.md).
struct PackingConfig {
  // A segment object is sealed at this size. Default: 64 MiB.
  std::uint64_t segment_bytes = 64 * 1024 * 1024;
  // Upload part size (S3 multipart; at least 5 MiB there). Default: 8 MiB.
  std::uint64_t part_bytes = 8 * 1024 * 1024;
  // How often this node lists new indexes (other nodes' blocks are readable here about this long
  // after they are published). Default: 2 s.
  std::chrono::milliseconds refresh_interval{2000};
  // A segment whose garbage (bytes that are no longer a live block's copy) exceeds this fraction
  // is compacted. Default: 0.25.
  double max_garbage = 0.25;
  // Blocks (and removals) older than this are dropped. Default: 7 days.
  std::chrono::seconds max_age{7 * 24 * 3600};
  // Past this many stored bytes the oldest segments are dropped; 0 = no limit. Default: 0.
  std::uint64_t capacity_bytes = 0;
  // How often this node compacts and expires (maintenance). Default: 60 s.
  std::chrono::seconds maintain_interval{60};

  Status validate(std::string_view section) const;
};

struct S3BackendConfig {
  // "http://host:port" or "https://host"; required.
  std::string endpoint;
  // The bucket; required. It must exist (kvtier does not create buckets).
  std::string bucket;
  // Signing region. Default: "us-east-1".
  std::string region = "us-east-1";
  // Virtual-host addressing (bucket.host/key) instead of path style (host/bucket/key).
  // Default: false.
  bool virtual_host = false;
  // Prefix of every object name, so several tiers can share a bucket. Default: "kvtier/".
  std::string prefix = "kvtier/";
  // Credentials: leave empty to take them from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and
  // AWS_SESSION_TOKEN) or from the credentials file (docs/SHARED_TIER.md, "S3").
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  // An AWS shared credentials file; empty: $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials.
  std::string credentials_file;
  // Its section; empty: $AWS_PROFILE or "default".
  std::string profile;
  // A CA bundle (PEM) for https; empty: the system's CAs.
  std::string ca_file;
  PackingConfig packing;

  Status validate() const;
};

struct AzureBackendConfig {
  // The account's blob endpoint: "https://<account>.blob.core.windows.net", or Azurite's
  // "http://127.0.0.1:10000/devstoreaccount1"; required.
  std::string endpoint;
  // The storage account; empty: $AZURE_STORAGE_ACCOUNT.
  std::string account;
  // The container; required. It must exist (kvtier does not create containers).
  std::string container;
  // Prefix of every blob name, so several tiers can share a container. Default: "kvtier/".
  std::string prefix = "kvtier/";
  // Credentials, one of: the account key (Shared Key, base64) or a SAS token. Both empty:
  // $AZURE_STORAGE_KEY, else $AZURE_STORAGE_SAS_TOKEN (docs/SHARED_TIER.md, "Azure Blob"; under
  // systemd, an EnvironmentFile only the service reads keeps them out of the config file).
  std::string account_key;
  std::string sas_token;
  // A CA bundle (PEM) for https; empty: the system's CAs.
  std::string ca_file;
  PackingConfig packing;

  Status validate() const;
};

struct SharedFsConfig {
  // Directory shared by every node's kvtierd (an NFS, CephFS, Lustre, ... mount). Required.
  std::string path;
  // The sweep removes the oldest blocks when the blocks under `path` exceed this many bytes;
  // 0 = no limit. Default: 0.
  std::uint64_t capacity_bytes = 0;
  // The sweep removes blocks written longer ago than this; 0 = no limit. Default: 0.
  std::chrono::seconds max_age{0};
  // How often this node runs the sweep. Default: 60 s.
  std::chrono::seconds sweep_interval{60};
  // fsync every block file (and its directory) before it is renamed into place. Default: true.
  bool fsync = true;
  // Create <path>/kvtier-v1 when it is missing. Set false on nodes that join an existing shared
  // tier: a daemon started while the filesystem is not mounted then writes nothing onto the
  // bare mount point on the local disk (the tier stays unavailable until the mount is back).
  // Once seen, the tree is never recreated either way. Default: true.
  bool create_root = true;
  // Permission bits of the block files and directories this node creates, set exactly (the
  // umask does not narrow them). Other users get nothing: a mode giving them any access is
  // refused. Every node reading the tree must be the files' user or in their group. Default:
  // 0640 and 0750.
  std::uint32_t file_mode = 0640;
  std::uint32_t dir_mode = 0750;
  // The group (name or number) given to what this node creates; empty = the daemon's own.
  // Default: empty.
  std::string group;

  Status validate() const;
};

struct RedisBackendConfig {
  // "host:port" of a Redis / Valkey server, or of any nodes of a Redis Cluster (the rest of the
  // cluster is discovered from them). At least one. Default: {"127.0.0.1:6379"}.
  std::vector<std::string> nodes{"127.0.0.1:6379"};
  // Talk Redis Cluster (slot hashing, MOVED/ASK, topology refresh). Default: false.
  bool cluster = false;
  // AUTH password; empty = none. Default: empty.
  std::string password;
  // Expiry set on every block (SET ... PX); 0 = none. Default: 24 h.
  std::chrono::milliseconds ttl{24 * 60 * 60 * 1000};
  // Connect timeout for one node. Default: 200 ms.
  std::chrono::milliseconds connect_timeout{200};
  // Connections kept per node (one call uses one, pipelining its commands). Default: 4.
  std::uint32_t connections_per_node = 4;
  // Prefix of every Redis key kvtier writes, so kvtier can share a server. Default: "kvtier:".
  std::string key_prefix = "kvtier:";

  Status validate() const;
};

struct SharedTierConfig {
  // Which backend; kNone disables the shared tier. Default: none.
  SharedBackendKind backend = SharedBackendKind::kNone;
  SharedFsConfig fs;
  RedisBackendConfig redis;
  S3BackendConfig s3;
  AzureBackendConfig azure;
  // A local miss waits at most this long for the shared tier, then is a miss. Default: 5 ms.
  std::chrono::milliseconds read_deadline{5};
  // Threads that run reads on the backend (blocked ones included). Default: 4.
  std::uint32_t read_threads = 4;
  // Threads that upload blocks from the outbox. Default: 2.
  std::uint32_t upload_threads = 2;
  // Blocks the outbox may hold waiting for upload; when full, new blocks are stored locally
  // only and counted (never block the writer). Default: 1,048,576.
  std::uint64_t outbox_capacity_blocks = 1 << 20;
  // Upload rate in MB/s (10^6 bytes) when draining; 0 = unlimited. Default: 0.
  double drain_rate_mb_s = 0;
  // Consecutive failed or overdue calls that open the circuit breaker. Default: 3.
  std::uint32_t breaker_failures = 3;
  // While open, the health checker probes this often; one answered probe closes it. Default: 1 s.
  std::chrono::milliseconds probe_interval{1000};
  // A probe or upload call taking longer than this counts as a failure. Default: 1 s.
  std::chrono::milliseconds call_timeout{1000};
  // Secret keys (at least 32 bytes) by namespace: the blocks of a namespace listed here are
  // uploaded sealed with an HMAC under its key and served from the shared tier only when the
  // seal verifies (docs/SHARED_TIER.md, "Block authentication"). kvtierd fills it from the
  // tenants' shared_key_file. Default: none (blocks unsealed).
  std::map<std::uint32_t, std::string> namespace_keys;  // NamespaceId -> key

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
  SharedTierConfig shared;

  Status validate() const;
};

// Reads a StoreConfig from TOML text. Unknown keys and wrong types are errors that name the key.
Result<StoreConfig> parse_store_config_toml(std::string_view toml_text);
Result<StoreConfig> load_store_config_file(const std::string& path);

}  // namespace kvtier
