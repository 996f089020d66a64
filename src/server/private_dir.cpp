// ensure_private_dir and ensure_socket_dir (see private_dir.h).
#include "server/private_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "posix/file_mode.h"

namespace kvtier::server {
namespace {

// Creates `dir`'s missing parents (as the umask says) and `dir` itself with `mode` exactly.
Status create_dir(const std::string& dir, mode_t mode) {
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Status::IOError("cannot create " + parent.string() + ": " + ec.message());
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return Status::FromErrno("mkdir(" + dir + ")", errno);
  }
  // mkdir's mode is filtered by the umask; chmod sets it as meant.
  if (::chmod(dir.c_str(), mode) != 0) return Status::FromErrno("chmod(" + dir + ")", errno);
  return Status::Ok();
}

}  // namespace

Status ensure_private_dir(const std::string& dir, const std::string& what) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::FromErrno("stat(" + dir + ")", errno);
    return create_dir(dir, 0700);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("the " + what + " " + dir + " is not a directory");
  }
  if (st.st_uid != ::geteuid()) {
    return Status::InvalidArgument("the " + what + " " + dir + " is owned by uid " +
                                   std::to_string(st.st_uid) + ", not by the daemon's (" +
                                   std::to_string(::geteuid()) + ")");
  }
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument(
        "the " + what + " " + dir + " has mode " + octal_mode(st.st_mode) +
        ": group or others can reach the tokens, socket and blocks in it; chmod 700 " + dir +
        " (put a socket others use elsewhere: server.unix_socket with server.unix_socket_group)");
  }
  return Status::Ok();
}

Status ensure_socket_dir(const std::string& dir, gid_t gid) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::FromErrno("stat(" + dir + ")", errno);
    KVTIER_RETURN_IF_ERROR(create_dir(dir, 0750));
    if (gid != static_cast<gid_t>(-1) && ::chown(dir.c_str(), static_cast<uid_t>(-1), gid) != 0) {
      return Status::FromErrno("chown(" + dir + ")", errno);
    }
    return Status::Ok();
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("the socket's directory " + dir + " is not a directory");
  }
  // Whoever may create names in the directory can put their own socket at the path while the
  // daemon is down (the sticky bit does not stop that) and capture the clients' tokens; its
  // owner can always. Only the daemon's user (or root) may own it, and nobody else write it.
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return Status::InvalidArgument("the socket's directory " + dir + " is owned by uid " +
                                   std::to_string(st.st_uid) +
                                   ", who could replace the socket; use a directory of the "
                                   "daemon's user (e.g. /run/kvtier)");
  }
  if ((st.st_mode & 022) != 0) {
    return Status::InvalidArgument(
        "the socket's directory " + dir + " has mode " + octal_mode(st.st_mode) +
        ": its group or others could put their own socket at its path; chmod g-w,o-w " + dir +
        " (or use a directory only the daemon's user writes, e.g. /run/kvtier)");
  }
  return Status::Ok();
}

}  // namespace kvtier::server
