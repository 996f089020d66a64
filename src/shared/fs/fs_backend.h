// FsBackend: the shared tier on a shared filesystem (NFS, CephFS, Lustre, ... mounted on every
// node). One file per block, published by rename, verified on every read; the on-file format and
// the tree are in fs_block_format.h, fs_layout.h and docs/SHARED_FS_FORMAT.md.
//
// Publication: a put writes <dir>/.<key>.tmp.<host>.<pid>.<n>, fsyncs it (config.fsync), and
// renames it onto <dir>/<key>.blk. rename is atomic on POSIX filesystems (and on NFS, where the
// server performs it), so a reader opens either the old file, the new one, or none; writers of
// one key on many nodes each use their own temp name and the last rename wins (same bytes).
//
// The tree root (path/kvtier-v1) is created the first time the mount point is found and never
// again: once seen, a missing root means the filesystem is no longer mounted there (the bare
// mount-point directory shows through), and recreating it would put blocks on the local disk,
// where no other node sees them, and count them as uploaded. Calls fail (IOError) until the
// filesystem is back.
//
// Thread-safety: every method may be called from any number of threads at once, in any number of
// processes on any number of nodes. The object holds no lock: its state is the immutable config,
// one atomic flag and atomic counters, so a call stuck in the kernel on a hung mount never holds
// up another call in user space.
#pragma once

#include <atomic>
#include <span>
#include <string>

#include "kvtier/config.h"
#include "shared/fs/fs_counters.h"
#include "shared/fs/fs_io.h"
#include "shared/shared_backend.h"

namespace kvtier::shared::fs {

class FsBackend final : public SharedBackend {
 public:
  // REQUIRES: config.validate().ok() (open_fs_backend checks it and resolves the group).
  FsBackend(const SharedFsConfig& config, FsAccess access);

  std::string describe() const override;
  void put_many(std::span<const SharedPut> items, std::span<Status> out,
                Deadline deadline) override;
  void get_many(std::span<const SharedGet> items, std::span<GetResult> out,
                Deadline deadline) override;
  void keep_many(std::span<const BlockId> ids, std::span<Status> out,
                 Deadline deadline) override;
  void contains_many(std::span<const BlockId> ids, std::span<Status> out,
                     Deadline deadline) override;
  Status remove(const BlockId& id, Deadline deadline) override;
  Status ping(Deadline deadline) override;
  Status maintain() override;
  void visit_counters(const CounterVisitor& visitor) const override;

  // The file a block is (or would be) stored in; tests use it to damage blocks.
  std::string TEST_block_path(const BlockId& id) const { return block_path(id); }

 private:
  std::string block_path(const BlockId& id) const;
  Status ensure_root();
  Status put_one(const SharedPut& item);
  Result<UniqueFd> create_temp(const std::string& dir, const std::string& temp_path);
  Status write_block(int fd, const SharedPut& item, const std::string& temp_path);
  GetResult get_one(const SharedGet& item);
  GetResult read_verified(int fd, const SharedGet& item, const std::string& path);
  GetResult corrupt(const std::string& path, int fd, const char* why);
  GetResult get_error(Status status);
  Status contains_one(const BlockId& id) const;
  Status keep_one(const BlockId& id);
  template <typename Item, typename Out, typename One>
  void answer_each(std::span<const Item> items, std::span<Out> out, Deadline deadline, One one);

  const SharedFsConfig config_;
  const FsAccess access_;
  const std::string path_;  // config.path without trailing slashes
  const std::string root_;  // path_/kvtier-v1
  const std::string host_;  // safe_hostname(), for temp names
  std::atomic<bool> root_seen_{false};  // root_ existed (or was created) once
  mutable FsCounters counters_;
};

}  // namespace kvtier::shared::fs
