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

#include <spdlog/spdlog.h>

namespace kvtier::shared {
namespace {

// "KVTO" read as a little-endian u32.
constexpr std::uint32_t kRecordMagic = 0x4f54564bu;
constexpr std::uint8_t kRecordVersion = 1;
constexpr std::uint8_t kAdd = 1;
constexpr std::uint8_t kDone = 2;

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
  server::UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
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
  server::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno("outbox: open " + path, errno);
  std::unique_ptr<Outbox> box(new Outbox(path, capacity, std::move(fd)));
  KVTIER_RETURN_IF_ERROR(box->replay());
  return box;
}

Outbox::Outbox(std::string path, std::uint64_t capacity, server::UniqueFd fd)
    : path_(std::move(path)), capacity_(capacity), fd_(std::move(fd)) {}

Outbox::~Outbox() { (void)sync(); }

Status Outbox::replay() {
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
        (r.type != kAdd && r.type != kDone)) {
      break;  // a torn or foreign tail: nothing after it was acknowledged
    }
    BlockId id{r.ns, {}};
    std::memcpy(id.key.bytes.data(), r.key, sizeof r.key);
    if (r.type == kDone) {
      erase_locked(id);
      continue;
    }
    if (pending_.count(id) != 0) continue;
    // Seqs are renumbered in log order, which is the order of acknowledgement: the recorded seq
    // is not trusted to be unique (a damaged or hand-edited log that verifies could repeat one,
    // and two blocks under one seq would leave one of them out of the upload order for good).
    const std::uint64_t seq = next_seq_++;
    Pending p{OutboxEntry{id, r.size, seq, 0}, now, now, false};
    pending_.emplace(id, p);
    by_seq_.emplace(seq, id);
    pending_bytes_ += r.size;
  }
  log_records_ = valid;
  if (valid * sizeof(Record) != total &&
      ::ftruncate(fd_.get(), static_cast<off_t>(valid * sizeof(Record))) != 0) {
    return Status::FromErrno("outbox: truncate the torn tail of " + path_, errno);
  }
  replayed_ = pending_.size();
  return Status::Ok();
}

void Outbox::queue_record(std::uint8_t type, const BlockId& id, std::uint32_t size) {
  std::uint64_t seq = type == kAdd ? pending_.at(id).entry.seq : 0;
  append_record(queued_, make_record(type, id, size, seq));
  ++queued_upto_;
}

Status Outbox::write_records(const std::vector<std::byte>& bytes, bool sync) {
  KVTIER_RETURN_IF_ERROR(write_all(fd_.get(), bytes.data(), bytes.size(), path_));
  if (sync && ::fdatasync(fd_.get()) != 0) {
    return Status::FromErrno("outbox " + path_ + ": fdatasync", errno);
  }
  return Status::Ok();
}

// Waits until every record up to ticket `upto` is written and synced, doing the write itself when
// no other caller is. The fd is used only by the caller that set syncing_, so the write runs
// without the lock.
Status Outbox::commit_queued(std::unique_lock<std::mutex>& lock, std::uint64_t upto) {
  while (durable_upto_ < upto && sticky_error_.ok()) {
    if (syncing_) {
      synced_cv_.wait(lock);
      continue;
    }
    syncing_ = true;
    std::vector<std::byte> bytes = std::move(queued_);
    queued_.clear();
    std::uint64_t batch_upto = queued_upto_;
    lock.unlock();
    Status s = write_records(bytes, /*sync=*/true);
    lock.lock();
    syncing_ = false;
    if (s.ok()) {
      durable_upto_ = batch_upto;
      log_records_ += bytes.size() / sizeof(Record);
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
void Outbox::recover(std::unique_lock<std::mutex>& lock) {
  if (sticky_error_.ok() || syncing_) return;
  const auto now = Clock::now();
  if (now - last_recover_try_ < kRecoverInterval) return;
  last_recover_try_ = now;
  syncing_ = true;
  const std::vector<std::byte> bytes = pending_records_locked();
  lock.unlock();
  bool switched = false;
  server::UniqueFd fd;
  Status s = write_log(bytes, &switched, &fd);
  lock.lock();
  syncing_ = false;
  if (switched && fd.valid()) fd_ = std::move(fd);
  if (s.ok()) {
    log_records_ = bytes.size() / sizeof(Record);
    queued_.clear();
    durable_upto_ = queued_upto_;
    sticky_error_ = Status::Ok();
    ++recoveries_;
    spdlog::warn("event=outbox_recovered path={} pending={} failed_for_s={}", path_,
                 pending_.size(),
                 std::chrono::duration_cast<std::chrono::seconds>(now - failed_since_).count());
  }
  synced_cv_.notify_all();
}

void Outbox::append(std::span<const BlockId> ids, std::span<const std::uint32_t> sizes,
                    std::span<Status> out) {
  std::unique_lock<std::mutex> lock(mu_);
  recover(lock);
  if (!sticky_error_.ok()) {
    for (std::size_t i = 0; i < ids.size(); ++i) out[i] = sticky_error_;
    return;
  }
  const auto now = Clock::now();
  bool queued_any = false;
  std::uint64_t wait_upto = 0;  // the ticket of the ADD records this call depends on
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto found = pending_.find(ids[i]);
    if (found != pending_.end()) {
      // Already promised, by an append whose ADD record may not be synced yet (a concurrent PUT
      // of the same key): this one is acknowledged only once that record is durable too.
      wait_upto = std::max(wait_upto, found->second.add_ticket);
      out[i] = Status::Ok();
      continue;
    }
    if (pending_.size() >= capacity_) {
      ++rejected_full_;
      out[i] = Status::Rejected("the shared-tier outbox is full (" + std::to_string(capacity_) +
                                " blocks)");
      continue;
    }
    std::uint64_t seq = next_seq_++;
    pending_.emplace(ids[i], Pending{OutboxEntry{ids[i], sizes[i], seq, 0}, now, now, false});
    by_seq_.emplace(seq, ids[i]);
    pending_bytes_ += sizes[i];
    queue_record(kAdd, ids[i], sizes[i]);
    pending_.at(ids[i]).add_ticket = queued_upto_;
    out[i] = Status::Ok();
    queued_any = true;
  }
  if (queued_any) wait_upto = queued_upto_;
  if (wait_upto == 0) return;
  Status s = commit_queued(lock, wait_upto);
  if (s.ok()) return;
  // Not durable: the blocks stay pending in memory (uploaded if this process lives), but the
  // caller learns its promise could not be kept.
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (out[i].ok()) out[i] = s;
  }
}

std::vector<OutboxEntry> Outbox::take(std::size_t max) {
  std::lock_guard<std::mutex> lock(mu_);
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

void Outbox::erase_locked(const BlockId& id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  by_seq_.erase(it->second.entry.seq);
  pending_bytes_ -= it->second.entry.size;
  pending_.erase(it);
}

void Outbox::complete(const OutboxEntry& entry) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(entry.id);
  // A newer append of the same block while this upload ran is the same bytes (one key, one
  // value), so the upload covers it too.
  if (it == pending_.end()) return;
  if (sticky_error_.ok()) queue_record(kDone, entry.id, 0);
  erase_locked(entry.id);
  (void)maybe_compact_locked();
}

void Outbox::retry_later(const OutboxEntry& entry) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(entry.id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  p.in_flight = false;
  p.entry.attempts = entry.attempts + 1;
  auto backoff = kFirstBackoff * (1u << std::min<std::uint32_t>(p.entry.attempts - 1, 10));
  p.not_before = Clock::now() + std::min<Clock::duration>(backoff, kMaxBackoff);
}

void Outbox::forget(const BlockId& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second.in_flight) return;
  if (sticky_error_.ok()) queue_record(kDone, id, 0);
  erase_locked(id);
}

std::uint64_t Outbox::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

std::uint64_t Outbox::pending_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_bytes_;
}

std::uint64_t Outbox::rejected_full() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rejected_full_;
}

std::chrono::seconds Outbox::oldest_age() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (by_seq_.empty()) return std::chrono::seconds(0);
  const Pending& p = pending_.at(by_seq_.begin()->second);
  return std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - p.added);
}

Status Outbox::sync() {
  std::unique_lock<std::mutex> lock(mu_);
  recover(lock);
  Status s = commit_queued(lock, queued_upto_);
  if (!s.ok()) return s;
  return maybe_compact_locked();
}

// Rewrites the log as one ADD per pending block once DONE records dominate it. Runs under the
// lock (appends wait for it: it is rare and writes only the pending set) and only when no write
// is in progress on the old file.
Status Outbox::maybe_compact_locked() {
  if (syncing_ || !sticky_error_.ok()) return Status::Ok();
  const std::uint64_t in_file = log_records_ + queued_.size() / sizeof(Record);
  if (in_file < 2 * pending_.size() + 65536) return Status::Ok();
  bool switched = false;
  server::UniqueFd fd;
  Status s = write_log(pending_records_locked(), &switched, &fd);
  if (switched && fd.valid()) fd_ = std::move(fd);
  if (switched) {
    // Every queued record is reflected in the rewrite (ADDs are pending, DONEs are gone).
    queued_.clear();
    durable_upto_ = queued_upto_;
    log_records_ = pending_.size();
    synced_cv_.notify_all();
  }
  // Before the rename the old log is intact and still correct; after it, a failure (a reopen or
  // a directory sync) leaves the log in doubt.
  if (!s.ok() && switched) fail_locked(s);
  return s;
}

// One ADD record per pending block, oldest first. REQUIRES: mu_ held.
std::vector<std::byte> Outbox::pending_records_locked() const {
  std::vector<std::byte> bytes;
  bytes.reserve(pending_.size() * sizeof(Record));
  for (const auto& [seq, id] : by_seq_) {
    append_record(bytes, make_record(kAdd, id, pending_.at(id).entry.size, seq));
  }
  return bytes;
}

// Writes `bytes` as the whole log: a temporary file, synced, renamed over the log, reopened for
// appends (*fd), the directory synced. *switched: the rename happened (the log is the new file,
// even if a later step failed; *fd is then valid if the reopen worked). Touches no member but
// path_, so it may run without mu_.
Status Outbox::write_log(const std::vector<std::byte>& bytes, bool* switched,
                         server::UniqueFd* fd) const {
  const std::string tmp = path_ + ".compact";
  server::UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) return Status::FromErrno("outbox: create " + tmp, errno);
  Status s = write_all(out.get(), bytes.data(), bytes.size(), tmp);
  if (s.ok() && ::fdatasync(out.get()) != 0) s = Status::FromErrno("outbox: fdatasync " + tmp, errno);
  if (s.ok() && ::rename(tmp.c_str(), path_.c_str()) != 0) {
    s = Status::FromErrno("outbox: rename " + tmp, errno);
  }
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;  // the old log is intact and still correct
  }
  *switched = true;
  *fd = server::UniqueFd(::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
  if (!fd->valid()) return Status::FromErrno("outbox: reopen " + path_, errno);
  // Without a synced directory the rename may not survive a crash, and the old log would come
  // back without what is appended to the new one: the caller promises nothing until a rewrite
  // syncs.
  return sync_dir_of(path_);
}

bool Outbox::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !sticky_error_.ok();
}

std::uint64_t Outbox::recoveries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return recoveries_;
}

}  // namespace kvtier::shared
