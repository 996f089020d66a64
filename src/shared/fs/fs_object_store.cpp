// FsObjectStore (see fs_object_store.h).
#include "shared/fs/fs_object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <functional>

#include "shared/fs/fs_layout.h"

namespace kvtier::shared::fs {
namespace {

std::string parent_of(const std::string& path) { return path.substr(0, path.rfind('/')); }

std::string base_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// Unlinks a temporary file on every way out but a publication.
struct TempGuard {
  std::string path;
  ~TempGuard() {
    if (!path.empty()) (void)::unlink(path.c_str());
  }
};

}  // namespace

FsObjectStore::FsObjectStore(FsObjectStoreOptions options)
    : options_(std::move(options)), host_(safe_hostname()) {}

Status FsObjectStore::ensure_root() {
  return ensure_root_once(options_.root, parent_of(options_.root), options_.create_root,
                          root_seen_, options_.access);
}

Result<std::string> FsObjectStore::path_of(std::string_view name) {
  if (!objstore::is_portable_name(name)) {
    return Status::InvalidArgument("shared fs: the object name '" + std::string(name) +
                                   "' is not a portable name");
  }
  KVTIER_RETURN_IF_ERROR(ensure_root());
  return options_.root + "/" + std::string(name);
}

Result<UniqueFd> FsObjectStore::create_temp(const std::string& path, std::string* temp) {
  const std::string dir = parent_of(path);
  *temp = dir + "/." + base_of(path) + std::string(kTempMarker) + host_ + "." +
          std::to_string(::getpid()) + "." +
          std::to_string(next_temp_.fetch_add(1, std::memory_order_relaxed));
  for (int attempt = 0; attempt < 2; ++attempt) {
    UniqueFd fd(::open(temp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.valid()) {
      Status s = set_file_access(fd.get(), options_.access, *temp);
      if (!s.ok()) {
        (void)::unlink(temp->c_str());
        return s;
      }
      return fd;
    }
    const int err = errno;
    if (err != ENOENT || attempt == 1) return errno_status("create", *temp, err);
    KVTIER_RETURN_IF_ERROR(make_dirs_below(options_.root, dir, options_.access));
  }
  return errno_status("create", *temp, ENOENT);
}

// Syncs, closes and renames the temporary file onto `path`, then syncs the directory.
Status FsObjectStore::publish(int fd, const std::string& temp, const std::string& path) {
  if (options_.fsync && ::fdatasync(fd) != 0) return errno_status("fsync", temp, errno);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return errno_status("rename", temp + " to " + path, errno);
  }
  if (options_.fsync) KVTIER_RETURN_IF_ERROR(sync_dir(parent_of(path)));
  return Status::Ok();
}

Status FsObjectStore::put(std::string_view name, std::span<const std::byte> bytes,
                          objstore::Deadline) {
  Result<std::string> path = path_of(name);
  if (!path.ok()) return path.status();
  TempGuard guard;
  Result<UniqueFd> fd = create_temp(*path, &guard.path);
  if (!fd.ok()) return fd.status();
  KVTIER_RETURN_IF_ERROR(pwrite_full(fd->get(), bytes, 0, guard.path));
  KVTIER_RETURN_IF_ERROR(publish(fd->get(), guard.path, *path));
  guard.path.clear();
  return close_checked(*fd, *path);
}

Result<objstore::Upload> FsObjectStore::begin_upload(std::string_view name, objstore::Deadline) {
  Result<std::string> path = path_of(name);
  if (!path.ok()) return path.status();
  std::string temp;
  Result<UniqueFd> fd = create_temp(*path, &temp);
  if (!fd.ok()) return fd.status();
  KVTIER_RETURN_IF_ERROR(close_checked(*fd, temp));
  return objstore::Upload{std::string(name), temp, {}};
}

Status FsObjectStore::upload_part(objstore::Upload& upload, std::span<const std::byte> bytes,
                                  objstore::Deadline) {
  UniqueFd fd(::open(upload.id.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound("shared fs: the upload " + upload.id + " is gone");
    return errno_status("open", upload.id, err);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_status("stat", upload.id, errno);
  KVTIER_RETURN_IF_ERROR(pwrite_full(fd.get(), bytes, st.st_size, upload.id));
  KVTIER_RETURN_IF_ERROR(close_checked(fd, upload.id));
  upload.parts.push_back(std::to_string(st.st_size + static_cast<off_t>(bytes.size())));
  return Status::Ok();
}

Status FsObjectStore::complete_upload(const objstore::Upload& upload, objstore::Deadline) {
  Result<std::string> path = path_of(upload.name);
  if (!path.ok()) return path.status();
  UniqueFd fd(::open(upload.id.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::NotFound("shared fs: the upload " + upload.id + " is gone");
    return errno_status("open", upload.id, errno);
  }
  KVTIER_RETURN_IF_ERROR(publish(fd.get(), upload.id, *path));
  return close_checked(fd, *path);
}

Status FsObjectStore::abort_upload(const objstore::Upload& upload, objstore::Deadline) {
  if (::unlink(upload.id.c_str()) != 0 && errno != ENOENT) {
    return errno_status("unlink", upload.id, errno);
  }
  return Status::Ok();
}

Result<UniqueFd> FsObjectStore::open_object(std::string_view name, std::string* path) {
  Result<std::string> p = path_of(name);
  if (!p.ok()) return p.status();
  *path = std::move(*p);
  UniqueFd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (is_absent_errno(errno)) return Status::NotFound("shared fs: no object " + *path);
    return errno_status("open", *path, errno);
  }
  return fd;
}

Status FsObjectStore::read(std::string_view name, std::uint64_t offset, std::span<std::byte> dst,
                           objstore::Deadline) {
  std::string path_text;
  Result<UniqueFd> fd = open_object(name, &path_text);
  if (!fd.ok()) return fd.status();
  const std::string* path = &path_text;
  const ssize_t n = pread_full(fd->get(), dst, static_cast<off_t>(offset));
  if (n < 0) return errno_status("read", *path, errno);
  if (static_cast<std::size_t>(n) != dst.size()) {
    return Status::Corruption("shared fs: " + *path + " ends before byte " +
                              std::to_string(offset + dst.size()));
  }
  return Status::Ok();
}

Result<std::string> FsObjectStore::read_all(std::string_view name, std::size_t max_bytes,
                                            objstore::Deadline) {
  std::string path_text;
  Result<UniqueFd> fd = open_object(name, &path_text);
  if (!fd.ok()) return fd.status();
  const std::string* path = &path_text;
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return errno_status("stat", *path, errno);
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return Status::TooLarge("shared fs: " + *path + " is larger than " + std::to_string(max_bytes) +
                            " bytes");
  }
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  const ssize_t n =
      pread_full(fd->get(), std::as_writable_bytes(std::span(out.data(), out.size())), 0);
  if (n < 0) return errno_status("read", *path, errno);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<objstore::ListPage> FsObjectStore::list(std::string_view prefix,
                                               std::string_view start_after,
                                               std::string_view next, std::size_t max_objects,
                                               objstore::Deadline) {
  KVTIER_RETURN_IF_ERROR(ensure_root());
  // A page's `next` is its last name: the listing goes on after whichever is later.
  if (next > start_after) start_after = next;
  // Walk the directory the prefix ends in (names are compared whole below).
  const std::string p(prefix);
  const std::string dir_part = p.find('/') == std::string::npos ? "" : p.substr(0, p.rfind('/'));
  std::vector<objstore::ObjectInfo> found;
  std::function<Status(const std::string&)> walk = [&](const std::string& rel) -> Status {
    const std::string path = options_.root + (rel.empty() ? "" : "/" + rel);
    DirPtr d(::opendir(path.c_str()));
    if (!d) {
      if (is_absent_errno(errno)) return Status::Ok();
      return errno_status("opendir", path, errno);
    }
    while (dirent* e = ::readdir(d.get())) {
      const std::string n = e->d_name;
      if (n == "." || n == ".." || n.find(kTempMarker) != std::string::npos) continue;
      const std::string name = rel.empty() ? n : rel + "/" + n;
      struct stat st {};
      if (::fstatat(::dirfd(d.get()), n.c_str(), &st, 0) != 0) continue;  // removed meanwhile
      if (S_ISDIR(st.st_mode)) {
        if (name.starts_with(p.substr(0, std::min(p.size(), name.size()))) || p.starts_with(name)) {
          KVTIER_RETURN_IF_ERROR(walk(name));
        }
      } else if (S_ISREG(st.st_mode) && name.starts_with(p) && name > start_after) {
        found.push_back({name, static_cast<std::uint64_t>(st.st_size)});
      }
    }
    return Status::Ok();
  };
  KVTIER_RETURN_IF_ERROR(walk(dir_part));
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  objstore::ListPage page;
  if (found.size() > max_objects) {
    found.resize(std::max<std::size_t>(max_objects, 1));
    page.next = found.back().name;
  }
  page.objects = std::move(found);
  return page;
}

Status FsObjectStore::remove(std::string_view name, objstore::Deadline) {
  Result<std::string> path = path_of(name);
  if (!path.ok()) return path.status();
  if (::unlink(path->c_str()) != 0 && !is_absent_errno(errno)) {
    return errno_status("unlink", *path, errno);
  }
  return Status::Ok();
}

Status FsObjectStore::ping(objstore::Deadline) { return ensure_root(); }

std::size_t FsObjectStore::remove_stale_temporaries(std::chrono::seconds age) {
  if (!ensure_root().ok()) return 0;
  const std::time_t horizon = std::time(nullptr) - age.count();
  std::size_t removed = 0;
  std::function<void(const std::string&)> walk = [&](const std::string& path) {
    DirPtr d(::opendir(path.c_str()));
    if (!d) return;
    while (dirent* e = ::readdir(d.get())) {
      const std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      struct stat st {};
      if (::fstatat(::dirfd(d.get()), n.c_str(), &st, 0) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        walk(path + "/" + n);
      } else if (n.find(kTempMarker) != std::string::npos && st.st_mtime < horizon &&
                 ::unlinkat(::dirfd(d.get()), n.c_str(), 0) == 0) {
        ++removed;
      }
    }
  };
  walk(options_.root);
  return removed;
}

}  // namespace kvtier::shared::fs
