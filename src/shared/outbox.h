// Outbox: the durable list of what the shared tier still owes: blocks acknowledged to a writer but
// not yet uploaded, and blocks removed by their owner whose shared copy is still to remove.
//
// It records which blocks, never their bytes: the bytes are in the local tiers (DRAM, NVMe), and an
// uploader reads them from there. The list is an append-only log in the data directory (on the
// NVMe tier's device), <data_dir>/shared-outbox.log, of fixed 48-byte records:
//   ADD    (ns, key, size)  the block must reach the shared tier; written and fdatasync'ed before
//                           append() returns, so a PUT acknowledged after it survives SIGKILL
//   REMOVE (ns, key)        the shared copy must go; synced before append_removal() returns
//   DONE   (ns, key)        what was owed was done (or can no longer be); not synced: losing it
//                           after a crash only repeats an upload or a removal (both idempotent)
// Each record carries its own checksum; replay stops at the first record that fails it (a torn
// tail: its append never returned, so nothing acknowledged is lost) and truncates the log there.
// When the log holds many more records than pending blocks it is rewritten (temp file, fsync,
// rename) with the records of the pending set; appends go on meanwhile (see maybe_compact).
//
// One operation per block at a time, in the order the owner asked: each block has at most one
// entry, with the operation being done (in flight) and the one asked for since (`next`). A REMOVE
// while an upload is in flight is done after that upload lands, and a PUT after a REMOVE is
// uploaded after the removal and over whatever copy is found (`overwrite`: the dedup check would
// take an older copy for it). So after a drain the shared tier holds what the last acknowledged
// PUT or REMOVE of each block on this node left (docs/SHARED_TIER.md, "Removal and re-PUT").
//
// Group commit: concurrent append() calls share one write + fdatasync; the first caller to find
// no sync running does it for everyone queued behind it.
//
// Capacity: at most `capacity` pending blocks. append() of a new block beyond it is refused with
// Rejected (the caller stores the block locally only and counts it): the writer never waits for
// room, and blocks already promised are never dropped to make some.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/id_hash.h"
#include "kvtier/key.h"
#include "kvtier/status.h"
#include "kvtier/types.h"
#include "posix/unique_fd.h"
#include "sync/mutex.h"

namespace kvtier::shared {

enum class OutboxOp : std::uint8_t {
  kUpload,  // copy the block's local bytes to the shared tier
  kRemove,  // remove the block's shared copy
};

struct OutboxEntry {
  BlockId id;
  std::uint32_t size = 0;  // value bytes (0 for a removal), for the drain rate and progress
  std::uint64_t seq = 0;   // order of acknowledgement; work goes oldest first
  std::uint32_t attempts = 0;
  OutboxOp op = OutboxOp::kUpload;
  // An upload that must write even when the shared tier has a copy already: the block was
  // removed since, so a copy found may be older bytes.
  bool overwrite = false;
};

class Outbox {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens or creates the log at `path` and replays it.
  static Result<std::unique_ptr<Outbox>> open(const std::string& path, std::uint64_t capacity);
  ~Outbox();

  // Records blocks as pending and returns once that is durable. out[i]: OK (also when already
  // pending, once the record that made it pending is durable), Rejected when the outbox is full,
  // IOError when the log could not be written. Never blocks for room.
  // After a failed write the outbox is in its error state (failed()): every append answers that
  // error and records nothing until a rewrite of the whole log succeeds, tried at most once a
  // second from append() and sync(). Memory stays bounded by the pending set meanwhile.
  void append(std::span<const BlockId> ids, std::span<const std::uint32_t> sizes,
              std::span<Status> out);

  // Records that the block's shared copy is to be removed (after an upload of it in flight, if
  // any) and that no earlier upload of it is owed. OK once durable; IOError: in the error state
  // (failed()), owed in memory only until a rewrite logs it; Rejected: the outbox is full and the
  // block was not pending, nothing recorded (the caller removes the copy itself, unordered).
  Status append_removal(const BlockId& id);
  // The same in two steps, so a caller holding a lock does not wait for the disk under it:
  // queue_removal records it in memory and queues its record (*ticket: what to wait for, 0 for
  // nothing), wait_durable waits until the record is synced.
  Status queue_removal(const BlockId& id, std::uint64_t* ticket);
  Status wait_durable(std::uint64_t ticket);

  // Up to `max` pending entries not in flight and not backing off, oldest first; they are
  // marked in flight until complete() or retry_later().
  std::vector<OutboxEntry> take(std::size_t max);
  // The operation was done, or never can be (the block is no longer held locally): the entry
  // goes, unless another operation was asked for meanwhile, which is then pending.
  void complete(const OutboxEntry& entry);
  // The operation failed: pending again (or the one asked for meanwhile) after a backoff that
  // doubles with every attempt.
  void retry_later(const OutboxEntry& entry);
  // An overwriting upload found the block gone locally: the copy it was to write over (bytes the
  // owner removed) must go instead, so the entry now owes a removal (unless another operation
  // was asked for meanwhile, which is then pending).
  void remove_instead(const OutboxEntry& entry);

  // owed[i] = 1 when an operation on ids[i] is owed (pending or in flight): the shared copy, if
  // any, may be older than what this node's owner last put or removed.
  void owes(std::span<const BlockId> ids, std::span<std::uint8_t> owed) const;
  // Entries owed (uploads and removals).
  std::uint64_t pending() const;
  std::uint64_t pending_bytes() const;
  std::uint64_t capacity() const { return capacity_; }
  // Age of the oldest pending block since it was appended (or since this process replayed it).
  std::chrono::seconds oldest_age() const;
  // Blocks replayed from the log at open().
  std::uint64_t replayed() const { return replayed_; }
  std::uint64_t rejected_full() const;
  // In the error state: the log could not be written and nothing is promised.
  bool failed() const;
  // Times the error state was left by a successful rewrite.
  std::uint64_t recoveries() const;
  // Makes every DONE record written so far durable and compacts if worthwhile (at shutdown).
  Status sync();

  // Test seam: called by a compaction after the pending set is written to the temporary file,
  // without the lock, before the records appended meanwhile are added and the file renamed.
  void set_compaction_hook(std::function<void()> hook);

 private:
  // What a block is owed next, asked for while another operation on it is in flight.
  struct Next {
    OutboxOp op;
    std::uint32_t size;
    bool overwrite;
  };
  struct Pending {
    OutboxEntry entry;
    Clock::time_point added;
    Clock::time_point not_before;  // backoff after a failed operation
    bool in_flight = false;
    std::uint64_t ticket = 0;      // the queued_upto_ ticket of its latest ADD or REMOVE record
    std::optional<Next> next;      // only while in_flight
    bool unlogged = false;         // changed in the error state: its records are not in the log
  };

  Outbox(std::string path, std::uint64_t capacity, UniqueFd fd);
  Status replay();
  void replay_record(std::uint8_t type, const BlockId& id, std::uint32_t size, Clock::time_point now)
      KVTIER_REQUIRES(mu_);
  Status write_records(int fd, const std::vector<std::byte>& bytes, bool sync) const;
  void queue_record(std::uint8_t type, const BlockId& id, std::uint32_t size) KVTIER_REQUIRES(mu_);
  Status commit_queued(std::uint64_t upto) KVTIER_REQUIRES(mu_);
  Pending& insert_locked(const BlockId& id, OutboxOp op, std::uint32_t size, Clock::time_point now)
      KVTIER_REQUIRES(mu_);
  void requeue_locked(Pending& p, const Next& next, Clock::time_point not_before)
      KVTIER_REQUIRES(mu_);
  void set_op_locked(Pending& p, OutboxOp op, std::uint32_t size, bool overwrite)
      KVTIER_REQUIRES(mu_);
  void erase_locked(const BlockId& id) KVTIER_REQUIRES(mu_);
  // A new block finds the outbox full: counted, and the Rejected it is answered.
  Status refuse_full_locked() KVTIER_REQUIRES(mu_);
  Status maybe_compact() KVTIER_REQUIRES(mu_);
  std::vector<std::byte> pending_records_locked() const KVTIER_REQUIRES(mu_);
  void append_owed_records(std::vector<std::byte>& bytes, std::uint64_t seq, const Pending& p) const;
  Status write_log(const std::vector<std::byte>& bytes, bool* switched, UniqueFd* fd) const;
  Status write_temp(const std::string& tmp, const std::vector<std::byte>& bytes, bool truncate) const;
  Status publish_temp(const std::string& tmp, bool* switched, UniqueFd* fd) const;
  void fail_locked(const Status& s) KVTIER_REQUIRES(mu_);
  void recover() KVTIER_REQUIRES(mu_);

  const std::string path_;
  const std::uint64_t capacity_;
  std::uint64_t replayed_ = 0;

  mutable Mutex mu_;
  std::condition_variable_any synced_cv_;  // wait(synced_cv_, mu_) (sync/mutex.h)
  UniqueFd fd_ KVTIER_GUARDED_BY(mu_);
  std::unordered_map<BlockId, Pending, KeyedIdHash> pending_ KVTIER_GUARDED_BY(mu_);
  std::map<std::uint64_t, BlockId> by_seq_ KVTIER_GUARDED_BY(mu_);
  std::uint64_t pending_bytes_ KVTIER_GUARDED_BY(mu_) = 0;
  std::uint64_t next_seq_ KVTIER_GUARDED_BY(mu_) = 1;
  std::vector<std::byte> queued_ KVTIER_GUARDED_BY(mu_);  // records not yet written
  std::uint64_t queued_upto_ KVTIER_GUARDED_BY(mu_) = 0;  // ticket of the last queued record
  std::uint64_t durable_upto_ KVTIER_GUARDED_BY(mu_) = 0;  // tickets written and synced
  bool syncing_ KVTIER_GUARDED_BY(mu_) = false;  // one caller writes and syncs at a time
  Status sticky_error_ KVTIER_GUARDED_BY(mu_);  // the error state (fail_locked)
  Clock::time_point failed_since_ KVTIER_GUARDED_BY(mu_){};
  Clock::time_point last_recover_try_ KVTIER_GUARDED_BY(mu_){};
  std::uint64_t recoveries_ KVTIER_GUARDED_BY(mu_) = 0;
  std::uint64_t log_records_ KVTIER_GUARDED_BY(mu_) = 0;  // records in the file
  std::uint64_t rejected_full_ KVTIER_GUARDED_BY(mu_) = 0;
  // A compaction is writing the pending set to a temporary file without the lock; records
  // written to the log meanwhile are kept in compaction_tail_ and appended to it before the
  // rename.
  bool compacting_ KVTIER_GUARDED_BY(mu_) = false;
  std::vector<std::byte> compaction_tail_ KVTIER_GUARDED_BY(mu_);
  std::function<void()> compaction_hook_ KVTIER_GUARDED_BY(mu_);  // read under it, called without
};

}  // namespace kvtier::shared
