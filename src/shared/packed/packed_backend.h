// PackedBackend: the shared tier on an object store (S3, Azure Blob, a shared directory), with
// blocks packed into large segment objects instead of one object each: an object store bills and
// throttles per request, and a shared filesystem pays a sync and a rename per file. The format
// is in packed_format.h and docs/SHARED_OBJECT_FORMAT.md.
//
// Writes are staged (shared_backend.h, "Staging backends"): put_many and remove append to the
// open segment (records in parts uploaded as they fill; tombstones in its pending index) and
// answer OK; flush() publishes it (completes the object, then writes its index) and only then
// are the staged writes durable and visible. A segment is also sealed when it reaches
// segment_bytes. If a seal fails, the open segment is dropped (its upload aborted) and flush
// says so: the caller stages everything since the last good flush again.
//
// Reads: a block is found in the SegmentMap (no request: contains_many and keep_many answer from
// memory) and read with one ranged read of its record, verified (packed_format.h,
// record_mismatch) before a byte reaches the caller. A segment found missing is forgotten.
//
// Discovery: a refresher thread lists idx/ every refresh_interval from a while before the newest
// index it has seen (covering writers' clock skew) and applies the indexes it has not read; every
// full_refresh_interval it lists all of idx/ and forgets segments whose index is gone. A block
// another node published is readable here within about refresh_interval. Nothing is served
// before the first whole listing is applied (a partial one could hold a key's older write without
// its newer one); after it, a node may serve the write a key had up to about refresh_interval
// ago (docs/SHARED_OBJECT_FORMAT.md, "What a node keeps and how stale it may be").
//
// Space (maintain(), on a SharedTier thread): entries past max_age are dropped; a segment whose
// garbage (bytes no longer the winning copy of a live block) exceeds max_garbage is compacted:
// its live records are copied, bytes and stamps unchanged, into the open segment, which is
// published, then the old index is removed and, after a grace period, the old segment; past
// capacity_bytes the oldest segments go. A node compacts and deletes only its own segments (by
// its own clock); what a node gone for good leaves is for the bucket's lifecycle rule.
//
// Thread-safety: every method may be called from any number of threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "objstore/object_store.h"
#include "shared/packed/segment_map.h"
#include "shared/shared_backend.h"

namespace kvtier::shared::packed {

struct PackedOptions {
  std::uint64_t segment_bytes = 64ull << 20;   // a segment is sealed at this size
  std::size_t part_bytes = 8u << 20;           // upload part size (at least the store's minimum)
  std::chrono::milliseconds refresh_interval{2000};
  std::chrono::milliseconds full_refresh_interval{60000};
  std::chrono::milliseconds clock_skew{60000}; // how far back each listing looks
  double max_garbage = 0.25;                   // compact a segment past this garbage fraction
  std::chrono::seconds max_age{7 * 24 * 3600}; // blocks (and tombstones) older are dropped
  std::uint64_t capacity_bytes = 0;            // 0: no limit
  std::chrono::seconds delete_grace{30};       // a compacted segment outlives its index this long
  std::size_t max_entries = 16u << 20;         // blocks the map holds at most
  std::string counter_prefix = "shared_packed";  // "shared_s3", "shared_azure", "shared_fs"
};

class PackedBackend final : public SharedBackend {
 public:
  // Starts the refresher; the first listing runs at once on it (open never waits on the store).
  PackedBackend(std::unique_ptr<objstore::ObjectStore> store, PackedOptions options);
  ~PackedBackend() override;

  std::string describe() const override;
  bool stages_writes() const override { return true; }
  void put_many(std::span<const SharedPut> items, std::span<Status> out,
                Deadline deadline) override;
  Status flush(Deadline deadline) override;
  void get_many(std::span<const SharedGet> items, std::span<GetResult> out,
                Deadline deadline) override;
  void contains_many(std::span<const BlockId> ids, std::span<Status> out,
                     Deadline deadline) override;
  void keep_many(std::span<const BlockId> ids, std::span<Status> out, Deadline deadline) override;
  Status remove(const BlockId& id, Deadline deadline) override;
  Status ping(Deadline deadline) override;
  Status maintain() override;
  void visit_counters(const CounterVisitor& visitor) const override;

  // Lists and applies new indexes now (what the refresher does each interval). Tests call it to
  // skip the wait.
  Status refresh(bool full);
  std::uint64_t writer_id() const { return writer_; }
  const SegmentMap& map() const { return map_; }

 private:
  struct OpenSegment;
  struct Counters;

  std::uint64_t next_stamp();
  // The open segment, begun if there is none.
  OpenSegment& open_locked() KVTIER_REQUIRES(write_mu_);
  Status append_locked(const BlockId& id, std::span<const std::byte> stored, std::uint64_t stamp,
                       std::uint64_t origin, Deadline deadline) KVTIER_REQUIRES(write_mu_);
  Status seal_locked(Deadline deadline) KVTIER_REQUIRES(write_mu_);
  // Drops the open segment (aborting its upload); the next flush reports `why`.
  void drop_open_locked(const Status& why, Deadline deadline) KVTIER_REQUIRES(write_mu_);
  GetResult get_one(const SharedGet& item, Deadline deadline);
  bool fresh(const PackedIndexEntry& e) const;
  std::optional<Located> live(const BlockId& id) const;
  Status compact(const SegmentStats& segment, Deadline deadline);
  Status delete_segment(const SegmentStats& segment, bool at_once, Deadline deadline);
  void refresher();

  const std::unique_ptr<objstore::ObjectStore> store_;
  const PackedOptions options_;
  const std::uint64_t writer_;
  const std::uint64_t max_age_ns_;  // options_.max_age in stamp units (0: no expiry)
  SegmentMap map_;
  std::unique_ptr<Counters> counters_;

  Mutex write_mu_;  // the open segment; held across its uploads (one writer at a time)
  std::unique_ptr<OpenSegment> open_ KVTIER_GUARDED_BY(write_mu_);
  std::uint64_t next_segment_ KVTIER_GUARDED_BY(write_mu_) = 1;
  Status lost_ KVTIER_GUARDED_BY(write_mu_);  // why writes staged since the last flush were lost
  std::atomic<std::uint64_t> last_stamp_{0};

  std::atomic<bool> listed_{false};  // a whole listing of idx/ has been applied (see live())
  Mutex refresh_mu_;  // one listing at a time; what it has seen
  std::uint64_t newest_index_ms_ KVTIER_GUARDED_BY(refresh_mu_) = 0;
  // Indexes refused as damaged: not read again while they are listed (a full listing forgets the
  // ones no longer there, so the set holds at most what the store lists).
  std::unordered_set<std::string> refused_ KVTIER_GUARDED_BY(refresh_mu_);
  Clock::time_point last_full_ KVTIER_GUARDED_BY(refresh_mu_){};

  // Segments a read found deleted: their index, while still listed, is not applied again.
  Mutex gone_mu_;
  std::unordered_set<SegmentKey, SegmentKeyHash> gone_ KVTIER_GUARDED_BY(gone_mu_);

  Mutex maintain_mu_;  // the compacted segments waiting for their grace to pass
  struct PendingDelete {
    std::string segment_name;
    Clock::time_point at;
  };
  std::deque<PendingDelete> pending_deletes_ KVTIER_GUARDED_BY(maintain_mu_);

  Mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ KVTIER_GUARDED_BY(stop_mu_) = false;
  std::thread refresher_;
};

}  // namespace kvtier::shared::packed
