// Outbox: the durable list of blocks acknowledged to a writer but not yet in the shared tier.
//
// It records which blocks are still to upload, never their bytes: the bytes are in the local tiers
// (DRAM, NVMe), and an uploader reads them from there. The list is an append-only log in the data
// directory (on the NVMe tier's device), <data_dir>/shared-outbox.log, of fixed 48-byte records:
//   ADD  (ns, key, size)  the block must reach the shared tier; written and fdatasync'ed before
//                         append() returns, so a PUT acknowledged after it survives SIGKILL
//   DONE (ns, key)        the block was uploaded (or can no longer be); not synced: losing it
//                         after a crash only repeats an upload, and uploads are idempotent
// Each record carries its own checksum; replay stops at the first record that fails it (a torn
// tail: its append never returned, so nothing acknowledged is lost) and truncates the log there.
// When the log holds many more records than pending blocks it is rewritten (temp file, fsync,
// rename) with one ADD per pending block.
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
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "keys/id_hash.h"
#include "kvtier/key.h"
#include "kvtier/status.h"
#include "kvtier/store.h"
#include "server/unique_fd.h"

namespace kvtier::shared {

struct OutboxEntry {
  BlockId id;
  std::uint32_t size = 0;  // value bytes, for the drain rate and progress
  std::uint64_t seq = 0;   // order of acknowledgement; uploads go oldest first
  std::uint32_t attempts = 0;
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

  // Up to `max` pending blocks not being uploaded and not backing off, oldest first; they are
  // marked in flight until complete() or retry_later().
  std::vector<OutboxEntry> take(std::size_t max);
  // The block reached the shared tier, or will never (no longer held locally): not pending.
  void complete(const OutboxEntry& entry);
  // The upload failed: pending again after a backoff that doubles with every attempt.
  void retry_later(const OutboxEntry& entry);
  // The block was removed by its owner: no longer to upload (unless in flight already).
  void forget(const BlockId& id);

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

 private:
  struct Pending {
    OutboxEntry entry;
    Clock::time_point added;
    Clock::time_point not_before;  // backoff after a failed upload
    bool in_flight = false;
    std::uint64_t add_ticket = 0;  // the queued_upto_ ticket of its ADD record
  };

  Outbox(std::string path, std::uint64_t capacity, server::UniqueFd fd);
  Status replay();
  Status write_records(const std::vector<std::byte>& bytes, bool sync);
  void queue_record(std::uint8_t type, const BlockId& id, std::uint32_t size);
  Status commit_queued(std::unique_lock<std::mutex>& lock, std::uint64_t upto);
  void erase_locked(const BlockId& id);
  Status maybe_compact_locked();
  std::vector<std::byte> pending_records_locked() const;
  Status write_log(const std::vector<std::byte>& bytes, bool* switched, server::UniqueFd* fd) const;
  void fail_locked(const Status& s);
  void recover(std::unique_lock<std::mutex>& lock);

  const std::string path_;
  const std::uint64_t capacity_;
  std::uint64_t replayed_ = 0;

  mutable std::mutex mu_;
  std::condition_variable synced_cv_;
  server::UniqueFd fd_;                                                // guarded by mu_
  std::unordered_map<BlockId, Pending, KeyedIdHash> pending_;              // guarded by mu_
  std::map<std::uint64_t, BlockId> by_seq_;                            // guarded by mu_
  std::uint64_t pending_bytes_ = 0;                                    // guarded by mu_
  std::uint64_t next_seq_ = 1;                                         // guarded by mu_
  std::vector<std::byte> queued_;          // records not yet written; guarded by mu_
  std::uint64_t queued_upto_ = 0;          // ticket of the last queued record; guarded by mu_
  std::uint64_t durable_upto_ = 0;         // tickets written and synced; guarded by mu_
  bool syncing_ = false;                   // one caller writes and syncs at a time; by mu_
  Status sticky_error_;                    // the error state (fail_locked); guarded by mu_
  Clock::time_point failed_since_{};       // guarded by mu_
  Clock::time_point last_recover_try_{};   // guarded by mu_
  std::uint64_t recoveries_ = 0;           // guarded by mu_
  std::uint64_t log_records_ = 0;          // records in the file; guarded by mu_
  std::uint64_t rejected_full_ = 0;        // guarded by mu_
};

}  // namespace kvtier::shared
