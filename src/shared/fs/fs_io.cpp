// POSIX helpers of the shared-filesystem backend (fs_io.h).
#include "shared/fs/fs_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace kvtier::shared::fs {

Status errno_status(std::string_view op, const std::string& path, int err) {
  std::string what = "shared fs: ";
  what += op;
  what += ' ';
  what += path;
  return Status::FromErrno(what, err);
}

ssize_t pread_full(int fd, std::span<std::byte> dst, off_t offset) {
  std::size_t done = 0;
  while (done < dst.size()) {
    const ssize_t n = ::pread(fd, dst.data() + done, dst.size() - done,
                              offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;  // end of file
    done += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

Status pwrite_full(int fd, std::span<const std::byte> src, off_t offset, const std::string& path) {
  std::size_t done = 0;
  while (done < src.size()) {
    // With SIGXFSZ ignored, a write past RLIMIT_FSIZE fails with EFBIG (or is cut short, and the
    // retry then fails with EFBIG) instead of killing the process.
    const ssize_t n = ::pwrite(fd, src.data() + done, src.size() - done,
                               offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status("write", path, errno);
    if (n == 0) return errno_status("write", path, EIO);  // no progress: never loop forever
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status close_checked(UniqueFd& fd, const std::string& path) {
  // close() is not retried on EINTR: on Linux the descriptor is released either way.
  if (::close(fd.release()) != 0 && errno != EINTR) return errno_status("close", path, errno);
  return Status::Ok();
}

Status set_file_access(int fd, const FsAccess& access, const std::string& path) {
  if (::fchmod(fd, access.file_mode) != 0) return errno_status("chmod", path, errno);
  if (access.group != static_cast<gid_t>(-1) && ::fchown(fd, static_cast<uid_t>(-1), access.group) != 0) {
    return errno_status("chown (shared.fs.group)", path, errno);
  }
  return Status::Ok();
}

Status make_dir(const std::string& dir, const FsAccess& access) {
  // Created with no access for anyone but the owner, then opened up to exactly dir_mode: no
  // moment where the umask's wider bits apply.
  if (::mkdir(dir.c_str(), 0700) != 0) {
    return errno == EEXIST ? Status::Ok() : errno_status("mkdir", dir, errno);
  }
  if (access.group != static_cast<gid_t>(-1) &&
      ::chown(dir.c_str(), static_cast<uid_t>(-1), access.group) != 0) {
    return errno_status("chown (shared.fs.group)", dir, errno);
  }
  if (::chmod(dir.c_str(), access.dir_mode) != 0) return errno_status("chmod", dir, errno);
  return Status::Ok();
}

Status make_dirs_below(const std::string& base, const std::string& dir, const FsAccess& access) {
  // Invariant: dir starts with base + '/'; each later '/' ends one component to create.
  for (std::size_t pos = base.size() + 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    KVTIER_RETURN_IF_ERROR(make_dir(dir.substr(0, pos), access));
  }
  return Status::Ok();
}

Status sync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return errno_status("open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return errno_status("fsync directory", dir, errno);
  return Status::Ok();
}

Status ensure_root_once(const std::string& root, const std::string& mount, bool create_root,
                        std::atomic<bool>& seen, const FsAccess& access) {
  struct stat st {};
  if (::stat(root.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return errno_status("stat", root, ENOTDIR);
    seen.store(true, std::memory_order_relaxed);
    return Status::Ok();
  }
  const int err = errno;
  if (err != ENOENT) return errno_status("stat", root, err);
  if (seen.load(std::memory_order_relaxed)) {
    return Status::IOError("shared fs: " + root + " has disappeared; is the shared filesystem "
                           "still mounted at " + mount + "? (not recreated on the local disk)");
  }
  if (!create_root) {
    return Status::IOError("shared fs: " + root + " does not exist and shared.fs.create_root is "
                           "false; is the shared filesystem mounted at " + mount + "?");
  }
  KVTIER_RETURN_IF_ERROR(make_dir(root, access));
  seen.store(true, std::memory_order_relaxed);
  return Status::Ok();
}

}  // namespace kvtier::shared::fs
