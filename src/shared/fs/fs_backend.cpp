// FsBackend (fs_backend.h): put by temp file and rename, get with full verification, stat-based
// contains, unlink, and the sweep as maintain().
#include "shared/fs/fs_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "integrity/check.h"
#include "integrity/checksum.h"
#include "posix/file_mode.h"
#include "shared/fs/fs_block_format.h"
#include "shared/fs/fs_layout.h"
#include "shared/fs/fs_sweep.h"

namespace kvtier::shared::fs {
namespace {

// Per-process sequence for temp names. A forked child inherits it but has its own pid, so
// (host, pid, n) stays unique.
std::atomic<std::uint64_t> g_temp_sequence{0};

// Bounds the create-temp retries when a concurrent sweep removes an empty directory between our
// mkdir and our create (fs_sweep.h, step 5). Each retry needs another sweep to win the race.
constexpr int kCreateAttempts = 4;

std::int64_t unix_now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string without_trailing_slashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

Status deadline_passed() {
  return Status::IOError("shared fs: deadline passed before this item was attempted");
}

// Unlinks a temp file on every path out of put_one except a successful rename.
class TempFileGuard {
 public:
  TempFileGuard() = default;
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;
  ~TempFileGuard() {
    if (!path_.empty()) (void)::unlink(path_.c_str());
  }
  void arm(const std::string& path) { path_ = path; }
  void disarm() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace

FsBackend::FsBackend(const SharedFsConfig& config, FsAccess access)
    : config_(config),
      access_(access),
      path_(without_trailing_slashes(config.path)),
      root_(tree_root(path_)),
      host_(safe_hostname()) {}

std::string FsBackend::describe() const { return "fs:" + path_; }

std::string FsBackend::block_path(const BlockId& id) const {
  return block_dir(root_, id) + '/' + block_file_name(id.key);
}

// out[i] = one(items[i]) while the deadline holds; every item after it is answered
// deadline_passed().
template <typename Item, typename Out, typename One>
void FsBackend::answer_each(std::span<const Item> items, std::span<Out> out, Deadline deadline,
                            One one) {
  KVTIER_CHECK(out.size() >= items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (Clock::now() > deadline) {
      FsCounters::bump(counters_.deadline_skips);
      out[i] = Out{deadline_passed()};
      continue;
    }
    out[i] = one(items[i]);
  }
}

// ---- put ---------------------------------------------------------------------------------------

void FsBackend::put_many(std::span<const SharedPut> items, std::span<Status> out,
                         Deadline deadline) {
  answer_each(items, out, deadline, [this](const SharedPut& item) {
    Status s = put_one(item);
    if (s.ok()) {
      FsCounters::bump(counters_.puts);
      FsCounters::bump(counters_.put_bytes, item.value.size());
    } else {
      FsCounters::bump(counters_.put_errors);
    }
    return s;
  });
}

Status FsBackend::put_one(const SharedPut& item) {
  const std::string dir = block_dir(root_, item.id);
  const std::string final_path = dir + '/' + block_file_name(item.id.key);
  const std::uint64_t n = g_temp_sequence.fetch_add(1, std::memory_order_relaxed);
  const std::string temp_path = dir + '/' + temp_file_name(item.id.key, host_, ::getpid(), n);

  TempFileGuard guard;  // declared before the fd: the fd is closed before the unlink
  Result<UniqueFd> fd = create_temp(dir, temp_path);
  if (!fd.ok()) return fd.status();
  guard.arm(temp_path);
  KVTIER_RETURN_IF_ERROR(write_block(fd->get(), item, temp_path));
  if (config_.fsync && ::fdatasync(fd->get()) != 0) return errno_status("fsync", temp_path, errno);
  KVTIER_RETURN_IF_ERROR(close_checked(*fd, temp_path));
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    return errno_status("rename", temp_path + " to " + final_path, errno);
  }
  guard.disarm();
  // The block is visible now; a failed directory fsync only means it might not survive a crash of
  // the file server, which the caller learns (and may retry: puts are idempotent).
  if (config_.fsync) KVTIER_RETURN_IF_ERROR(sync_dir(dir));
  return Status::Ok();
}

// Directories are created on demand: the first create in a new directory fails with ENOENT and
// creates the missing levels below root_ (never path_ itself: a missing mount point is an error,
// not something to fill on the local disk; and root_ only as ensure_root allows).
Result<UniqueFd> FsBackend::create_temp(const std::string& dir, const std::string& temp_path) {
  for (int attempt = 1;; ++attempt) {
    // Owner-only until set_file_access gives it exactly file_mode and the group.
    UniqueFd fd(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.valid()) {
      Status s = set_file_access(fd.get(), access_, temp_path);
      if (!s.ok()) {
        ::unlink(temp_path.c_str());
        return s;
      }
      return fd;
    }
    const int err = errno;
    if (err != ENOENT || attempt == kCreateAttempts) return errno_status("create", temp_path, err);
    KVTIER_RETURN_IF_ERROR(ensure_root());
    KVTIER_RETURN_IF_ERROR(make_dirs_below(root_, dir, access_));
  }
}

Status FsBackend::ensure_root() {
  return ensure_root_once(root_, path_, config_.create_root, root_seen_, access_);
}

Status FsBackend::write_block(int fd, const SharedPut& item, const std::string& temp_path) {
  alignas(kFsHeaderBytes) std::array<std::byte, kFsHeaderBytes> page{};
  const FsBlockHeader h = make_block_header(item.id, item.value, unix_now_ns());
  std::memcpy(page.data(), &h, sizeof(h));
  KVTIER_RETURN_IF_ERROR(pwrite_full(fd, page, 0, temp_path));
  return pwrite_full(fd, item.value, static_cast<off_t>(kFsHeaderBytes), temp_path);
}

// ---- get ---------------------------------------------------------------------------------------

void FsBackend::get_many(std::span<const SharedGet> items, std::span<GetResult> out,
                         Deadline deadline) {
  answer_each(items, out, deadline, [this](const SharedGet& item) {
    FsCounters::bump(counters_.gets);
    return get_one(item);
  });
}

GetResult FsBackend::get_one(const SharedGet& item) {
  const std::string path = block_path(item.id);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (!is_absent_errno(err)) return get_error(errno_status("open", path, err));
    FsCounters::bump(counters_.misses);
    return GetResult{Status::NotFound("shared fs: no block at " + path), 0, Tier::kNone};
  }
  return read_verified(fd.get(), item, path);
}

// Every check of the contract (shared_backend.h, "Integrity") before a byte counts as a hit.
GetResult FsBackend::read_verified(int fd, const SharedGet& item, const std::string& path) {
  FsBlockHeader h{};
  const ssize_t got = pread_full(fd, {reinterpret_cast<std::byte*>(&h), sizeof(h)}, 0);
  if (got < 0) return get_error(errno_status("read", path, errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) return get_error(errno_status("stat", path, errno));
  if (static_cast<std::size_t>(got) != sizeof(h)) return corrupt(path, fd, "shorter than a header");
  const char* why = header_mismatch(h, item.id, static_cast<std::uint64_t>(st.st_size));
  if (why != nullptr) return corrupt(path, fd, why);

  const std::uint64_t size = h.value_size;
  if (size > item.dst.size()) {
    FsCounters::bump(counters_.get_buffer_too_small);
    return GetResult{Status::BufferTooSmall("value is " + std::to_string(size) + " bytes, buffer " +
                                            std::to_string(item.dst.size())),
                     static_cast<std::size_t>(size), Tier::kShared};
  }
  const std::span<std::byte> value = item.dst.first(static_cast<std::size_t>(size));
  const ssize_t n_read = pread_full(fd, value, static_cast<off_t>(kFsHeaderBytes));
  if (n_read < 0) return get_error(errno_status("read", path, errno));
  if (static_cast<std::uint64_t>(n_read) != size) return corrupt(path, fd, "value cut short");
  if (block_checksum(value) != h.value_checksum) return corrupt(path, fd, "value checksum mismatch");
  FsCounters::bump(counters_.hits);
  return GetResult{Status::Ok(), value.size(), Tier::kShared};
}

// A file that failed verification is a miss, counted. It is also unlinked when the name still
// refers to the file we read, so an upload (which skips blocks contains_many finds) can replace
// it. A writer that renames a good block in between may lose it to this unlink: a later miss,
// never wrong bytes.
GetResult FsBackend::corrupt(const std::string& path, int fd, const char* why) {
  FsCounters::bump(counters_.corrupt_blocks);
  struct stat ours {}, now {};
  if (::fstat(fd, &ours) == 0 && ::lstat(path.c_str(), &now) == 0 && ours.st_dev == now.st_dev &&
      ours.st_ino == now.st_ino) {
    (void)::unlink(path.c_str());
  }
  return GetResult{Status::NotFound("shared fs: " + path + " failed verification (" + why +
                                    "); treated as a miss"),
                   0, Tier::kNone};
}

GetResult FsBackend::get_error(Status status) {
  FsCounters::bump(counters_.get_errors);
  return GetResult{std::move(status), 0, Tier::kNone};
}

// ---- contains, remove, ping --------------------------------------------------------------------

void FsBackend::contains_many(std::span<const BlockId> ids, std::span<Status> out,
                              Deadline deadline) {
  answer_each(ids, out, deadline, [this](const BlockId& id) { return contains_one(id); });
}

void FsBackend::keep_many(std::span<const BlockId> ids, std::span<Status> out, Deadline deadline) {
  answer_each(ids, out, deadline, [this](const BlockId& id) { return keep_one(id); });
}

// The header is read and checked against the id and the file's size (the value's checksum is a
// get's to check: a get removes a damaged file, and the next upload writes it again), and the
// file's modification time set to now: the age sweep (max_age_s, and oldest-first when over
// capacity) treats it as just written.
Status FsBackend::keep_one(const BlockId& id) {
  const std::string path = block_path(id);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (is_absent_errno(err)) return Status::NotFound("shared fs: no block at " + path);
    return errno_status("open", path, err);
  }
  FsBlockHeader h{};
  const ssize_t got = pread_full(fd.get(), {reinterpret_cast<std::byte*>(&h), sizeof(h)}, 0);
  if (got < 0) return errno_status("read", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_status("stat", path, errno);
  if (static_cast<std::size_t>(got) != sizeof(h) || !S_ISREG(st.st_mode) ||
      header_mismatch(h, id, static_cast<std::uint64_t>(st.st_size)) != nullptr) {
    return Status::NotFound("shared fs: " + path + " is not this block");
  }
  if (::futimens(fd.get(), nullptr) != 0) return errno_status("futimens", path, errno);
  return Status::Ok();
}

// A stat, not a verified read: a file too short to hold a header is certainly not a block, but
// any other damage is found (and the file removed) only by a get.
Status FsBackend::contains_one(const BlockId& id) const {
  const std::string path = block_path(id);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (is_absent_errno(err)) return Status::NotFound("shared fs: no block at " + path);
    return errno_status("stat", path, err);
  }
  if (!S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) < kFsHeaderBytes) {
    return Status::NotFound("shared fs: " + path + " is not a block file");
  }
  return Status::Ok();
}

Status FsBackend::remove(const BlockId& id, Deadline /*deadline*/) {
  const std::string path = block_path(id);
  if (::unlink(path.c_str()) == 0) return Status::Ok();
  const int err = errno;
  if (!is_absent_errno(err)) return errno_status("unlink", path, err);
  // Absent because the medium is (an unmounted mount point has no tree) is not "removed": the
  // copy would come back with the mount. ensure_root tells the two apart as writes do.
  KVTIER_RETURN_IF_ERROR(ensure_root());
  return Status::NotFound("shared fs: no block at " + path);
}

// The configured path must already be a directory (it is the mount point: when it is missing the
// filesystem is not there). The tree root below it is created when missing, the first time only.
Status FsBackend::ping(Deadline /*deadline*/) {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return errno_status("stat", path_, errno);
  if (!S_ISDIR(st.st_mode)) return errno_status("stat", path_, ENOTDIR);
  return ensure_root();
}

// ---- sweep and counters ------------------------------------------------------------------------

Status FsBackend::maintain() {
  SweepPolicy policy;
  policy.capacity_bytes = config_.capacity_bytes;
  policy.max_age = config_.max_age;
  policy.now_unix_ns = unix_now_ns();
  const SweepReport r = sweep_tree(root_, policy);
  FsCounters::bump(counters_.sweep_runs);
  FsCounters::bump(counters_.sweep_removed_blocks, r.removed_blocks);
  FsCounters::bump(counters_.sweep_removed_bytes, r.removed_bytes);
  FsCounters::bump(counters_.sweep_removed_temp_files, r.removed_temp_files);
  counters_.stored_blocks.store(r.kept_blocks, std::memory_order_relaxed);
  counters_.stored_bytes.store(r.kept_bytes, std::memory_order_relaxed);
  if (!r.status.ok()) FsCounters::bump(counters_.sweep_errors);
  return r.status;
}

void FsBackend::visit_counters(const CounterVisitor& visitor) const { counters_.visit(visitor); }

}  // namespace kvtier::shared::fs

namespace kvtier::shared {

Result<std::unique_ptr<SharedBackend>> open_fs_backend(const SharedFsConfig& config) {
  KVTIER_RETURN_IF_ERROR(config.validate());
  fs::FsAccess access{.file_mode = static_cast<mode_t>(config.file_mode),
                      .dir_mode = static_cast<mode_t>(config.dir_mode)};
  if (!config.group.empty()) {
    Result<gid_t> gid = group_id(config.group, "shared.fs.group");
    if (!gid.ok()) return gid.status();
    access.group = *gid;
  }
  return std::unique_ptr<SharedBackend>(std::make_unique<fs::FsBackend>(config, access));
}

}  // namespace kvtier::shared
