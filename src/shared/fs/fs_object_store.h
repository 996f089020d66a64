// FsObjectStore: the ObjectStore contract (objstore/object_store.h) on a shared directory, so the
// packed shared tier writes segments to an NFS / CephFS / Lustre mount as it does to a bucket.
// An object is a file under <root>/ at its name; a name's '/' are directories.
//
// Publication: put() and an upload write a temporary file beside the object
// (<dir>/.<base>.tmp.<host>.<pid>.<n>), fsync it (options.fsync) and rename it into place, then
// fsync the directory: one sync per object, however many blocks it packs. Upload parts are
// appended to the temporary file as they come; nothing is visible before complete_upload.
// Temporary files are never listed; the packed backend removes the ones a crash left behind
// (they are older than any upload may take).
//
// The root is created (when options.create_root) the first time its parent is found and never
// again, for the reason fs_backend.h gives: a missing root later means the filesystem is not
// mounted, and calls fail with IOError until it is back.
//
// Thread-safety: every method may be called from any number of threads, processes and nodes at
// once; the object holds no lock (a call stuck on a hung mount holds up no other call).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "objstore/object_store.h"
#include "shared/fs/fs_io.h"

namespace kvtier::shared::fs {

struct FsObjectStoreOptions {
  std::string root;   // the directory the objects live under (created once, see above)
  FsAccess access;
  bool fsync = true;  // fsync each object and its directory before it is published
  bool create_root = true;
};

class FsObjectStore final : public objstore::ObjectStore {
 public:
  explicit FsObjectStore(FsObjectStoreOptions options);

  std::string describe() const override { return "dir:" + options_.root; }
  Status put(std::string_view name, std::span<const std::byte> bytes,
             objstore::Deadline deadline) override;
  std::size_t min_part_bytes() const override { return 1; }
  Result<objstore::Upload> begin_upload(std::string_view name, objstore::Deadline deadline) override;
  Status upload_part(objstore::Upload& upload, std::span<const std::byte> bytes,
                     objstore::Deadline deadline) override;
  Status complete_upload(const objstore::Upload& upload, objstore::Deadline deadline) override;
  Status abort_upload(const objstore::Upload& upload, objstore::Deadline deadline) override;
  Status read(std::string_view name, std::uint64_t offset, std::span<std::byte> dst,
              objstore::Deadline deadline) override;
  Result<std::string> read_all(std::string_view name, std::size_t max_bytes,
                               objstore::Deadline deadline) override;
  Result<objstore::ListPage> list(std::string_view prefix, std::string_view start_after,
                                  std::string_view next, std::size_t max_objects,
                                  objstore::Deadline deadline) override;
  Status remove(std::string_view name, objstore::Deadline deadline) override;
  Status ping(objstore::Deadline deadline) override;

  // Removes temporary files (crashed uploads) under the root older than `age`; returns how many.
  std::size_t remove_stale_temporaries(std::chrono::seconds age);

 private:
  Status ensure_root();
  Result<std::string> path_of(std::string_view name);
  // Opens the object for reading; NotFound when it is absent. Its path goes to *path.
  Result<UniqueFd> open_object(std::string_view name, std::string* path);
  // Creates the temporary file of `path`; its name goes to *temp.
  Result<UniqueFd> create_temp(const std::string& path, std::string* temp);
  Status publish(int fd, const std::string& temp, const std::string& path);

  const FsObjectStoreOptions options_;
  const std::string host_;
  std::atomic<bool> root_seen_{false};
  std::atomic<std::uint64_t> next_temp_{0};
};

}  // namespace kvtier::shared::fs
