// Store: the kvtier storage engine. Holds opaque blocks under (namespace, 128-bit key) in a DRAM
// tier and an NVMe tier and answers "how much of this prompt is cached?" in one call.
//
// Thread-safety: a Store is safe for concurrent use from any number of threads.
// Data path: get() writes into the caller's buffer; the engine never hands out its own copy.
// Buffers that are 4 KiB-aligned with 4 KiB-multiple lengths let NVMe reads land in them directly
// (O_DIRECT); other buffers go through a bounce buffer, which is counted.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/config.h"
#include "kvtier/key.h"
#include "kvtier/status.h"
#include "kvtier/types.h"

namespace kvtier {

class Store {
 public:
  // Opens (or creates) the store described by `config`: validates it, creates data_dir, opens the
  // NVMe devices and restores the NVMe index (from the clean-shutdown checkpoint or, after a
  // crash, by scanning the regions). (kvtierd opens it as engine::ServingStore, which adds the
  // zero-copy operations only a daemon needs.)
  static Result<std::unique_ptr<Store>> open(const StoreConfig& config);

  // Flushes and closes; see close().
  virtual ~Store() = default;

  // Stores a copy of `value` under (ns, key). Visible to readers only once fully written.
  // Putting an existing key replaces it: when the NVMe tier holds the older version, the put
  // returns once that version's removal is durable (a device sync; a batch shares one), so no
  // read returns the older bytes after it, crash or not. Errors: TooLarge, NoSpace, Closed;
  // IOError when that removal could not be made durable.
  virtual Status put(NamespaceId ns, const Key& key, std::span<const std::byte> value) = 0;

  // Copies the value into `dst` and returns its size. NotFound on a miss; BufferTooSmall (with the
  // size in the message and in GetResult) when dst is too small. A block that fails verification
  // is a NotFound and counted, never wrong bytes.
  virtual GetResult get(NamespaceId ns, const Key& key, std::span<std::byte> dst) = 0;

  virtual bool contains(NamespaceId ns, const Key& key) = 0;

  // How many leading keys of `chain` are cached, in one call: Client::lookup, in process.
  // Closed once the store is closed.
  virtual Result<PrefixMatch> lookup(NamespaceId ns, std::span<const Key> chain) = 0;

  // Batch forms: out[i] answers items[i]; several NVMe I/Os are kept in flight. InvalidArgument
  // (in every slot, and returned) when out and items differ in length, as Client's; otherwise OK.
  // Either way every slot holds its item's answer, so a caller whose spans match reads the slots.
  virtual Status put_many(NamespaceId ns, std::span<const PutItem> items,
                          std::span<Status> out) = 0;
  virtual Status get_many(NamespaceId ns, std::span<const GetItem> items,
                          std::span<GetResult> out) = 0;

  // Makes blocks put before this call durable: each one held only in DRAM is written to the NVMe
  // tier, and the tier is synced. After OK in out[i], a crash, SIGKILL or power loss (on a device
  // that honours flushes) does not lose keys[i]; it can still go as any cached block does: evicted
  // for room, removed or replaced. Per item: NotFound (not held, say evicted and not admitted to
  // NVMe), Rejected / TooLarge (NVMe declined it: write budget, size), IOError (the write or sync
  // failed, or the entry left NVMe before the sync); every item fails with Rejected when there
  // is no NVMe tier. Costs a device sync per call (none when no item could be written): batch.
  // The returned Status is as put_many's.
  virtual Status persist(NamespaceId ns, std::span<const Key> keys, std::span<Status> out) = 0;
  // put / put_many, then, with options.durable, persist() of what they stored: OK (out[i]) only
  // once the value (items[i]) is durable. Client's calls of the same names and options.
  Status put(NamespaceId ns, const Key& key, std::span<const std::byte> value,
             const PutOptions& options);
  Status put_many(NamespaceId ns, std::span<const PutItem> items, std::span<Status> out,
                  const PutOptions& options);

  // Removes the block from every tier. NotFound when it was in none. Answered once the removal is
  // durable: after OK no read returns the block, crash or not (a removal from the NVMe tier waits
  // for its tombstone's sync; docs/RELIABILITY.md, "Removals and replacements").
  virtual Status remove(NamespaceId ns, const Key& key) = 0;

  // Keeps the block in DRAM (promoting it from NVMe if needed) until unpin() or until `lease`
  // passes, whichever comes first. Pinning again extends the lease. Errors: NotFound,
  // InvalidArgument (lease above the maximum), Busy (pinned bytes at their limit, DRAM-wide or
  // the namespace's `max_namespace_pinned_bytes`; 0: no limit of its own).
  virtual Status pin(NamespaceId ns, const Key& key, std::chrono::milliseconds lease,
                     std::uint64_t max_namespace_pinned_bytes = 0) = 0;
  virtual Status unpin(NamespaceId ns, const Key& key) = 0;

  // Makes everything put so far durable on NVMe: after flush() returns OK, a SIGKILL loses none
  // of it (blocks the NVMe admission policy declined, and blocks larger than the NVMe tier's
  // largest entry, are the exception: they stay in DRAM only, and are counted).
  virtual Status flush() = 0;

  // Flushes, persists the NVMe index for a warm restart and stops. Later calls return Closed.
  virtual Status close() = 0;

  // Blocks and bytes of `ns` held in one tier (a block may be in both DRAM and NVMe).
  virtual NamespaceUsage namespace_usage(NamespaceId ns, Tier tier) = 0;

  // How the NVMe index came back at open(): "fresh", "checkpoint" or "scan", with entry count and
  // seconds. Empty when the NVMe tier is disabled.
  virtual std::string recovery_summary() = 0;

  // Every counter of every tier: "dram_hits", "nvme_checksum_failures", ... (docs/ARCHITECTURE.md).
  virtual void visit_counters(const CounterVisitor& visitor) = 0;
};

}  // namespace kvtier
