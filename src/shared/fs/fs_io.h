// Small POSIX file helpers for the shared-filesystem backend: whole-buffer reads and writes that
// survive EINTR and short transfers, checked close, directory creation, and errno-to-Status
// conversion with the path in the message ("shared fs: write /mnt/kv/...: No space left").
//
// Thread-safety: all functions are free of shared state.
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kvtier/status.h"
#include "posix/unique_fd.h"

namespace kvtier::shared::fs {


// "shared fs: <op> <path>: <strerror(err)>"; NoSpace for ENOSPC/EDQUOT/EFBIG, else IOError
// (Status::FromErrno).
Status errno_status(std::string_view op, const std::string& path, int err);

// An open directory stream, closed at scope exit.
struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// True for the errnos that mean "nothing there": the file or one of its directories is absent.
inline bool is_absent_errno(int err) { return err == ENOENT || err == ENOTDIR; }

// Reads up to dst.size() bytes at `offset`, retrying short reads; returns the bytes read, which
// is less than dst.size() only at end of file. -1 with errno set on an error.
ssize_t pread_full(int fd, std::span<std::byte> dst, off_t offset);

// Writes all of `src` at `offset`, retrying short writes. Errors name `path`.
Status pwrite_full(int fd, std::span<const std::byte> src, off_t offset, const std::string& path);

// Closes `fd` and reports what close() says: on NFS a deferred write error (EIO, ENOSPC, EDQUOT)
// may surface only here.
Status close_checked(UniqueFd& fd, const std::string& path);

// What this node's files and directories in the tree are given (shared.fs.file_mode, dir_mode,
// group): exactly these permission bits, whatever the umask, and the group unless it is -1.
struct FsAccess {
  mode_t file_mode = 0640;
  mode_t dir_mode = 0750;
  gid_t group = static_cast<gid_t>(-1);
};

// Gives the file `fd` (`path`, for errors) the access of a block file.
Status set_file_access(int fd, const FsAccess& access, const std::string& path);

// Creates `dir` with the access of a directory of the tree; EEXIST is success (left as it is),
// so any number of writers may create the same directory at once.
Status make_dir(const std::string& dir, const FsAccess& access);

// make_dir of every missing directory of `dir` below `base` (which must exist).
Status make_dirs_below(const std::string& base, const std::string& dir, const FsAccess& access);

// Creates the tree root `root` under the mount point `mount` only if `seen` was never set (and
// create_root allows), then sets `seen`: an unmounted mount point is an empty directory, and
// filling it would hide the outage and lose the uploads (fs_backend.h). IOError naming the mount
// when the root is missing and may not be created.
Status ensure_root_once(const std::string& root, const std::string& mount, bool create_root,
                        std::atomic<bool>& seen, const FsAccess& access);

// fsync of a directory, so a rename into it survives a crash of the file server.
Status sync_dir(const std::string& dir);

}  // namespace kvtier::shared::fs
