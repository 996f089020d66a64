// Whole small files, written durably and read back (see durable_file.h).
#include "posix/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "posix/unique_fd.h"

namespace kvtier {

Status write_all(int fd, std::span<const std::byte> bytes, const std::string& path) {
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::FromErrno("write " + path, n < 0 ? errno : EIO);
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status sync_parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  UniqueFd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open " + dir, errno);
  if (::fsync(fd.get()) != 0) return Status::FromErrno("fsync " + dir, errno);
  return Status::Ok();
}

Status replace_file_durably(const std::string& path, std::span<const std::byte> bytes, mode_t mode) {
  const std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd.valid()) return Status::FromErrno("create " + tmp, errno);
  Status s = write_all(fd.get(), bytes, tmp);
  if (s.ok() && ::fsync(fd.get()) != 0) s = Status::FromErrno("fsync " + tmp, errno);
  fd.reset();
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno("rename " + tmp, errno);
  return sync_parent_dir(path);
}

Result<std::vector<std::byte>> read_regular_file(const std::string& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    if (errno == ELOOP) return Status::Corruption(path + " is a symbolic link, not kvtier's file");
    return Status::FromErrno("open " + path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno("fstat " + path, errno);
  if (!S_ISREG(st.st_mode)) return Status::Corruption(path + " is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return Status::Corruption(path + " holds " + std::to_string(st.st_size) +
                              " bytes, more than kvtier writes there (" +
                              std::to_string(max_bytes) + ")");
  }
  std::vector<std::byte> out(static_cast<std::size_t>(st.st_size));
  for (std::size_t done = 0; done < out.size();) {
    const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("read " + path, errno);
    if (n == 0) {
      out.resize(done);  // shrank meanwhile
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return out;
}

}  // namespace kvtier
