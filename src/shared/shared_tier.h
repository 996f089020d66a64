// SharedTier: the engine's side of the shared capacity tier. It owns a SharedBackend and keeps
// every call to it off the threads that serve clients:
//   reads   run on a BlockingExecutor; the caller waits at most read_deadline, then takes what
//           arrived and counts the rest as misses (late answers are dropped, never written into
//           the caller's buffer after it stopped waiting)
//   writes  are recorded in the durable Outbox and uploaded by background threads, oldest first,
//           at most drain_rate, skipping blocks the shared tier already has
//   health  a prober pings the backend every probe_interval; the CircuitBreaker opens after
//           breaker_failures failed, overrun or hung calls, and while it is open no read and no
//           upload is sent (writes keep queuing in the outbox)
//
// Thread-safety: every method may be called concurrently.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "kvtier/config.h"
#include "engine/block_view.h"
#include "kvtier/types.h"
#include "shared/shared_backend.h"

namespace kvtier::shared {

// Where uploads get a block's bytes: the local tiers. Returns NotFound when the block is no longer
// held locally (it then can never be uploaded, and is counted).
class LocalBlockSource {
 public:
  virtual ~LocalBlockSource() = default;
  virtual Result<engine::BlockView> read_for_upload(const BlockId& id) = 0;
};

class SharedTier {
 public:
  // Opens the outbox under data_dir and starts the threads. `local` must outlive close().
  static Result<std::unique_ptr<SharedTier>> open(const SharedTierConfig& config,
                                                  const std::string& data_dir,
                                                  std::unique_ptr<SharedBackend> backend,
                                                  LocalBlockSource& local);
  virtual ~SharedTier() = default;

  // Queues blocks just stored locally for upload. out[i]: OK once durable in the outbox;
  // Rejected when the outbox is full (the block stays local only); IOError when the outbox could
  // not be written.
  virtual void enqueue(std::span<const BlockId> ids, std::span<const std::uint32_t> sizes,
                       std::span<Status> out) = 0;

  // Reads local misses. For each item found within the deadline: out[i] = OK, size, kShared, the
  // bytes in items[i].dst, and verified[i] a view of the same bytes in memory the tier owns (the
  // buffer they were verified in: items[i].dst may be a client's, which it can still write, so
  // whatever the store keeps is taken from here); every other item is left as it was (a
  // NotFound). Returns at once when the breaker is open. verified.size() >= items.size().
  virtual void get_many(std::span<const SharedGet> items, std::span<GetResult> out,
                        std::span<engine::BlockView> verified) = 0;

  // present[i] = 1 when the shared tier answered within the deadline that ids[i] is there.
  virtual void probe(std::span<const BlockId> ids, std::span<std::uint8_t> present) = 0;

  // The block was removed by its owner: no pending upload of it is done, and its shared copy is
  // removed in the background, after an upload of it already in flight lands (through the
  // outbox, so also after a restart once the removal's record is synced; never blocks on the
  // backend). Returns a ticket for wait_removal (0: nothing to wait for). Called under the
  // block's stripe (the order with the block's PUTs), so it never waits for the disk itself.
  virtual std::uint64_t remove(const BlockId& id) = 0;
  // Waits until the removal's record is durable (the outbox's sync), outside any lock. IOError
  // when it could not be made durable (the removal is owed in memory only: a crash forgets it).
  virtual Status wait_removal(std::uint64_t ticket) = 0;
  // remove() calls so far. A copy read from the shared tier is published locally only if this
  // has not moved since the read began (checked under the block's stripe): the read may have
  // fetched bytes a removal or replacement acknowledged meanwhile took back.
  virtual std::uint64_t removals() const = 0;

  // Stops the threads (waiting a bounded time for calls in progress) and syncs the outbox; what is
  // still pending stays in it for the next start. Later calls do nothing.
  virtual void close() = 0;

  virtual void visit_counters(const CounterVisitor& visitor) const = 0;
};

}  // namespace kvtier::shared
