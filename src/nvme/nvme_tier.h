// NvmeTier: the NVMe tier, modelled on CacheLib Navy's BlockCache. Devices are split into regions
// that are filled append-only through in-memory region buffers and written with O_DIRECT and
// io_uring; a compact index maps blocks to entries; sealed regions are reclaimed FIFO or LRU with
// hot entries reinserted (RegionReclaimPolicy decides both); a write budget guards SSD endurance. Every read verifies the entry's
// header (namespace, key, size, region generation) and the value's checksum: a mismatch is a miss
// and a counter, never bad data. Warm restart from a checkpoint after close(); after a crash the
// index is rebuilt from region summaries and a scan of the regions that were being filled.
// Its parts, by role: DeviceSet (the devices, superblocks, I/O requests) and RingPool (io_uring)
// drive the devices; Index maps ids to entries; RegionReclaimPolicy chooses victims and
// reinsertion; WriteBudget admits writes; this class holds the region table and buffers and runs
// the write path and flusher (nvme_tier.cpp), the read path (nvme_reads.cpp) and recovery with the
// checkpoint (recovery.cpp).
//
// Thread-safety: every method may be called concurrently.
//
// Locks, in the order they may be taken: write_mu_ (one writer appends at a time) -> mu_ (region
// table, buffers, flush queue) -> reclaim_mu_ (ids invalidated during a reclaim) -> Index shard
// mutexes; sync_mu_ (group commit) is a leaf. No lock is held across a device I/O except
// write_mu_ (while a region is reclaimed or flush() writes the open region).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "engine/block_tier.h"
#include "kvtier/config.h"
#include "kvtier/key.h"
#include "kvtier/status.h"
#include "kvtier/types.h"
#include "memory/aligned_buffer.h"
#include "metrics/namespace_tally.h"
#include "nvme/device_set.h"
#include "nvme/format.h"
#include "nvme/index.h"
#include "nvme/io_ring.h"
#include "nvme/region_reclaim_policy.h"
#include "nvme/write_budget.h"
#include "sync/mutex.h"

namespace kvtier::nvme {

enum class RecoveryMode : std::uint8_t {
  kFresh,       // newly formatted: nothing to recover
  kCheckpoint,  // index loaded from the clean-shutdown checkpoint
  kScan,        // rebuilt from region summaries and scans (after a crash)
};

struct RecoveryInfo {
  RecoveryMode mode = RecoveryMode::kFresh;
  std::uint64_t entries = 0;
  std::uint64_t regions_scanned = 0;  // regions read in full (were being filled at the crash)
  std::uint64_t torn_entries = 0;     // entries dropped because they did not verify
  double seconds = 0;
  std::string checkpoint_note;        // why a checkpoint was not used, when it was not
};

class NvmeTier final : public engine::BlockTier {
 public:
  // Validates the config, opens the devices and restores the index.
  static Result<std::unique_ptr<NvmeTier>> open(const NvmeConfig& config, const std::string& data_dir);
  // Closes (as close()) if not closed yet.
  ~NvmeTier() override;
  NvmeTier(const NvmeTier&) = delete;
  NvmeTier& operator=(const NvmeTier&) = delete;

  // Where a put's value is: the daemon's own memory (a DRAM block, a reservation, a receive
  // buffer), or memory a client may still write (its shared memory), whose checksum must be taken
  // over the tier's copy rather than over the bytes the copy was made from.
  enum class ValueFrom : std::uint8_t { kOwnMemory, kClientMemory };

  // Appends the value. Visible to readers once fully copied into the region buffer; durable after
  // the region is written (at the latest after flush()). Errors: InvalidArgument (empty),
  // TooLarge (> max_value_bytes()), Rejected (write budget), Busy, Closed.
  Status put(const BlockId& id, std::span<const std::byte> value,
             ValueFrom from = ValueFrom::kOwnMemory);

  // Reads into dst (see Store::get). Direct O_DIRECT read when dst is 4 KiB-aligned. A client's
  // read raises the entry's hit count, which decides reinsertion at reclaim; the store's do not.
  GetResult get(const BlockId& id, std::span<std::byte> dst,
                engine::ReadFor why = engine::ReadFor::kClient);
  Tier kind() const override { return Tier::kNvme; }
  // BlockTier: device reads run io_depth at a time.
  void get_many(NamespaceId ns, std::span<const GetItem> items, std::span<GetResult> out,
                engine::ReadFor why) override;
  bool contains(const BlockId& id) override;
  // The value size when present.
  std::optional<std::uint32_t> value_size(const BlockId& id);
  // Where the entry is (no hit counted). The store compares two answers to learn whether the
  // entry it read is still the one the index names (same page and generation).
  std::optional<Location> location(const BlockId& id);
  // A newer version of the block was given to a tier above: the copy here, if any, must go
  // (removed as remove() does, with its tombstone). A region reclaim under way is waited for (it
  // takes entries out of the index and puts the hot ones back, and until its start record is
  // written the old ones are still what recovery would find). Cheap when the block is absent and
  // no reclaim runs. NotFound when there was no copy; otherwise as remove(id, failures_before).
  Status invalidate(const BlockId& id, std::uint64_t* failures_before);
  void probe(NamespaceId ns, std::span<const Key> keys, std::span<std::uint8_t> found) override;
  // Takes the entry out of the index and appends a tombstone for it, so that recovery does not
  // find the entry again. The removal survives a crash once flush(*failures_before) succeeds
  // (failures_before: failed_writes() before the tombstone was appended). NotFound when there is
  // no entry, nor one that recovery could still find (a reclaim dropped it from a region whose
  // start record failed to write: it gets a tombstone too); Busy or Closed when the tombstone
  // found no room (the entry is gone from the index all the same, but a crash may bring it back).
  Status remove(const BlockId& id, std::uint64_t* failures_before);
  // BlockTier: as remove(id, failures_before), when the caller does not wait for it.
  Status remove(const BlockId& id) override {
    std::uint64_t unused = 0;
    return remove(id, &unused);
  }

  // Writes everything appended so far to the devices and syncs them. IOError when that fails, or
  // when a write of the tier failed after failed_writes() was `since` (a region whose write failed
  // dropped the entries it did not write; after a failed sync the kernel may have dropped pages):
  // a caller reads failed_writes() before it appends what it needs durable. *failed_now, when
  // given: failed_writes() as this call judged it.
  Status flush(std::uint64_t since, std::uint64_t* failed_now = nullptr);
  // flush(since what the last flush() reported): each failure is reported once, to the next
  // caller of this overload (the Store keeps its own mark; see TieredStore::flush).
  Status flush();
  // Writes of the tier that have failed so far: region writes (their unwritten entries dropped)
  // and syncs.
  std::uint64_t failed_writes() const;
  // Seals the open region, flushes, writes the index checkpoint and stops the flusher.
  Status close();

  std::uint64_t max_value_bytes() const { return max_value_; }
  const RecoveryInfo& recovery_info() const { return recovery_; }
  NamespaceUsage namespace_usage(NamespaceId ns) override { return usage_.get(ns); }
  std::size_t entry_count() const { return index_.size(); }
  std::size_t index_memory_bytes() const { return index_.memory_bytes(); }

  void visit_counters(const CounterVisitor& visitor) override;

  // Test seam: runs before each device sync, outside every lock. Set before the tier is used.
  void TEST_on_sync(std::function<void()> hook) { sync_hook_ = std::move(hook); }

  // Test seam: the path and byte offset of a block's value on its device, for corrupting it.
  std::optional<std::pair<int, std::uint64_t>> TEST_value_extent(const BlockId& id);

 private:
  enum class RegionState : std::uint8_t { kFree, kOpen, kFlushing, kSealed, kReclaiming };
  struct Region {
    RegionState state = RegionState::kFree;
    std::uint64_t seq = 0;              // generation; 0 when free
    std::byte* buffer = nullptr;        // in-memory copy while kOpen/kFlushing
    std::uint32_t buffer_index = 0;
    std::uint32_t readers = 0;          // readers holding the region
    std::uint32_t buffer_readers = 0;   // of those, reading from `buffer`
    std::uint64_t fill = 0;             // bytes of entries (guarded by write_mu_ while open)
    std::uint64_t flushed = 0;          // bytes of entries already on the device
    std::uint32_t summary_pages = 0;    // once sealed
    std::uint32_t entry_count = 0;      // once sealed
    bool summary_on_device = true;      // false after a failed write: `entries` lists what is left
    std::uint64_t last_access = 0;      // for LRU reclaim: a tick of access_clock_
    // Holds a record that hides an older one of its id (a tombstone, an entry marked
    // kShadowsOlder, as every entry of format 1 is taken to be): reclaimed only when no older
    // region is left on the devices (RegionReclaimPolicy).
    bool shadows_older = false;
    std::vector<SummaryEntry> entries;  // while kOpen/kFlushing, or sealed without its summary
  };
  // A reader's hold on a region: its generation and, while it is in memory, its buffer.
  struct RegionHold {
    std::uint32_t region = 0;
    std::uint64_t seq = 0;
    const std::byte* buffer = nullptr;
  };
  struct ReadPlan;

  NvmeTier(const NvmeConfig& config, std::unique_ptr<DeviceSet> devices);
  Status start(const std::string& data_dir);

  // Write path.
  Status ensure_room(std::uint64_t footprint) KVTIER_REQUIRES(write_mu_);
  void seal_open_region() KVTIER_REQUIRES(write_mu_);
  // `reserve`: bytes the calling put still needs in the new region (reinsertion leaves them).
  Status open_new_region(std::uint64_t reserve) KVTIER_REQUIRES(write_mu_);
  // *dropped: the ids it took out of the index and did not keep.
  Status reclaim(std::uint32_t region, std::vector<SummaryEntry>* hot, std::vector<BlockId>* dropped)
      KVTIER_REQUIRES(write_mu_)
      KVTIER_EXCLUDES(mu_);
  void end_reclaim();
  void reinsert(const std::vector<SummaryEntry>& hot, std::uint32_t from_region, std::uint64_t from_seq,
                std::uint64_t reserve) KVTIER_REQUIRES(write_mu_);
  // checksum: of the value, when the caller took it; else taken over the copy in the buffer.
  void append_entry(const BlockId& id, std::span<const std::byte> value,
                    std::optional<std::uint64_t> checksum) KVTIER_REQUIRES(write_mu_);
  // Appends a record with no value (kTombstone, or kRegionStart as the region's first page).
  void append_valueless(const BlockId& id, std::uint16_t flags) KVTIER_REQUIRES(write_mu_);
  // Writes the freshly opened region's start record to the device, so that the records of the
  // generation it replaces are dead for recovery before this generation's are written (or the
  // region's index entries, already gone, could come back after a crash).
  // When that write fails, the ids the reclaim `dropped` are remembered (dropped_unstarted_).
  void write_region_start(const std::vector<BlockId>& dropped) KVTIER_REQUIRES(write_mu_);
  // Page 0 of `region` is on the device now: the generation it replaced is dead for recovery.
  void start_record_written(std::uint32_t region);
  // Whether `id` was dropped by a reclaim whose region's start record is not on the device yet.
  bool dropped_unstarted(const BlockId& id);
  // Writes bytes [from, to) of `region` from `buffer`, write_io_bytes per I/O, io_depth in flight.
  Status write_region_range(std::uint32_t region, const std::byte* buffer, std::uint64_t from, std::uint64_t to);

  // Erasure (config_.erase_removed). The pages of a removed or replaced entry are overwritten with
  // zeros once both are on the device: the entry itself (so that no write of its region puts the
  // bytes back) and the record that supersedes it, a tombstone or a newer entry (so that a crash
  // never finds the entry zeroed with nothing hiding it). Every overwrite runs under write_mu_, so
  // no reclaim reuses the region meanwhile; a reclaim overwrites its victim's pending ones itself,
  // its start record having made them dead for recovery.
  struct Erasure {
    std::uint32_t region;      // the entry: its region, generation and bytes in the region
    std::uint64_t seq;
    std::uint64_t from, to;
    std::uint32_t after_region;  // the superseding record ends at after_end in that region
    std::uint64_t after_seq;
    std::uint64_t after_end;
  };
  // Queues the erasure of `loc`, superseded by the record just appended to the open region.
  void erase_entry(const Location& loc) KVTIER_REQUIRES(write_mu_);
  // Overwrites the pending erasures that are due (and, when `victim` names a region being
  // reclaimed with its old generation, every one of that generation).
  void apply_due_erasures(std::optional<std::pair<std::uint32_t, std::uint64_t>> victim = std::nullopt)
      KVTIER_REQUIRES(write_mu_);
  // Whether bytes [0, end) of generation `seq` of `region` are on the device (or were: the
  // region has been reused since).
  bool written_through(std::uint32_t region, std::uint64_t seq, std::uint64_t end) const
      KVTIER_REQUIRES(mu_, write_mu_);
  // After a reclaim's reinsertion into the open region: see nvme_tier.cpp.
  void erase_moved_copies(const std::vector<SummaryEntry>& moved) KVTIER_REQUIRES(write_mu_);
  // Overwrites bytes [from, to) of `region` with zeros. A failure counts as a failed write, so
  // that the removals waiting for the next flush() are answered with it.
  void write_zeros(std::uint32_t region, std::uint64_t from, std::uint64_t to);
  // Writes the open region's entries not yet on the device; *wrote says whether there were any.
  Status write_open_region(bool* wrote) KVTIER_REQUIRES(write_mu_);
  // The open region as its writer uses it: write_mu_, not mu_, guards its fill, entries and
  // buffer contents while it is open (Region), so this is the one use of regions_ without mu_.
  Region& open_region() KVTIER_REQUIRES(write_mu_) KVTIER_NO_THREAD_SAFETY_ANALYSIS {
    return regions_[static_cast<std::size_t>(open_region_)];
  }

  // Open-region writer thread: write_open_region() + sync every config_.flush_interval.
  void open_region_writer_loop();

  // Flusher thread.
  void flusher_loop();
  void finish_flush(std::uint32_t region, const Status& status, std::uint64_t written_before);
  // apply_due_erasures() under write_mu_, when erasures are pending: after a flush() or close()
  // waited for the regions sealed before it, those of their entries are due.
  void apply_erasures_waiting() KVTIER_EXCLUDES(write_mu_);
  // Waits until the first `sealed` regions queued for the flusher are written (or failed).
  void wait_for_regions_written(std::uint64_t sealed);
  // Syncs the devices once a sync that started after this call ends: callers that arrive during
  // one sync share the next (group commit). A failure is counted (count_write_failure).
  void sync_devices();
  // IOError when writes failed after failed_writes() was `since` (see flush).
  Status failures_since(std::uint64_t since, std::uint64_t* failed_now) const;
  void count_write_failure(const Status& s) KVTIER_REQUIRES(mu_);
  // failures_reported_, read, or raised to `failed_now` (never lowered).
  std::uint64_t failures_reported();
  void mark_reported(std::uint64_t failed_now);

  // Readers.
  std::optional<RegionHold> hold_region(std::uint32_t region);
  void release_region(const RegionHold& hold);
  std::optional<ReadPlan> plan_read(NamespaceId ns, const GetItem& item, bool counted,
                                    GetResult& res);
  void finish_read(ReadPlan& p, std::span<std::byte> dst, const IoRequest* req, GetResult& res);
  void reread_into_own_memory(ReadPlan& p, std::span<std::byte> dst, GetResult& res);
  // Whether `page` starts with the header of id's entry of `size` bytes in generation `seq`
  // (decoded into *h either way).
  bool verify_header(const std::byte* page, const BlockId& id, std::uint32_t size, std::uint64_t seq,
                     EntryHeader* h) const;
  void drop_entry(const BlockId& id, std::uint64_t page);
  // Whether the index no longer names the entry `p` read: it was removed (and maybe overwritten,
  // with erase_removed) meanwhile, so a read that did not verify is a raced read, not damage.
  bool removed_while_read(const ReadPlan& p);
  // Answers a read whose entry did not verify (failed_check: the counter of the check that
  // failed; none for an entry in a region buffer).
  void answer_failed_verification(const ReadPlan& p, std::atomic<std::uint64_t>* failed_check,
                                  GetResult& res);

  // Recovery and checkpoint (recovery.cpp).
  Status recover(const std::string& checkpoint_path);
  Status load_checkpoint(const std::string& path);
  Status write_checkpoint(const std::string& path);
  // The crash scan (recovery.cpp), in its phases: the end pages of a window of regions, the
  // summaries of those that are sealed, each of the others alone, then the index.
  struct ScannedRegion {
    std::uint32_t region;
    std::uint64_t seq;  // the generation found
    std::vector<SummaryEntry> entries;
    std::uint32_t summary_pages;
  };
  Status scan_regions();
  Status read_region_ends(std::uint32_t lo, std::uint32_t hi, std::byte* ends);
  Status read_sealed_summaries(std::uint32_t lo, std::uint32_t hi, const std::byte* ends,
                               std::vector<bool>& done, std::vector<ScannedRegion>& found);
  Status scan_unsealed_region(std::uint32_t i, const std::byte* end_pages, std::byte* scratch,
                              std::vector<ScannedRegion>& found);
  void index_scanned_regions(std::vector<ScannedRegion>& found);
  void walk_region(const std::byte* region, std::uint64_t seq, std::vector<SummaryEntry>* entries);
  // Zeroes the bytes of a region image before `end` that no record of `records` (in page order)
  // covers.
  void zero_all_but_records(std::byte* region, const std::vector<SummaryEntry>& records,
                            std::uint64_t end) const;
  Status read_summary(std::uint32_t region, std::uint64_t seq, std::uint32_t summary_pages,
                      std::vector<SummaryEntry>* entries);
  Status parse_summary(std::uint32_t region, std::uint64_t seq, std::uint32_t summary_pages,
                       const std::byte* buf, std::vector<SummaryEntry>* entries) const;
  void write_summary_into(std::byte* region_buffer, const std::vector<SummaryEntry>& entries,
                          std::uint64_t seq, std::uint32_t* summary_pages) const;

  std::uint64_t page_of(std::uint32_t region, std::uint64_t offset) const {
    return std::uint64_t{region} * devices_->pages_per_region() + offset / kPageSize;
  }
  std::uint32_t region_of(std::uint64_t page) const {
    return static_cast<std::uint32_t>(page / devices_->pages_per_region());
  }
  // An entry of `size` bytes whose header is page `page_in_region` of a region ends inside it,
  // before `reserved_end` bytes at the region's end (its summary, when that is known).
  bool entry_fits(std::uint64_t page_in_region, std::uint64_t size, std::uint64_t reserved_end = 0) const {
    return size > 0 && size <= region_size_ &&
           page_in_region * kPageSize + entry_footprint(size) + reserved_end <= region_size_;
  }
  // A summary's record lies within the region before `reserved_end` and agrees with its flags.
  bool record_fits(const SummaryEntry& e, std::uint64_t reserved_end) const {
    if ((e.flags & ~kKnownEntryFlags) != 0) return false;
    if (has_value(e)) return entry_fits(e.page_in_region, e.value_size, reserved_end);
    return e.value_size == 0 && std::uint64_t{e.page_in_region + 1} * kPageSize + reserved_end <= region_size_;
  }

  const NvmeConfig config_;
  std::unique_ptr<DeviceSet> devices_;
  const std::uint64_t region_size_;
  const std::uint64_t max_value_;
  Index index_;
  const RegionReclaimPolicy reclaim_policy_;
  RingPool rings_;
  WriteBudget budget_;
  NamespaceTally usage_{entry_footprint};
  RecoveryInfo recovery_;
  std::string checkpoint_path_;

  Mutex write_mu_;
  std::int64_t open_region_ KVTIER_GUARDED_BY(write_mu_) = -1;

  // Whether a reclaim is under way (from taking its region's entries out of the index until its
  // start record is written): invalidate() then waits for write_mu_ instead of trusting a miss in
  // the index. Lock order: write_mu_ -> reclaim_mu_ -> Index shard mutexes.
  Mutex reclaim_mu_;
  bool reclaiming_ KVTIER_GUARDED_BY(reclaim_mu_) = false;
  // Ids a reclaim dropped from a region whose start record failed to write, with that region:
  // recovery would still find them there, so a removal or replacement of one appends a tombstone
  // although the index has no entry. Until the region's page 0 is written (its next write, at the
  // latest the flush a removal waits for); at most one region's entries per region.
  std::vector<std::pair<BlockId, std::uint32_t>> dropped_unstarted_ KVTIER_GUARDED_BY(reclaim_mu_);

  mutable Mutex mu_;
  std::condition_variable cv_;         // any change of region state, buffers or the flush queue
  std::vector<Region> regions_ KVTIER_GUARDED_BY(mu_);  // see Region for exceptions
  std::vector<AlignedBuffer> buffers_;
  std::vector<std::uint32_t> free_buffers_ KVTIER_GUARDED_BY(mu_);
  std::vector<std::uint32_t> flush_queue_ KVTIER_GUARDED_BY(mu_);  // FIFO
  bool flusher_busy_ KVTIER_GUARDED_BY(mu_) = false;
  // Regions handed to the flusher, and of those written (or failed), in that FIFO order.
  std::uint64_t regions_queued_ KVTIER_GUARDED_BY(mu_) = 0;
  std::uint64_t regions_written_ KVTIER_GUARDED_BY(mu_) = 0;
  bool stopping_ KVTIER_GUARDED_BY(mu_) = false;
  // Failed writes so far (monotonic) and the last one's error; flush(since) compares the count.
  std::uint64_t failed_writes_ KVTIER_GUARDED_BY(mu_) = 0;
  Status last_write_error_ KVTIER_GUARDED_BY(mu_);
  std::uint64_t failures_reported_ KVTIER_GUARDED_BY(mu_) = 0;  // by flush() and close()
  std::uint64_t next_seq_ KVTIER_GUARDED_BY(mu_) = 1;
  // Erasures waiting for their entry and its superseding record to reach the device: at most one
  // per entry on the device (an entry leaves the index once; a reclaim takes its region's).
  std::vector<Erasure> pending_erasures_ KVTIER_GUARDED_BY(mu_);
  AlignedBuffer zeros_;  // write_io_bytes of zeros when erase_removed, the source of every erasure
  std::atomic<std::uint64_t> access_clock_{1};

  // Group commit (sync_devices): syncs started and finished, numbered in order. A leaf lock:
  // nothing else is taken while it is held.
  Mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::uint64_t syncs_started_ KVTIER_GUARDED_BY(sync_mu_) = 0;
  std::uint64_t syncs_done_ KVTIER_GUARDED_BY(sync_mu_) = 0;
  bool sync_running_ KVTIER_GUARDED_BY(sync_mu_) = false;
  std::function<void()> sync_hook_;
  std::atomic<bool> closed_{false};
  std::thread flusher_;
  std::thread open_region_writer_;  // running when config_.flush_interval > 0

  // Counters.
  std::atomic<std::uint64_t> hits_{0}, misses_{0}, inserts_{0}, bytes_written_{0}, bytes_read_{0},
      admission_rejected_{0}, too_large_{0}, checksum_failures_{0}, header_mismatches_{0},
      bounce_reads_{0}, direct_reads_{0}, memory_reads_{0}, regions_reclaimed_{0},
      reclaimed_entries_{0}, reinserted_{0}, write_errors_{0}, read_errors_{0}, removes_{0},
      raced_reads_{0}, rereads_{0}, syncs_{0}, sync_requests_{0}, tombstones_{0}, erased_bytes_{0};
};

}  // namespace kvtier::nvme
