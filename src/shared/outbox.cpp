// Outbox (see outbox.h).
#include "shared/outbox.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "integrity/checksum.h"
#include "sync/mutex.h"

#include <spdlog/spdlog.h>

namespace kvtier::shared {
namespace {

// "KVTO" read as a little-endian u32.
constexpr std::uint32_t kRecordMagic = 0x4f54564bu;
constexpr std::uint8_t kRecordVersion = 1;
constexpr std::uint8_t kAdd = 1;
constexpr std::uint8_t kDone = 2;
constexpr std::uint8_t kRemove = 3;  // since 2026-12: an older kvtierd stops its replay at one

// One log record. The layout is pinned: docs/SHARED_TIER.md describes it.
struct Record {
  std::uint32_t magic;
  std::uint8_t type;
  std::uint8_t version;
  std::uint16_t reserved;
  std::uint32_t ns;
  std::uint32_t size;
  std::uint8_t key[16];
  std::uint64_t seq;
  std::uint64_t checksum;  // block_checksum of the 40 bytes above
};
static_assert(sizeof(Record) == 48, "outbox record layout is pinned");

std::uint64_t record_checksum(const Record& r) {
  return block_checksum(std::span(reinterpret_cast<const std::byte*>(&r), offsetof(Record, checksum)));
}

Record make_record(std::uint8_t type, const BlockId& id, std::uint32_t size, std::uint64_t seq) {
  Record r{};
  r.magic = kRecordMagic;
  r.type = type;
  r.version = kRecordVersion;
  r.ns = id.ns;
  r.size = size;
  std::memcpy(r.key, id.key.bytes.data(), sizeof r.key);
  r.seq = seq;
  r.checksum = record_checksum(r);
  return r;
}

void append_record(std::vector<std::byte>& out, const Record& r) {
  const auto* p = reinterpret_cast<const std::byte*>(&r);
  out.insert(out.end(), p, p + sizeof r);
}

Status write_all(int fd, const std::byte* data, std::size_t len, const std::string& path) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("outbox " + path + ": write", errno);
    }
    data += n;
    len -= static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status sync_dir_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d.valid()) return Status::FromErrno("outbox: open directory " + dir, errno);
  if (::fsync(d.get()) != 0) return Status::FromErrno("outbox: fsync directory " + dir, errno);
  return Status::Ok();
}

constexpr auto kMaxBackoff = std::chrono::seconds(30);
// How often a failed log is tried again (a full rewrite of the pending set) while appends come.
constexpr auto kRecoverInterval = std::chrono::seconds(1);
constexpr auto kFirstBackoff = std::chrono::milliseconds(100);

}  // namespace

Result<std::unique_ptr<Outbox>> Outbox::open(const std::string& path, std::uint64_t capacity) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno("outbox: open " + path, errno);
  std::unique_ptr<Outbox> box(new Outbox(path, capacity, std::move(fd)));
  KVTIER_RETURN_IF_ERROR(box->replay());
  return box;
}

Outbox::Outbox(std::string path, std::uint64_t capacity, UniqueFd fd)
    : path_(std::move(path)), capacity_(capacity), fd_(std::move(fd)) {}

Outbox::~Outbox() { (void)sync(); }

Status Outbox::replay() {
  MutexLock lock(mu_);  // uncontended: open() has not returned the outbox yet
  struct stat st{};
  if (::fstat(fd_.get(), &st) != 0) return Status::FromErrno("outbox: stat " + path_, errno);
  const std::size_t total = static_cast<std::size_t>(st.st_size);
  std::vector<Record> records(total / sizeof(Record));
  std::size_t got = 0;
  auto* dst = reinterpret_cast<std::byte*>(records.data());
  const std::size_t want = records.size() * sizeof(Record);
  while (got < want) {
    ssize_t n = ::pread(fd_.get(), dst + got, want - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("outbox: read " + path_, errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  std::size_t valid = 0;
  const auto now = Clock::now();
  for (; valid < got / sizeof(Record); ++valid) {
    const Record& r = records[valid];
    if (r.magic != kRecordMagic || r.version != kRecordVersion || r.checksum != record_checksum(r) ||
        (r.type != kAdd && r.type != kDone && r.type != kRemove)) {
      break;  // a torn or foreign tail: nothing after it was acknowledged
    }
    BlockId id{r.ns, {}};
    std::memcpy(id.key.bytes.data(), r.key, sizeof r.key);
    replay_record(r.type, id, r.size, now);
  }
  log_records_ = valid;
  if (valid * sizeof(Record) != total &&
      ::ftruncate(fd_.get(), static_cast<off_t>(valid * sizeof(Record))) != 0) {
    return Status::FromErrno("outbox: truncate the torn tail of " + path_, errno);
  }
  replayed_ = pending_.size();
  return Status::Ok();
}

// An ADD or REMOVE record becomes its entry's ticket: what a caller relying on it waits for.
void Outbox::queue_record(std::uint8_t type, const BlockId& id, std::uint32_t size) {
  Pending* p = type == kDone ? nullptr : &pending_.at(id);
  append_record(queued_, make_record(type, id, size, p != nullptr ? p->entry.seq : 0));
  ++queued_upto_;
  if (p != nullptr) p->ticket = queued_upto_;
}

// Applies one record to the pending set, as the operations that wrote it did. Seqs are renumbered
// in log order, which is the order of acknowledgement: the recorded seq is not trusted to be
// unique (a damaged or hand-edited log that verifies could repeat one, and two blocks under one
// seq would leave one of them out of the work order for good).
void Outbox::replay_record(std::uint8_t type, const BlockId& id, std::uint32_t size,
                           Clock::time_point now) {
  auto it = pending_.find(id);
  if (type == kDone) {
    erase_locked(id);
  } else if (it == pending_.end()) {
    insert_locked(id, type == kAdd ? OutboxOp::kUpload : OutboxOp::kRemove, size, now);
  } else if (type == kRemove) {
    set_op_locked(it->second, OutboxOp::kRemove, 0, false);
  } else if (it->second.entry.op == OutboxOp::kRemove) {
    set_op_locked(it->second, OutboxOp::kUpload, size, /*overwrite=*/true);
  }
}

Status Outbox::write_records(int fd, const std::vector<std::byte>& bytes, bool sync) const {
  KVTIER_RETURN_IF_ERROR(write_all(fd, bytes.data(), bytes.size(), path_));
  if (sync && ::fdatasync(fd) != 0) {
    return Status::FromErrno("outbox " + path_ + ": fdatasync", errno);
  }
  return Status::Ok();
}

// Waits until every record up to ticket `upto` is written and synced, doing the write itself when
// no other caller is. The fd is replaced only by a caller that set syncing_, so the one this
// caller read under the lock stays open for the write, which runs without the lock.
Status Outbox::commit_queued(std::uint64_t upto) {
  while (durable_upto_ < upto && sticky_error_.ok()) {
    if (syncing_) {
      wait(synced_cv_, mu_);
      continue;
    }
    syncing_ = true;
    std::vector<std::byte> bytes = std::move(queued_);
    queued_.clear();
    std::uint64_t batch_upto = queued_upto_;
    const int fd = fd_.get();
    Status s;
    {
      MutexUnlock unlocked(mu_);
      s = write_records(fd, bytes, /*sync=*/true);
    }
    syncing_ = false;
    if (s.ok()) {
      durable_upto_ = batch_upto;
      log_records_ += bytes.size() / sizeof(Record);
      if (compacting_) compaction_tail_.insert(compaction_tail_.end(), bytes.begin(), bytes.end());
    } else {
      fail_locked(s);
    }
    synced_cv_.notify_all();
  }
  return sticky_error_;
}

// The log can no longer be trusted to hold what is appended to it (a short or failed write or
// sync: how much of it reached the file is unknown). From here on nothing is promised: append()
// answers the error, and no record is queued (they could not be written, and would pile up).
// Pending blocks stay pending and are still uploaded while this process lives. The log is
// rewritten whole to recover (recover()).
void Outbox::fail_locked(const Status& s) {
  if (!sticky_error_.ok()) return;
  sticky_error_ = s;
  queued_.clear();
  durable_upto_ = queued_upto_;
  failed_since_ = Clock::now();
  spdlog::error("event=outbox_failed path={} error=\"{}\" msg=\"puts are stored locally only "
                "until the log can be rewritten\"", path_, s.to_string());
}

// In the error state, at most once per kRecoverInterval: rewrites the log from the pending set.
// The rewrite runs without the lock (as a commit does, with syncing_ set), so on a disk that
// hangs no client waits on it: appends are refused meanwhile, as in the error state. On success
// the outbox takes promises again. Blocks completed meanwhile stay in the new log and are
// uploaded again after a crash (uploads are idempotent).
void Outbox::recover() {
  if (sticky_error_.ok() || syncing_ || compacting_) return;
  const auto now = Clock::now();
  if (now - last_recover_try_ < kRecoverInterval) return;
  last_recover_try_ = now;
  syncing_ = true;
  const std::vector<std::byte> bytes = pending_records_locked();
  bool switched = false;
  UniqueFd fd;
  Status s;
  {
    MutexUnlock unlocked(mu_);
    s = write_log(bytes, &switched, &fd);
  }
  syncing_ = false;
  if (switched && fd.valid()) fd_ = std::move(fd);
  if (s.ok()) {
    log_records_ = bytes.size() / sizeof(Record);
    queued_.clear();
    durable_upto_ = queued_upto_;
    sticky_error_ = Status::Ok();
    ++recoveries_;
    // Removals owed while the log was failed, some perhaps after the snapshot was taken: their
    // records follow the rewrite (again, for those it holds: replaying them changes nothing).
    for (auto& [seq, id] : by_seq_) {
      Pending& p = pending_.at(id);
      if (!p.unlogged) continue;
      p.unlogged = false;
      const std::size_t before = queued_.size();
      append_owed_records(queued_, seq, p);
      queued_upto_ += (queued_.size() - before) / sizeof(Record);
      p.ticket = queued_upto_;
    }
    spdlog::warn("event=outbox_recovered path={} pending={} failed_for_s={}", path_,
                 pending_.size(),
                 std::chrono::duration_cast<std::chrono::seconds>(now - failed_since_).count());
  }
  synced_cv_.notify_all();
}

void Outbox::append(std::span<const BlockId> ids, std::span<const std::uint32_t> sizes,
                    std::span<Status> out) {
  MutexLock lock(mu_);
  recover();
  if (!sticky_error_.ok()) {
    for (std::size_t i = 0; i < ids.size(); ++i) out[i] = sticky_error_;
    return;
  }
  const auto now = Clock::now();
  std::uint64_t wait_upto = 0;  // the ticket of the records this call depends on
  for (std::size_t i = 0; i < ids.size(); ++i) {
    out[i] = Status::Ok();
    auto found = pending_.find(ids[i]);
    if (found == pending_.end()) {
      if (pending_.size() >= capacity_) {
        out[i] = refuse_full_locked();
        continue;
      }
      insert_locked(ids[i], OutboxOp::kUpload, sizes[i], now);
      queue_record(kAdd, ids[i], sizes[i]);
    } else if (Pending& p = found->second; p.in_flight) {
      // The operation in flight may have read the block before this PUT stored it (or found it
      // gone), or be the removal of an older copy: this PUT gets an upload of its own, after it.
      const bool after_removal = p.entry.op == OutboxOp::kRemove || p.entry.overwrite ||
                                 (p.next && p.next->op == OutboxOp::kRemove) ||
                                 (p.next && p.next->overwrite);
      if (!p.next || p.next->op == OutboxOp::kRemove) {
        p.next = Next{OutboxOp::kUpload, sizes[i], after_removal};
        queue_record(kAdd, ids[i], sizes[i]);
      }
    } else if (p.entry.op == OutboxOp::kRemove) {
      // Removed, not yet done: the upload follows the removal's record and writes over any copy.
      set_op_locked(p, OutboxOp::kUpload, sizes[i], /*overwrite=*/true);
      queue_record(kAdd, ids[i], sizes[i]);
    }
    // Otherwise an upload is already owed and not started: it reads the bytes this PUT stored.
    // Either way the PUT is acknowledged only once the record that owes it is durable (a
    // concurrent PUT of the same key may have queued it).
    wait_upto = std::max(wait_upto, pending_.at(ids[i]).ticket);
  }
  if (wait_upto == 0) return;
  Status s = commit_queued(wait_upto);
  if (s.ok()) return;
  // Not durable: the blocks stay pending in memory (uploaded if this process lives), but the
  // caller learns its promise could not be kept.
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (out[i].ok()) out[i] = s;
  }
}

Status Outbox::append_removal(const BlockId& id) {
  std::uint64_t ticket = 0;
  Status s = queue_removal(id, &ticket);
  if (!s.ok()) return s;
  return wait_durable(ticket);
}

Status Outbox::queue_removal(const BlockId& id, std::uint64_t* ticket) {
  MutexLock lock(mu_);
  *ticket = 0;
  recover();
  const bool record = sticky_error_.ok();
  auto found = pending_.find(id);
  if (found == pending_.end()) {
    if (pending_.size() >= capacity_) return refuse_full_locked();
    insert_locked(id, OutboxOp::kRemove, 0, Clock::now());
  } else if (Pending& p = found->second; p.in_flight ? p.next && p.next->op == OutboxOp::kRemove
                                                       : p.entry.op == OutboxOp::kRemove) {
    *ticket = p.ticket;  // the removal is owed already
    return record ? Status::Ok() : sticky_error_;
  } else if (p.in_flight) {
    p.next = Next{OutboxOp::kRemove, 0, false};
  } else {
    set_op_locked(p, OutboxOp::kRemove, 0, false);
  }
  Pending& p = pending_.at(id);
  if (!record) {
    // Owed in memory, done while this process lives; the rewrite that ends the error state logs
    // it (recover()), even one whose snapshot was taken before this change.
    p.unlogged = true;
    return sticky_error_;
  }
  queue_record(kRemove, id, 0);
  *ticket = p.ticket;
  return Status::Ok();
}

Status Outbox::refuse_full_locked() {
  ++rejected_full_;
  return Status::Rejected("the shared-tier outbox is full (" + std::to_string(capacity_) +
                          " blocks)");
}

Status Outbox::wait_durable(std::uint64_t ticket) {
  MutexLock lock(mu_);
  if (ticket == 0) return sticky_error_;
  return commit_queued(ticket);
}

std::vector<OutboxEntry> Outbox::take(std::size_t max) {
  MutexLock lock(mu_);
  std::vector<OutboxEntry> out;
  const auto now = Clock::now();
  for (auto it = by_seq_.begin(); it != by_seq_.end() && out.size() < max; ++it) {
    Pending& p = pending_.at(it->second);
    if (p.in_flight || p.not_before > now) continue;
    p.in_flight = true;
    out.push_back(p.entry);
  }
  return out;
}

Outbox::Pending& Outbox::insert_locked(const BlockId& id, OutboxOp op, std::uint32_t size,
                                       Clock::time_point now) {
  const std::uint64_t seq = next_seq_++;
  auto [it, inserted] = pending_.emplace(id, Pending{OutboxEntry{id, size, seq, 0, op, false}, now, now});
  by_seq_.emplace(seq, id);
  pending_bytes_ += size;
  return it->second;
}

// Changes what a pending entry not in flight owes, keeping its place in the work order.
void Outbox::set_op_locked(Pending& p, OutboxOp op, std::uint32_t size, bool overwrite) {
  pending_bytes_ = pending_bytes_ - p.entry.size + size;
  p.entry.op = op;
  p.entry.size = size;
  p.entry.overwrite = overwrite;
}

// The operation in flight is over and another was asked for meanwhile: that one is pending now,
// at the end of the work order (it was asked for last).
void Outbox::requeue_locked(Pending& p, const Next& next, Clock::time_point not_before) {
  set_op_locked(p, next.op, next.size, next.overwrite);
  by_seq_.erase(p.entry.seq);
  p.entry.seq = next_seq_++;
  by_seq_.emplace(p.entry.seq, p.entry.id);
  p.in_flight = false;
  p.next.reset();
  p.not_before = not_before;
}

void Outbox::erase_locked(const BlockId& id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  by_seq_.erase(it->second.entry.seq);
  pending_bytes_ -= it->second.entry.size;
  pending_.erase(it);
}

void Outbox::complete(const OutboxEntry& entry) {
  MutexLock lock(mu_);
  auto it = pending_.find(entry.id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  if (p.next) {
    // No DONE: the log's records for this block end with the one that asked for `next`.
    p.entry.attempts = 0;
    requeue_locked(p, *p.next, Clock::now());
    return;
  }
  if (sticky_error_.ok()) queue_record(kDone, entry.id, 0);
  erase_locked(entry.id);
  (void)maybe_compact();
}

void Outbox::remove_instead(const OutboxEntry& entry) {
  MutexLock lock(mu_);
  auto it = pending_.find(entry.id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  // No record: the log already says REMOVE then ADD (an overwriting upload), which replays as
  // this upload again, which again finds the block gone and ends here.
  requeue_locked(p, p.next.value_or(Next{OutboxOp::kRemove, 0, false}), Clock::now());
}

void Outbox::retry_later(const OutboxEntry& entry) {
  MutexLock lock(mu_);
  auto it = pending_.find(entry.id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  p.entry.attempts = entry.attempts + 1;
  auto backoff = kFirstBackoff * (1u << std::min<std::uint32_t>(p.entry.attempts - 1, 10));
  const auto not_before = Clock::now() + std::min<Clock::duration>(backoff, kMaxBackoff);
  if (p.next) {
    // What was asked for since supersedes the failed operation (a removal after a failed upload,
    // an overwriting upload after a failed removal), still after the backoff.
    requeue_locked(p, *p.next, not_before);
    return;
  }
  p.in_flight = false;
  p.not_before = not_before;
}

void Outbox::owes(std::span<const BlockId> ids, std::span<std::uint8_t> owed) const {
  MutexLock lock(mu_);
  for (std::size_t i = 0; i < ids.size(); ++i) owed[i] = pending_.count(ids[i]) != 0 ? 1 : 0;
}

std::uint64_t Outbox::pending() const {
  MutexLock lock(mu_);
  return pending_.size();
}

std::uint64_t Outbox::pending_bytes() const {
  MutexLock lock(mu_);
  return pending_bytes_;
}

std::uint64_t Outbox::rejected_full() const {
  MutexLock lock(mu_);
  return rejected_full_;
}

std::chrono::seconds Outbox::oldest_age() const {
  MutexLock lock(mu_);
  if (by_seq_.empty()) return std::chrono::seconds(0);
  const Pending& p = pending_.at(by_seq_.begin()->second);
  return std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - p.added);
}

Status Outbox::sync() {
  MutexLock lock(mu_);
  recover();
  Status s = commit_queued(queued_upto_);
  if (!s.ok()) return s;
  return maybe_compact();
}

void Outbox::set_compaction_hook(std::function<void()> hook) {
  MutexLock lock(mu_);
  compaction_hook_ = std::move(hook);
}

// Rewrites the log as the records of the pending set once DONE records dominate it, without
// holding the lock while it writes that set: appends go on into the old log meanwhile, and their
// records (compaction_tail_) are appended to the new file before it is renamed over the old one.
// Only that tail is written while appends wait (as behind any commit: syncing_ is set).
// Replaying the tail after the set is exact: each record of a block sets what the block owes, so
// a record the set already reflects, applied again, leaves the same state.
Status Outbox::maybe_compact() {
  if (compacting_ || syncing_ || !sticky_error_.ok()) return Status::Ok();
  const std::uint64_t in_file = log_records_ + queued_.size() / sizeof(Record);
  if (in_file < 2 * pending_.size() + 65536) return Status::Ok();
  compacting_ = true;
  compaction_tail_.clear();
  const std::vector<std::byte> set = pending_records_locked();
  std::function<void()> hook = compaction_hook_;
  const std::string tmp = path_ + ".compact";
  Status s;
  {
    MutexUnlock unlocked(mu_);
    s = write_temp(tmp, set, /*truncate=*/true);
    if (hook) hook();
  }
  // Wait out a commit in progress so the tail holds every record written to the old log.
  while (syncing_) wait(synced_cv_, mu_);
  compacting_ = false;
  std::vector<std::byte> tail = std::move(compaction_tail_);
  compaction_tail_.clear();
  if (!s.ok() || !sticky_error_.ok()) {
    ::unlink(tmp.c_str());
    return s;  // the old log is intact and still correct
  }
  syncing_ = true;
  bool switched = false;
  UniqueFd fd;
  {
    MutexUnlock unlocked(mu_);
    s = write_temp(tmp, tail, /*truncate=*/false);
    if (s.ok()) {
      s = publish_temp(tmp, &switched, &fd);
    } else {
      ::unlink(tmp.c_str());
    }
  }
  syncing_ = false;
  if (switched && fd.valid()) fd_ = std::move(fd);
  if (switched) log_records_ = (set.size() + tail.size()) / sizeof(Record);
  // Before the rename the old log is intact and still correct; after it, a failure (a reopen or
  // a directory sync) leaves the log in doubt.
  if (!s.ok() && switched) fail_locked(s);
  synced_cv_.notify_all();
  return s;
}

// The records of every pending entry, oldest first: what it owes once the operation in flight
// and the one asked for since are done. An overwriting upload is written as REMOVE then ADD, as
// the operations that made it wrote them.
std::vector<std::byte> Outbox::pending_records_locked() const {
  std::vector<std::byte> bytes;
  bytes.reserve(pending_.size() * sizeof(Record));
  for (const auto& [seq, id] : by_seq_) append_owed_records(bytes, seq, pending_.at(id));
  return bytes;
}

void Outbox::append_owed_records(std::vector<std::byte>& bytes, std::uint64_t seq,
                                 const Pending& p) const {
  const Next owed = p.next ? *p.next : Next{p.entry.op, p.entry.size, p.entry.overwrite};
  if (owed.op == OutboxOp::kRemove || owed.overwrite) {
    append_record(bytes, make_record(kRemove, p.entry.id, 0, seq));
  }
  if (owed.op == OutboxOp::kUpload) append_record(bytes, make_record(kAdd, p.entry.id, owed.size, seq));
}

// Writes `bytes` to the temporary file `tmp` (created, or appended to) and syncs it.
Status Outbox::write_temp(const std::string& tmp, const std::vector<std::byte>& bytes,
                          bool truncate) const {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND);
  UniqueFd out(::open(tmp.c_str(), flags, 0600));
  if (!out.valid()) return Status::FromErrno("outbox: open " + tmp, errno);
  Status s = write_all(out.get(), bytes.data(), bytes.size(), tmp);
  if (s.ok() && ::fdatasync(out.get()) != 0) s = Status::FromErrno("outbox: fdatasync " + tmp, errno);
  return s;
}

// Renames the synced `tmp` over the log, reopens it for appends (*fd) and syncs the directory.
// *switched: the rename happened (the log is the new file, even if a later step failed; *fd is
// then valid if the reopen worked). Touches no member but path_, so it may run without mu_.
Status Outbox::publish_temp(const std::string& tmp, bool* switched, UniqueFd* fd) const {
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    Status s = Status::FromErrno("outbox: rename " + tmp, errno);
    ::unlink(tmp.c_str());
    return s;  // the old log is intact and still correct
  }
  *switched = true;
  *fd = UniqueFd(::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
  if (!fd->valid()) return Status::FromErrno("outbox: reopen " + path_, errno);
  // Without a synced directory the rename may not survive a crash, and the old log would come
  // back without what is appended to the new one: the caller promises nothing until a rewrite
  // syncs.
  return sync_dir_of(path_);
}

// Writes `bytes` as the whole log (write_temp, then publish_temp).
Status Outbox::write_log(const std::vector<std::byte>& bytes, bool* switched,
                         UniqueFd* fd) const {
  const std::string tmp = path_ + ".compact";
  Status s = write_temp(tmp, bytes, /*truncate=*/true);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return publish_temp(tmp, switched, fd);
}

bool Outbox::failed() const {
  MutexLock lock(mu_);
  return !sticky_error_.ok();
}

std::uint64_t Outbox::recoveries() const {
  MutexLock lock(mu_);
  return recoveries_;
}

}  // namespace kvtier::shared
