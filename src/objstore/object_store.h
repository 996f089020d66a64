// ObjectStore: the few operations of an object store the shared tier needs, one contract for S3,
// Azure Blob and a shared directory. The packed shared-tier backend (segments of many blocks and
// their indexes, docs/SHARED_OBJECT_FORMAT.md) is written against this and nothing else.
//
// Contract for every store:
// - Names are relative, made of [A-Za-z0-9._/-] (the caller's rule; stores may refuse others
//   with InvalidArgument). A store maps them under its own root (a bucket and prefix, a
//   container, a directory).
// - Publication is all-or-nothing: put() and complete_upload() make a whole object visible at
//   once; before that, readers see the old object or none, never part of the new one.
// - A deadline bounds every call that talks to a server (the request is cut at it, IOError);
//   a directory store cannot bound a hung filesystem and may overrun it (as the filesystem
//   backend, shared_backend.h).
// - Errors: NotFound for a missing object (or upload); IOError when the store could not be
//   reached or answered with a server error; NoSpace when it is full or over a quota;
//   InvalidArgument when it refused the request as malformed or unauthorized (a wrong key is
//   a configuration error, not an outage); TooLarge when an answer exceeds the caller's buffer.
//   Messages name the store and the object and never carry a secret.
// - Thread-safety: every method may be called from several threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/status.h"

namespace kvtier::objstore {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

struct ObjectInfo {
  std::string name;
  std::uint64_t size = 0;
};

struct ListPage {
  std::vector<ObjectInfo> objects;  // in name order (byte order)
  // Empty when the listing is complete. Otherwise more follow: call list() again with the same
  // prefix and start_after and this as `next` (S3's continuation token, Azure's marker, the last
  // name of a directory). Opaque to the caller.
  std::string next;
};

// A large object written in parts (S3 multipart upload, Azure block list, a temporary file):
// parts go up as they fill, and the object appears only when the upload is completed.
struct Upload {
  std::string name;
  std::string id;                   // the store's upload id (S3), or its own handle
  std::vector<std::string> parts;   // the tag of each part uploaded, in order
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // "s3:http://host:port/bucket", "azure:http://host:port/account/container", "dir:/mnt/kv".
  virtual std::string describe() const = 0;

  // Writes a whole object (small ones: an index), replacing any of that name.
  virtual Status put(std::string_view name, std::span<const std::byte> bytes,
                     Deadline deadline) = 0;

  // Parts of an upload must be at least min_part_bytes() but the last (S3: 5 MiB).
  virtual std::size_t min_part_bytes() const = 0;
  virtual Result<Upload> begin_upload(std::string_view name, Deadline deadline) = 0;
  // Appends the next part; its tag goes to upload.parts.
  virtual Status upload_part(Upload& upload, std::span<const std::byte> bytes,
                             Deadline deadline) = 0;
  // Publishes the object from its parts, in order.
  virtual Status complete_upload(const Upload& upload, Deadline deadline) = 0;
  // Drops an upload never completed (its parts' space is released). OK if already gone.
  virtual Status abort_upload(const Upload& upload, Deadline deadline) = 0;

  // Reads dst.size() bytes from `offset` of the object into dst. NotFound when the object is
  // absent; Corruption when it ends before offset + dst.size().
  virtual Status read(std::string_view name, std::uint64_t offset, std::span<std::byte> dst,
                      Deadline deadline) = 0;
  // The whole object, when it is at most max_bytes (TooLarge otherwise).
  virtual Result<std::string> read_all(std::string_view name, std::size_t max_bytes,
                                       Deadline deadline) = 0;

  // Objects whose names start with `prefix` and sort after `start_after`, at most max_objects;
  // `next`: empty for the first page, else the previous page's ListPage::next. A store that
  // cannot start a listing at a name (Azure Blob) lists the prefix from its start and skips the
  // names up to start_after itself, paying a request per page of them: keep such prefixes narrow.
  virtual Result<ListPage> list(std::string_view prefix, std::string_view start_after,
                                std::string_view next, std::size_t max_objects,
                                Deadline deadline) = 0;

  // Whether list() starts after start_after on the server (S3, a directory). False when the store
  // pages through the prefix from its start and drops the names up to start_after itself (Azure
  // Blob): callers keep its prefixes narrow.
  virtual bool starts_listings_after_names() const { return true; }

  // Removes the object; OK when it was already absent.
  virtual Status remove(std::string_view name, Deadline deadline) = 0;

  // A cheap request that proves the store answers and the credentials are accepted.
  virtual Status ping(Deadline deadline) = 0;
};

// Whether `name` keeps to the names every store takes ([A-Za-z0-9._/-], not empty, no "//",
// no leading '/', no "." or ".." component, at most 512 bytes).
bool is_portable_name(std::string_view name);


}  // namespace kvtier::objstore
