// SharedBackend: one implementation of the shared capacity tier (a shared filesystem, Redis or a
// Redis Cluster, or an object store: S3, Azure Blob or a shared directory, packed). The engine never calls a backend directly from a thread that serves
// clients: SharedTier (shared_tier.h) runs every call on its own threads, waits at most a
// deadline, and stops calling a backend its circuit breaker has found unreachable.
//
// Contract for every backend:
// - Blocks are stored under BlockId (namespace and key); different namespaces never alias.
// - Integrity travels with the block: key, namespace, length and checksum (block_checksum) are
//   stored with the payload and verified on every read. A block that fails verification, or
//   whose stored key or namespace differs from the one asked for, is a NotFound (counted), never
//   wrong bytes.
// - Publication is all-or-nothing: a reader sees either the whole new block or none (or the old
//   one), never a partial block, even with many writers on many nodes.
// - Calls may block for as long as the medium does (a hung NFS mount blocks forever). A backend
//   that can bound its own waits (a socket with timeouts) gives up at `deadline` with IOError;
//   one that cannot (filesystem calls) may overrun it; SharedTier copes either way.
// - Thread-safety: every method may be called from several threads at once.
//
// Staging backends (stages_writes(): the packed object-store backend, packed_backend.h) collect
// many writes into one object: their put_many and remove answer OK once a write is *staged*,
// which is neither durable nor visible to other nodes; flush() publishes everything staged
// before it and answers OK only when all of it is durable. When a flush fails, every write
// staged since the last successful flush may be lost and must be staged again (SharedTier keeps
// their outbox records until a flush covering them succeeds). Writes of one key are ordered by
// when they were staged, on this node; across nodes, by their stamps (packed_format.h).
// For a staging backend, "putting an existing block replaces it" holds once the flush lands,
// and a block's bytes may differ between its versions (the newest published wins).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "kvtier/config.h"
#include "kvtier/key.h"
#include "kvtier/status.h"
#include "kvtier/store.h"

namespace kvtier::shared {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

struct SharedPut {
  BlockId id;
  std::span<const std::byte> value;
};

struct SharedGet {
  BlockId id;
  std::span<std::byte> dst;  // receives the value; its size is the largest value accepted
};

class SharedBackend {
 public:
  virtual ~SharedBackend() = default;

  // Names the backend and where it stores, for logs: "fs:/mnt/kv", "redis:127.0.0.1:6379".
  virtual std::string describe() const = 0;

  // out[i] answers items[i]: OK, or IOError / NoSpace / TooLarge with a message that names the
  // backend. Putting an existing block replaces it (the bytes of one key never differ in kvtier,
  // so a replacement is the same block).
  virtual void put_many(std::span<const SharedPut> items, std::span<Status> out,
                        Deadline deadline) = 0;

  // out[i] answers items[i]: OK with size and tier kShared; NotFound on a miss or a block that
  // failed verification; BufferTooSmall (with size) when dst is too small; IOError when the
  // backend could not answer. On any status but OK the bytes of dst are unspecified.
  virtual void get_many(std::span<const SharedGet> items, std::span<GetResult> out,
                        Deadline deadline) = 0;

  // out[i]: OK when the block is present, NotFound when absent, IOError when unknown. Used by
  // LOOKUP (how far a prefix is cached remotely) and by uploads (skip what is already there).
  virtual void contains_many(std::span<const BlockId> ids, std::span<Status> out,
                             Deadline deadline) = 0;

  // For an upload that would skip a block already there: out[i] OK when the block is present, its
  // stored header names it and its size matches, and it is now kept as long as a block just
  // written would be (the expiry or age of the medium restarted), so what a skipped upload leaves
  // behind does not vanish right after the put it answers; NotFound when absent or not such a
  // block (the upload then writes it); IOError when unknown.
  virtual void keep_many(std::span<const BlockId> ids, std::span<Status> out,
                         Deadline deadline) = 0;

  // OK or NotFound; IOError when the backend could not answer. A staging backend stages the
  // removal and answers OK (durable at the next successful flush).
  virtual Status remove(const BlockId& id, Deadline deadline) = 0;

  // Whether put_many and remove only stage their writes until flush() (see the top of the file).
  virtual bool stages_writes() const { return false; }
  // Publishes every staged write; OK when all are durable. A backend that does not stage has
  // nothing to do.
  virtual Status flush(Deadline /*deadline*/) { return Status::Ok(); }

  // A cheap round trip that proves the backend answers (the health checker's probe).
  virtual Status ping(Deadline deadline) = 0;

  // Housekeeping the medium does not do by itself, called periodically from a SharedTier thread
  // (the filesystem backend's capacity and age sweep). May take long; must be safe to run while
  // other calls are in progress, on this node and on others.
  virtual Status maintain() { return Status::Ok(); }

  // The backend's own counters, names prefixed by the backend ("shared_fs_...",
  // "shared_redis_...").
  virtual void visit_counters(const CounterVisitor& visitor) const = 0;
};

// Factories. Opening never waits on the medium being reachable (kvtier must start while the shared
// tier is down): only the config is checked; the first calls find out whether it answers.
Result<std::unique_ptr<SharedBackend>> open_fs_backend(const SharedFsConfig& config);
Result<std::unique_ptr<SharedBackend>> open_redis_backend(const RedisBackendConfig& config);
// Packed segments in an S3 bucket; the credentials are resolved here (config, environment, file).
Result<std::unique_ptr<SharedBackend>> open_s3_backend(const S3BackendConfig& config);
// Packed segments in an Azure Blob container; the credential is the config's, else the
// environment's ($AZURE_STORAGE_ACCOUNT, $AZURE_STORAGE_KEY, $AZURE_STORAGE_SAS_TOKEN).
Result<std::unique_ptr<SharedBackend>> open_azure_backend(const AzureBackendConfig& config);
// The backend `config.backend` names (InvalidArgument for kNone).
Result<std::unique_ptr<SharedBackend>> open_backend(const SharedTierConfig& config);

}  // namespace kvtier::shared
