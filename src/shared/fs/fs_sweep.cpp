// The shared-filesystem sweep (fs_sweep.h): a fixed-depth walk with openat/fdopendir, so each
// level is opened relative to its parent and names are never re-resolved from the root.
#include "shared/fs/fs_sweep.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "shared/fs/fs_io.h"
#include "shared/fs/fs_layout.h"

namespace kvtier::shared::fs {
namespace {

// One block kept after the age pass: enough to find it again (its path follows from ns and key)
// and to order removals. 40 bytes.
struct BlockRecord {
  std::int64_t mtime_ns;
  std::uint64_t bytes;
  NamespaceId ns;
  Key key;
};

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::int64_t seconds_ns(std::chrono::seconds s) {
  return static_cast<std::int64_t>(s.count()) * 1'000'000'000;
}

class Sweeper {
 public:
  Sweeper(const std::string& root, const SweepPolicy& policy) : root_(root), policy_(policy) {}

  SweepReport run() {
    walk(AT_FDCWD, root_, root_, /*follow=*/true, [&](int fd, std::string_view name, const std::string& path) {
      if (is_hex(name, 8)) walk_ns(fd, name, path);
    });
    apply_capacity();
    return std::move(report_);
  }

 private:
  using EntryFn = std::function<void(int dir_fd, std::string_view name, const std::string& path)>;

  // Lists directory `name` (relative to parent_fd) and calls fn for each entry but . and ..;
  // returns how many entries it had, or -1 when it could not be opened.
  // Only the root may be a symbolic link (an administrator's choice); kvtier creates none below it.
  long walk(int parent_fd, const std::string& name, const std::string& path, bool follow,
            const EntryFn& fn) {
    const int fd = ::openat(parent_fd, name.c_str(),
                            O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    if (fd < 0) {
      if (!is_absent_errno(errno)) note(errno_status("open directory", path, errno));
      return -1;
    }
    DirPtr dir(::fdopendir(fd));
    if (!dir) {
      note(errno_status("fdopendir", path, errno));
      ::close(fd);
      return -1;
    }
    long entries = 0;
    while (true) {
      errno = 0;
      const dirent* e = ::readdir(dir.get());
      if (e == nullptr) break;
      const std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      ++entries;
      fn(::dirfd(dir.get()), n, path + '/' + std::string(n));
    }
    if (errno != 0) note(errno_status("readdir", path, errno));
    return entries;
  }

  // Walks subdirectory `name` of parent_fd and removes it when it was empty. rmdir of a
  // non-empty directory fails, so this never removes a block a writer has just placed; a writer
  // that loses its directory to this rmdir before creating its temp file creates it again.
  void walk_subdir(int parent_fd, std::string_view name, const std::string& path,
                   const EntryFn& fn) {
    if (walk(parent_fd, std::string(name), path, /*follow=*/false, fn) == 0) {
      (void)::unlinkat(parent_fd, std::string(name).c_str(), AT_REMOVEDIR);
    }
  }

  void walk_ns(int parent_fd, std::string_view ns_name, const std::string& path) {
    NamespaceId ns = 0;
    (void)std::from_chars(ns_name.data(), ns_name.data() + ns_name.size(), ns, 16);  // 8 hex
    walk_subdir(parent_fd, ns_name, path, [&](int fd, std::string_view aa, const std::string& p) {
      if (!is_hex(aa, 2)) return;
      walk_subdir(fd, aa, p, [&](int fd2, std::string_view bb, const std::string& p2) {
        if (!is_hex(bb, 2)) return;
        walk_subdir(fd2, bb, p2, [&](int leaf_fd, std::string_view name, const std::string& p3) {
          visit_leaf_entry(leaf_fd, ns, aa, bb, name, p3);
        });
      });
    });
  }

  void visit_leaf_entry(int dir_fd, NamespaceId ns, std::string_view aa, std::string_view bb,
                        std::string_view name, const std::string& path) {
    const EntryKind kind = classify_leaf_entry(name, aa, bb);
    if (kind == EntryKind::kOther) return;
    const std::string n(name);
    struct stat st {};
    if (::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (!is_absent_errno(errno)) note(errno_status("stat", path, errno));
      return;
    }
    if (!S_ISREG(st.st_mode)) return;
    if (kind == EntryKind::kTemp) {
      if (older_than(st, policy_.stale_temp_age) && unlink_at(dir_fd, n, path)) {
        ++report_.removed_temp_files;
      }
      return;
    }
    const std::uint64_t bytes = static_cast<std::uint64_t>(st.st_size);
    if (policy_.max_age.count() > 0 && older_than(st, policy_.max_age)) {
      if (unlink_at(dir_fd, n, path)) count_removed(bytes);
      return;
    }
    ++report_.kept_blocks;
    report_.kept_bytes += bytes;
    if (policy_.capacity_bytes != 0) {
      BlockRecord r{mtime_ns(st), bytes, ns, {}};
      Result<Key> key = Key::from_hex(name.substr(0, 32));
      if (key.ok()) r.key = *key;
      records_.push_back(r);
    }
  }

  // Removes the oldest blocks until the bytes kept fit capacity_bytes. A block rewritten since
  // the walk (newer mtime) is young again and skipped; one already gone just stops counting.
  void apply_capacity() {
    if (policy_.capacity_bytes == 0 || report_.kept_bytes <= policy_.capacity_bytes) return;
    std::sort(records_.begin(), records_.end(),
              [](const BlockRecord& a, const BlockRecord& b) { return a.mtime_ns < b.mtime_ns; });
    for (const BlockRecord& r : records_) {
      if (report_.kept_bytes <= policy_.capacity_bytes) break;
      const BlockId id{r.ns, r.key};
      const std::string path = block_dir(root_, id) + '/' + block_file_name(id.key);
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0) {
        if (is_absent_errno(errno)) forget(r.bytes);
        else note(errno_status("stat", path, errno));
        continue;
      }
      if (mtime_ns(st) != r.mtime_ns) continue;
      if (::unlink(path.c_str()) == 0) {
        forget(r.bytes);
        count_removed(r.bytes);
      } else if (is_absent_errno(errno)) {
        forget(r.bytes);
      } else {
        note(errno_status("unlink", path, errno));
      }
    }
  }

  bool older_than(const struct stat& st, std::chrono::seconds age) const {
    return mtime_ns(st) < policy_.now_unix_ns - seconds_ns(age);
  }

  // True when this call removed the file; ENOENT (another sweeper was first) is not an error.
  bool unlink_at(int dir_fd, const std::string& name, const std::string& path) {
    if (::unlinkat(dir_fd, name.c_str(), 0) == 0) return true;
    if (!is_absent_errno(errno)) note(errno_status("unlink", path, errno));
    return false;
  }

  void forget(std::uint64_t bytes) {
    --report_.kept_blocks;
    report_.kept_bytes -= bytes;
  }
  void count_removed(std::uint64_t bytes) {
    ++report_.removed_blocks;
    report_.removed_bytes += bytes;
  }
  void note(Status s) {
    if (report_.status.ok()) report_.status = std::move(s);
  }

  const std::string& root_;
  const SweepPolicy& policy_;
  SweepReport report_;
  std::vector<BlockRecord> records_;  // only when capacity_bytes != 0
};

}  // namespace

SweepReport sweep_tree(const std::string& root, const SweepPolicy& policy) {
  return Sweeper(root, policy).run();
}

}  // namespace kvtier::shared::fs
