// TieredStore: the Store that orders the tiers. Reads, probes, removals and accounting go through
// the local tiers in order (engine::BlockTier: DRAM, then NVMe). DRAM first; blocks leave DRAM by S3-FIFO eviction
// and are demoted to NVMe (write-back: a block reaches NVMe when DRAM lets go of it, or at
// flush()); NVMe hits are promoted to DRAM when promote_on_nvme_hit is set. With a shared tier,
// every put is also recorded in its durable outbox (uploaded in the background), local misses
// are read from it within its read deadline and promoted to DRAM, and lookups count it.
//
// Thread-safety: every method may be called concurrently; the tiers do their own locking and no
// lock of this class is held while a tier works.
#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <set>
#include <filesystem>
#include <string>
#include <vector>

#include "dram/dram_tier.h"
#include "engine/block_tier.h"
#include "engine/serving_store.h"
#include "engine/store_test_hooks.h"
#include "integrity/check.h"
#include "engine/id_hash.h"
#include "kvtier/store.h"
#include "memory/aligned_buffer.h"
#include "metrics/counter_report.h"
#include "nvme/nvme_tier.h"
#include "shared/shared_tier.h"
#include "status/batch_spans.h"
#include "sync/mutex.h"

namespace kvtier {
using engine::BlockView;
using engine::PutBuffer;
using engine::store_test_hooks;
using engine::StoreTestHooks;
namespace {

// Writes on their way to NVMe that flush() must wait for: between a DRAM eviction and the
// demotion of its victims, a block is in neither tier's books, only in the evicting call's hands.
class InFlightWrites {
 public:
  std::uint64_t begin() {
    MutexLock lock(mu_);
    std::uint64_t t = next_++;
    active_.insert(t);
    return t;
  }
  void end(std::uint64_t ticket) {
    {
      MutexLock lock(mu_);
      active_.erase(ticket);
    }
    cv_.notify_all();
  }
  // Waits until every write that began before this call has ended.
  void wait_for_earlier() {
    MutexLock lock(mu_);
    std::uint64_t limit = next_;
    cv_.wait(lock.native(), [&]() KVTIER_REQUIRES(mu_) {
      return active_.empty() || *active_.begin() >= limit;
    });
  }

 private:
  Mutex mu_;
  std::condition_variable cv_;
  std::uint64_t next_ KVTIER_GUARDED_BY(mu_) = 0;
  std::set<std::uint64_t> active_ KVTIER_GUARDED_BY(mu_);
};

// Scope of one InFlightWrites ticket.
class InFlightScope {
 public:
  explicit InFlightScope(InFlightWrites& w) : writes_(w), ticket_(w.begin()) {}
  ~InFlightScope() { writes_.end(ticket_); }
  InFlightScope(const InFlightScope&) = delete;
  InFlightScope& operator=(const InFlightScope&) = delete;

 private:
  InFlightWrites& writes_;
  std::uint64_t ticket_;
};

class TieredStore final : public engine::ServingStore, public shared::LocalBlockSource {
 public:
  TieredStore(const StoreConfig& config, std::unique_ptr<dram::DramTier> dram,
              std::unique_ptr<nvme::NvmeTier> nvme)
      : config_(config), dram_(std::move(dram)), nvme_(std::move(nvme)) {
    local_.push_back(dram_.get());
    if (nvme_) local_.push_back(nvme_.get());
  }

  ~TieredStore() override { (void)close(); }

  // Starts the shared tier; called once by Store::open, before the store is handed out.
  Status open_shared(std::unique_ptr<shared::SharedBackend> backend) {
    Result<std::unique_ptr<shared::SharedTier>> t =
        shared::SharedTier::open(config_.shared, config_.data_dir, std::move(backend), *this);
    if (!t.ok()) return t.status();
    shared_ = std::move(t).value();
    return Status::Ok();
  }

  Status put(NamespaceId ns, const Key& key, std::span<const std::byte> value) override {
    BatchRemovals removals;
    Status s = put_local(ns, key, value, removals, 0);
    finish_removals(removals, {&s, 1});
    if (s.ok()) enqueue_upload(BlockId{ns, key}, value.size());
    return s;
  }

  // The removals of older versions a batch of puts recorded (publish), made durable together by
  // finish_removals: the NVMe tier's tombstones with one flush, the shared tier's outbox records
  // with one sync. Each list names the batch's items that recorded one.
  struct BatchRemovals {
    std::optional<std::uint64_t> nvme_since;  // failed_writes() before the first tombstone
    std::vector<std::size_t> nvme_items;
    std::uint64_t shared_ticket = 0;          // the newest outbox record to wait for
    std::vector<std::size_t> shared_items;
  };

  // Publishes a new version of `id` (`size` bytes), counted, under its stripe: an older copy on
  // NVMe is invalidated first (it must not be read after DRAM evicts this one), then
  // to_dram(&evicted) stores it, superseding an older version still on its way down from an
  // eviction. When DRAM refuses it (too large, or full of pinned blocks) to_nvme(refusal) may
  // store it straight on NVMe; the older version DRAM still holds goes first, or reads (and a
  // flush or persist writing it down) would take it for the newest.
  // The put is answered only once the invalidation is durable (its tombstone synced): after a
  // crash the older version must not come back (docs/RELIABILITY.md). The caller waits for that
  // with finish_removals(`batch`), once for all its items (`item`: this one's place).
  // When the tombstone cannot be recorded, the new version is not stored and the error answers.
  // A put that replaces a version a local tier held is, for the shared tier, a removal and then
  // an upload that writes over what it finds (docs/SHARED_TIER.md, "Removal and re-PUT"): the
  // shared copy may be the older version, and must not be served once the newer one leaves.
  template <typename ToDram, typename ToNvme>
  Status publish(const BlockId& id, std::size_t size, ToDram to_dram, ToNvme to_nvme,
                 BatchRemovals& batch, std::size_t item) {
    puts_.fetch_add(1, std::memory_order_relaxed);
    bytes_in_.fetch_add(size, std::memory_order_relaxed);
    InFlightScope in_flight(in_flight_);
    std::vector<dram::BlockRef> evicted;
    Status s;
    {
      MutexLock lock(stripe(id));
      const bool in_dram = shared_ && dram_->contains(id);
      bool on_nvme = false;
      if (nvme_) {
        std::uint64_t since = 0;
        Status gone = nvme_->invalidate(id, &since);
        if (gone.ok()) {
          on_nvme = true;
          batch.nvme_since = std::min(batch.nvme_since.value_or(since), since);
          batch.nvme_items.push_back(item);
        } else if (!gone.is_not_found()) {
          s = gone;  // no room for its tombstone
        }
      }
      if (shared_ && (in_dram || on_nvme)) {
        // Queued here, in order with the key's other operations; its sync is the caller's wait
        // (before the upload's record, which follows it in the outbox).
        batch.shared_ticket = std::max(batch.shared_ticket, shared_->remove(id));
        batch.shared_items.push_back(item);
      }
      if (s.ok()) {
        s = to_dram(&evicted);
        if (!s.ok() && nvme_) {
          (void)dram_->remove(id);  // NotFound when DRAM held no older version
          s = to_nvme(s);
        }
      }
    }
    demote(evicted);
    return s;
  }

  // Waits once for the removals a batch's puts recorded (publish) and answers io_error for each
  // item whose removal could not be made durable: after a crash the older version, on NVMe or in
  // the shared tier, could come back, so the put is not answered OK.
  void finish_removals(const BatchRemovals& batch, std::span<Status> out) {
    auto fail = [&](const std::vector<std::size_t>& items, const Status& error) {
      for (std::size_t i : items) {
        if (out[i].ok()) out[i] = error;
      }
    };
    if (shared_) {
      if (Status owed = shared_->wait_removal(batch.shared_ticket); !owed.ok()) {
        fail(batch.shared_items, Status::IOError("the shared tier's removal of the older version "
                                                 "could not be recorded: " + owed.to_string()));
      }
    }
    if (!batch.nvme_since) return;
    const Status synced = removal_made_durable(*batch.nvme_since, Status::Ok());
    if (!synced.ok()) fail(batch.nvme_items, synced);
  }

  // Waits until the tombstones appended since failed_writes() was `since` are synced, and answers
  // `answer` if they are, or the failure.
  Status removal_made_durable(std::uint64_t since, const Status& answer) {
    Status synced = nvme_->flush(since);
    if (synced.ok()) return answer;
    return Status::IOError("the removal of the older version on NVMe could not be made durable "
                           "(a crash may bring it back): " + synced.to_string());
  }

  Status put_local(NamespaceId ns, const Key& key, std::span<const std::byte> value,
                   BatchRemovals& batch, std::size_t item) {
    KVTIER_RETURN_IF_ERROR(check_put(value.size()));
    const BlockId id{ns, key};
    return publish(
        id, value.size(),
        [&](std::vector<dram::BlockRef>* evicted) {
          return dram_->put(id, value, dram::CommitMode::kReplace, /*clean=*/false, evicted);
        },
        // The value may be a client's shared memory (PUT_MANY_SHM): checksummed over the copy.
        [&](const Status&) {
          return nvme_->put(id, value, nvme::NvmeTier::ValueFrom::kClientMemory);
        },
        batch, item);
  }

  Result<BlockView> view(NamespaceId ns, const Key& key) override {
    dram::BlockRef ref = dram_->acquire({ns, key}, dram::AcquireFor::kReadMissCountedNext);
    if (!ref) return Status::NotFound("not in DRAM");  // the caller's get() counts this one
    gets_.fetch_add(1, std::memory_order_relaxed);
    auto holder = std::make_shared<dram::BlockRef>(std::move(ref));
    std::span<const std::byte> bytes = holder->value();
    const std::uint64_t charge = holder->charge();
    bytes_out_.fetch_add(bytes.size(), std::memory_order_relaxed);  // served, if not copied
    return BlockView(bytes, std::shared_ptr<const void>(std::move(holder)), charge);
  }

  Result<PutBuffer> begin_put(NamespaceId ns, const Key& key, std::size_t size) override {
    KVTIER_RETURN_IF_ERROR(check_put(size));
    Result<dram::Reservation> r = dram_->reserve({ns, key}, size);
    if (!r.ok()) return r.status();
    auto holder = std::make_shared<dram::Reservation>(std::move(r).value());
    std::span<std::byte> bytes = holder->data().first(size);
    return PutBuffer(ns, key, bytes, std::shared_ptr<void>(std::move(holder)));
  }

  Status commit_put(PutBuffer buffer) override {
    Status s;
    commit_puts({&buffer, 1}, {&s, 1});
    return s;
  }

  void commit_puts(std::span<PutBuffer> buffers, std::span<Status> out) override {
    KVTIER_CHECK(out.size() >= buffers.size());
    BatchRemovals batch;
    std::vector<BlockId> ids;
    std::vector<std::uint32_t> sizes;
    for (std::size_t i = 0; i < buffers.size(); ++i) {
      const std::size_t size = buffers[i].bytes().size();
      const BlockId id{buffers[i].ns(), buffers[i].key()};
      out[i] = commit_one(std::move(buffers[i]), batch, i);
      if (!out[i].ok()) continue;
      ids.push_back(id);
      sizes.push_back(static_cast<std::uint32_t>(size));
    }
    finish_removals(batch, out);
    enqueue_upload(ids, sizes);  // one outbox sync for the batch
  }

  Status commit_one(PutBuffer buffer, BatchRemovals& batch, std::size_t item) {
    KVTIER_CHECK(buffer);
    auto* reservation = static_cast<dram::Reservation*>(buffer.holder());
    const BlockId id{buffer.ns(), buffer.key()};
    Status s = publish(
        id, buffer.bytes().size(),
        [&](std::vector<dram::BlockRef>* evicted) {
          return dram_->commit(*reservation, dram::CommitMode::kReplace, /*clean=*/false,
                               evicted);
        },
        // The reservation still holds its bytes after a failed commit.
        [&](const Status& refused) {
          return *reservation ? nvme_->put(id, reservation->data()) : refused;
        },
        batch, item);
    return s;
  }

  GetResult get(NamespaceId ns, const Key& key, std::span<std::byte> dst) override {
    GetItem item{key, dst};
    GetResult out;
    (void)get_many(ns, {&item, 1}, {&out, 1});  // one item, one slot: its answer is in `out`
    return out;
  }

  Status get_many(NamespaceId ns, std::span<const GetItem> items,
                  std::span<GetResult> out) override {
    KVTIER_RETURN_IF_ERROR(check_batch_spans(items.size(), out, "get_many"));
    gets_.fetch_add(items.size(), std::memory_order_relaxed);
    dram_->get_many(ns, items, out, engine::ReadFor::kClient);
    if (nvme_) get_from_nvme(ns, items, out);
    if (shared_) get_from_shared(ns, items, out);
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (out[i].status.ok()) bytes_out_.fetch_add(out[i].size, std::memory_order_relaxed);
      else if (out[i].status.is_not_found()) misses_.fetch_add(1, std::memory_order_relaxed);
    }
    return Status::Ok();
  }

  Status put_many(NamespaceId ns, std::span<const PutItem> items,
                  std::span<Status> out) override {
    KVTIER_RETURN_IF_ERROR(check_batch_spans(items.size(), out, "put_many"));
    std::vector<BlockId> ids;
    std::vector<std::uint32_t> sizes;
    BatchRemovals batch;
    for (std::size_t i = 0; i < items.size(); ++i) {
      out[i] = put_local(ns, items[i].key, items[i].value, batch, i);
      if (!out[i].ok()) continue;
      ids.push_back({ns, items[i].key});
      sizes.push_back(static_cast<std::uint32_t>(items[i].value.size()));
    }
    finish_removals(batch, out);  // one sync for the batch's tombstones
    enqueue_upload(ids, sizes);  // one outbox sync for the batch
    return Status::Ok();
  }

  Status persist(NamespaceId ns, std::span<const Key> keys, std::span<Status> out) override {
    KVTIER_RETURN_IF_ERROR(check_batch_spans(keys.size(), out, "persist"));
    Status whole;
    if (closed_.load()) whole = Status::Closed("store is closed");
    if (!nvme_) whole = Status::Rejected("no NVMe tier: a block cannot be made durable");
    if (!whole.ok()) {
      std::fill(out.begin(), out.end(), whole);
      return Status::Ok();
    }
    // Between a DRAM eviction and its demotion a block is in neither tier: puts that began before
    // this call finish demoting first, so a block not found below is really not held. A put that
    // begins meanwhile can evict one again: a miss waits for it and looks once more.
    in_flight_.wait_for_earlier();
    // A failed write of the tier from here on may have dropped what this call writes; one
    // before it is not this call's to report (Store::flush reports each, through flush()).
    const std::uint64_t failures_before = nvme_->failed_writes();
    std::vector<nvme::Location> written(keys.size());
    bool any = false;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      out[i] = write_down({ns, keys[i]}, &written[i]);
      if (out[i].is_not_found()) {
        in_flight_.wait_for_earlier();
        out[i] = write_down({ns, keys[i]}, &written[i]);
      }
      any = any || out[i].ok();
    }
    if (!any) return Status::Ok();
    // One sync for the batch. An entry the tier dropped before it (reclaimed for room, or its
    // region's write failed: the flusher drops those entries before flush() returns, and another
    // caller may have taken that error) is no longer where write_down left it, so an entry is
    // durable exactly when the sync succeeded and it is still there, or a newer put of the key
    // replaced it (that put answers for the newer version).
    const Status synced = nvme_->flush(failures_before);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!out[i].ok()) continue;
      out[i] = synced;
      if (synced.ok() && !still_held_or_replaced({ns, keys[i]}, written[i])) {
        out[i] = Status::IOError("key " + keys[i].hex() + " left the NVMe tier before the sync "
                                 "(reclaimed for room, or its region's write failed): not durable");
      }
    }
    return Status::Ok();
  }

  // Whether the entry persist wrote for `id` at `written` is still the one the NVMe tier names,
  // or has been replaced since: by a later NVMe entry (a newer put, or a reinsertion), or by a
  // dirty DRAM block, a newer put (write_down marked the block it wrote clean, and publish never
  // leaves an older version in DRAM beside a newer one on NVMe).
  bool still_held_or_replaced(const BlockId& id, const nvme::Location& written) {
    MutexLock lock(stripe(id));  // not between a put's invalidation and its store
    if (std::optional<nvme::Location> now = nvme_->location(id)) {
      return now->same_entry(written) || now->written_after(written);
    }
    dram::BlockRef ref = dram_->acquire(id, dram::AcquireFor::kStoreInternal);
    return ref && !ref.clean();
  }

  bool contains(NamespaceId ns, const Key& key) override {
    const BlockId id{ns, key};
    return std::ranges::any_of(local_, [&](engine::BlockTier* t) { return t->contains(id); });
  }

  Result<PrefixMatch> lookup(NamespaceId ns, std::span<const Key> chain) override {
    if (closed_.load()) return Status::Closed("store is closed");
    prefix_lookups_.fetch_add(1, std::memory_order_relaxed);
    PrefixMatch m;
    if (chain.empty()) return m;
    // held[i]: the first tier that holds chain[i]. With a shared tier, a key no local tier holds
    // may still be in the shared tier, and the keys after it must be attributed to the local tier
    // that holds them: the whole chain is probed.
    std::vector<Tier> held(chain.size(), Tier::kNone);
    const std::size_t local = probe_local(ns, chain, held, /*whole_chain=*/shared_ != nullptr);
    if (shared_ && local < chain.size()) {
      // Only what the local tiers lack is asked of the shared tier (within its deadline).
      std::vector<BlockId> ids;
      for (std::size_t i = local; i < chain.size(); ++i) {
        if (held[i] == Tier::kNone) ids.push_back({ns, chain[i]});
      }
      std::vector<std::uint8_t> present(ids.size());
      shared_->probe(ids, present);
      for (std::size_t i = local, j = 0; i < chain.size(); ++i) {
        if (held[i] == Tier::kNone && present[j++]) held[i] = Tier::kShared;
      }
    }
    for (; m.cached < chain.size() && held[m.cached] != Tier::kNone; ++m.cached) {
      const Tier t = held[m.cached];
      ++(t == Tier::kDram ? m.in_dram : t == Tier::kNvme ? m.in_nvme : m.in_shared);
    }
    return m;
  }

  // Probes the local tiers in order and returns how many leading keys of `chain` one of them
  // holds; held[i] becomes the first tier holding chain[i], for every key probed. A tier is asked
  // only from the first key the tiers before it lack: only from there can it extend the prefix.
  // The prefix ends at the first key no tier holds, so unless `whole_chain` is asked for, the first
  // kFirstProbeWindow keys are probed alone and the rest only if they are all held: a chain that
  // misses at once (a new prompt) costs a small probe instead of the whole chain's, and a cached
  // one two batched probes (docs/BENCHMARKS.md, "A chain nobody cached stops early").
  std::size_t probe_local(NamespaceId ns, std::span<const Key> chain, std::span<Tier> held,
                          bool whole_chain) {
    constexpr std::size_t kFirstProbeWindow = 64;
    std::size_t local = 0;  // leading keys held locally among those probed so far
    std::vector<std::uint8_t> found(chain.size());
    // Probes [begin, end) and extends `local` through it; begin == local on entry.
    auto probe_range = [&](std::size_t begin, std::size_t end) {
      std::size_t gap = begin;
      for (engine::BlockTier* tier : local_) {
        while (gap < end && held[gap] != Tier::kNone) ++gap;
        if (gap == end) break;
        tier->probe(ns, chain.subspan(gap, end - gap), std::span(found).subspan(gap, end - gap));
        const Tier kind = tier->kind();  // once per probe, not per key: a chain has thousands
        for (std::size_t i = gap; i < end; ++i) {
          if (found[i] != 0 && held[i] == Tier::kNone) held[i] = kind;
        }
      }
      while (local < end && held[local] != Tier::kNone) ++local;
    };
    const std::size_t first =
        whole_chain ? chain.size() : std::min(chain.size(), kFirstProbeWindow);
    probe_range(0, first);
    if (local == first && first < chain.size()) probe_range(first, chain.size());
    return local;
  }

  Status remove(NamespaceId ns, const Key& key) override {
    if (closed_.load()) return Status::Closed("store is closed");
    const BlockId id{ns, key};
    bool removed = false;
    std::uint64_t shared_ticket = 0;
    std::uint64_t since = 0;
    Status nvme_removal = Status::NotFound("no nvme tier");
    {
      MutexLock lock(stripe(id));  // no demotion lands between the removals
      removed = dram_->remove(id).ok();
      if (nvme_) nvme_removal = nvme_->remove(id, &since);
      if (shared_) shared_ticket = shared_->remove(id);
    }
    // The outbox's sync, not under the stripe; a removal it could not record is not answered OK.
    if (shared_) {
      if (Status owed = shared_->wait_removal(shared_ticket); !owed.ok()) {
        return Status::IOError("the shared tier's removal could not be recorded: " + owed.to_string());
      }
    }
    // Answered once the NVMe tier's tombstone is synced: a crash must not bring the block back.
    if (nvme_removal.ok()) return removal_made_durable(since, Status::Ok());
    if (!nvme_removal.is_not_found()) return nvme_removal;  // its tombstone found no room
    if (removed) return Status::Ok();
    return Status::NotFound("key " + key.hex() + " is not cached");
  }

  Status pin(NamespaceId ns, const Key& key, std::chrono::milliseconds lease,
             std::uint64_t max_namespace_pinned_bytes) override {
    BlockId id{ns, key};
    Status s = dram_->pin(id, lease, max_namespace_pinned_bytes);
    if (!s.is_not_found() || !nvme_) return s;
    // Bring it up from NVMe first: a pin holds the block in DRAM.
    std::optional<nvme::Location> at = nvme_->location(id);
    if (!at) return s;
    Result<dram::Reservation> staged = dram_->reserve(id, at->size);
    if (!staged.ok()) return staged.status();
    GetResult g = nvme_->get(id, staged->data());
    if (!g.status.ok()) return g.status;
    if (g.size != at->size) return Status::NotFound("replaced while being promoted");
    promote_nvme_copy(id, *staged, *at);
    return dram_->pin(id, lease, max_namespace_pinned_bytes);
  }

  Status unpin(NamespaceId ns, const Key& key) override { return dram_->unpin({ns, key}); }

  Status flush() override {
    if (closed_.load()) return Status::Closed("store is closed");
    if (!nvme_) return Status::Ok();
    // Puts that began before this flush have their blocks in DRAM (or on NVMe) now.
    in_flight_.wait_for_earlier();
    std::vector<dram::BlockRef> listed = dram_->dirty_blocks();
    // A block missing from the list was evicted before it was taken, by a put that began before
    // it: wait for that put to finish demoting. (Blocks evicted later are in the list.)
    in_flight_.wait_for_earlier();
    Status first_error;
    for (dram::BlockRef& ref : listed) {
      MutexLock lock(stripe(ref.id()));
      // Only the newest bytes DRAM was given for the id are written: a version put, promoted or
      // removed since the listing supersedes these, and writing them would revive older bytes.
      // A block evicted since the listing is still written while its departure is current (its
      // demotion may not be done); once the departure ended, its demotion decided.
      if (!dram_->departure_current(ref)) continue;
      Status s = nvme_->put(ref.id(), ref.value());
      if (s.ok()) {
        dram_->mark_clean(ref);
        continue;
      }
      flush_skipped_.fetch_add(1, std::memory_order_relaxed);
      // The admission policy declining a block, or a block larger than the NVMe tier's largest
      // entry (it lives in DRAM only), is documented; anything else is a failed flush.
      bool expected = s.code() == StatusCode::kRejected || s.code() == StatusCode::kTooLarge;
      if (!expected && first_error.ok()) first_error = s;
    }
    Status s = nvme_->flush();
    return first_error.ok() ? s : first_error;
  }

  Status close() override {
    if (closed_.load()) return Status::Ok();
    Status s = flush();
    // Before the tiers close: uploads read blocks from them until the shared tier stops.
    if (shared_) shared_->close();
    closed_.store(true);
    if (nvme_) {
      Status c = nvme_->close();
      if (s.ok()) s = c;
    }
    return s;
  }

  NamespaceUsage namespace_usage(NamespaceId ns, Tier tier) override {
    for (engine::BlockTier* t : local_) {
      if (t->kind() == tier) return t->namespace_usage(ns);
    }
    return {};
  }

  std::string recovery_summary() override {
    if (!nvme_) return "";
    const nvme::RecoveryInfo& r = nvme_->recovery_info();
    const char* mode = r.mode == nvme::RecoveryMode::kFresh        ? "fresh"
                       : r.mode == nvme::RecoveryMode::kCheckpoint ? "checkpoint"
                                                                   : "scan";
    std::string s = std::string(mode) + ": " + std::to_string(r.entries) + " entries in " +
                    std::to_string(r.seconds) + " s";
    if (r.mode == nvme::RecoveryMode::kScan) {
      s += " (" + std::to_string(r.regions_scanned) + " regions read in full, " +
           std::to_string(r.torn_entries) + " torn entries dropped)";
    }
    return s;
  }

  void visit_counters(const CounterVisitor& v) override {
    report_count(v, "store_puts", puts_);
    report_count(v, "store_gets", gets_);
    report_count(v, "store_misses", misses_);
    report_count(v, "store_bytes_in", bytes_in_);
    report_count(v, "store_bytes_out", bytes_out_);
    report_count(v, "store_prefix_lookups", prefix_lookups_);
    report_count(v, "store_demotions", demotions_);
    report_count(v, "store_demotions_declined", demotions_declined_);
    report_count(v, "store_demotions_superseded", demotions_superseded_);
    report_count(v, "store_promotions", promotions_);
    report_count(v, "store_promotions_superseded", promotions_superseded_);
    report_count(v, "store_flush_skipped", flush_skipped_);
    for (engine::BlockTier* t : local_) t->visit_counters(v);
    if (shared_) shared_->visit_counters(v);
  }

  // LocalBlockSource: the bytes of a block to upload, without counting a hit. Between a DRAM
  // eviction and its demotion a block is in neither tier's books (InFlightWrites), and a block
  // just put is often there when its upload comes: on a miss, wait for the writes in flight and
  // look again, so NotFound means the block is really gone (the uploader then drops it for good).
  Result<BlockView> read_for_upload(const BlockId& id) override {
    if (closed_.load()) return Status::Closed("store is closed");
    Result<BlockView> v = read_local(id);
    if (v.ok() || !v.status().is_not_found()) return v;
    in_flight_.wait_for_earlier();
    return read_local(id);
  }

 private:
  // A block's bytes from DRAM (viewed in place) or NVMe (read into a buffer the view owns).
  Result<BlockView> read_local(const BlockId& id) {
    dram::BlockRef ref = dram_->acquire(id, dram::AcquireFor::kStoreInternal);
    if (ref) {
      auto holder = std::make_shared<dram::BlockRef>(std::move(ref));
      std::span<const std::byte> bytes = holder->value();
      const std::uint64_t charge = holder->charge();
      return BlockView(bytes, std::shared_ptr<const void>(std::move(holder)), charge);
    }
    std::optional<std::uint32_t> size = nvme_ ? nvme_->value_size(id) : std::nullopt;
    if (!size) return Status::NotFound("no longer held locally");
    auto buf = std::make_shared<AlignedBuffer>(*size);
    if (buf->empty()) return Status::NoSpace("cannot allocate a buffer for an upload");
    GetResult g = nvme_->get(id, buf->span().first(*size), engine::ReadFor::kStoreInternal);
    // A miss whose entry is still indexed was a failed read (the device, memory), not a block
    // gone: the uploader must try again, not drop it (NotFound means "no longer held locally").
    if (g.status.is_not_found() && nvme_->contains(id)) {
      return Status::IOError("reading the block for upload failed: " + g.status.message());
    }
    if (!g.status.ok()) return g.status;
    std::span<const std::byte> bytes = buf->span().first(g.size);
    const std::uint64_t footprint = buf->footprint();
    return BlockView(bytes, std::shared_ptr<const void>(std::move(buf)), footprint);
  }

  // Puts the newest version of `id` on NVMe unless it is there: DRAM's copy when it is dirty, or
  // clean but gone from NVMe since (reclaimed). OK when NVMe holds it after the call, with *at
  // where (still unsynced, perhaps).
  Status write_down(const BlockId& id, nvme::Location* at) {
    MutexLock lock(stripe(id));  // no put, promotion or demotion of the id meanwhile
    dram::BlockRef ref = dram_->acquire(id, dram::AcquireFor::kStoreInternal);
    std::optional<nvme::Location> held = nvme_->location(id);
    if (!ref && !held) {
      return Status::NotFound("key " + id.key.hex() + " is not held (evicted or removed)");
    }
    if (ref && !(ref.clean() && held)) {
      KVTIER_RETURN_IF_ERROR(nvme_->put(id, ref.value()));
      dram_->mark_clean(ref);
      held = nvme_->location(id);
      // Under the stripe no writer of the id runs; only a reclaim could have taken it already.
      if (!held) return Status::IOError("key " + id.key.hex() + " was reclaimed as it was written");
    }
    *at = *held;
    return Status::Ok();
  }

  Status check_put(std::size_t size) const {
    if (closed_.load(std::memory_order_relaxed)) return Status::Closed("store is closed");
    if (size == 0) return Status::InvalidArgument("empty value");
    if (size > config_.max_value_bytes) {
      return Status::TooLarge("value of " + std::to_string(size) + " bytes exceeds max_value_bytes (" +
                              std::to_string(config_.max_value_bytes) + ")");
    }
    return Status::Ok();
  }

  // Writes blocks DRAM let go of to NVMe, unless they are there already or a newer version of
  // the id was put, promoted or removed since their eviction (DRAM tracks each eviction as a
  // departure until it is ended here). Runs outside every lock but the block's stripe; the refs
  // keep the bytes alive until this returns.
  // REQUIRES: the caller holds an InFlightScope (flush() waits for it).
  void demote(std::vector<dram::BlockRef>& evicted) {
    StoreTestHooks* hooks = store_test_hooks().load(std::memory_order_acquire);
    for (dram::BlockRef& ref : evicted) {
      if (nvme_ && !ref.clean()) {
        if (hooks && hooks->before_demote) hooks->before_demote(ref.id());
        MutexLock lock(stripe(ref.id()));
        if (!dram_->departure_current(ref)) {
          demotions_superseded_.fetch_add(1, std::memory_order_relaxed);
        } else if (nvme_->put(ref.id(), ref.value()).ok()) {
          demotions_.fetch_add(1, std::memory_order_relaxed);
        } else {
          demotions_declined_.fetch_add(1, std::memory_order_relaxed);
        }
      }
      dram_->end_departure(ref);
    }
    evicted.clear();
  }

  // Records blocks just stored locally in the shared tier's outbox. A full or failing outbox
  // leaves them local only (counted by the shared tier): the put itself succeeded.
  void enqueue_upload(const BlockId& id, std::size_t size) {
    if (!shared_) return;
    auto size32 = static_cast<std::uint32_t>(size);
    enqueue_upload(std::span(&id, 1), std::span(&size32, 1));
  }
  void enqueue_upload(std::span<const BlockId> ids, std::span<const std::uint32_t> sizes) {
    if (!shared_ || ids.empty()) return;
    std::vector<Status> out(ids.size());
    shared_->enqueue(ids, sizes, out);
  }

  // The DRAM misses of a get_many (NotFound in `out`), read from NVMe. With promotion, a block is read into a DRAM
  // reservation (memory the daemon owns), verified there, copied to the caller and published from
  // there: the caller's buffer may be a client's shared memory, which the client can still write,
  // so nothing kept is ever read back from it. Without a reservation (promotion off, or none to
  // be had) the block goes straight to the caller and is not promoted.
  void get_from_nvme(NamespaceId ns, std::span<const GetItem> items, std::span<GetResult> out) {
    std::vector<GetItem> missed;
    std::vector<std::size_t> missed_at;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!out[i].status.is_not_found()) continue;
      missed.push_back(items[i]);
      missed_at.push_back(i);
    }
    if (missed.empty()) return;
    std::vector<GetItem> reads(missed.begin(), missed.end());
    std::vector<dram::Reservation> staged(missed.size());
    std::vector<nvme::Location> read_at(missed.size());
    if (config_.promote_on_nvme_hit) {
      for (std::size_t j = 0; j < missed.size(); ++j) {
        const BlockId id{ns, missed[j].key};
        std::optional<nvme::Location> at = nvme_->location(id);
        if (!at || at->size > missed[j].dst.size()) continue;
        Result<dram::Reservation> r = dram_->reserve(id, at->size);
        if (!r.ok()) continue;
        staged[j] = std::move(r).value();
        reads[j].dst = staged[j].data();
        read_at[j] = *at;
      }
    }
    std::vector<GetResult> nv(missed.size());
    nvme_->get_many(ns, reads, nv, engine::ReadFor::kClient);
    for (std::size_t j = 0; j < missed.size(); ++j) {
      const BlockId id{ns, missed[j].key};
      if (staged[j] && nv[j].status.code() == StatusCode::kBufferTooSmall) {
        // Put again with a larger value since the reservation was sized: read it directly.
        staged[j] = dram::Reservation();
        nv[j] = nvme_->get(id, missed[j].dst);
      }
      out[missed_at[j]] = nv[j];
      if (!staged[j] || !nv[j].status.ok()) continue;
      std::memcpy(missed[j].dst.data(), staged[j].data().data(), nv[j].size);
      // A smaller value than the reservation was sized for (put again meanwhile) is served but
      // not kept: the reservation's size is the block's.
      if (nv[j].size == staged[j].data().size()) promote_nvme_copy(id, staged[j], read_at[j]);
    }
  }

  // Local misses of a get_many, asked of the shared tier; hits are promoted to DRAM (and reach
  // NVMe when DRAM evicts them) but not queued for upload: they came from there. What is promoted
  // is the copy the shared tier verified in its own memory, not the caller's buffer.
  void get_from_shared(NamespaceId ns, std::span<const GetItem> items, std::span<GetResult> out) {
    std::vector<shared::SharedGet> gets;
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!out[i].status.is_not_found()) continue;
      gets.push_back({{ns, items[i].key}, items[i].dst});
      at.push_back(i);
    }
    if (gets.empty()) return;
    std::vector<GetResult> got(gets.size(), GetResult{Status::NotFound("not cached"), 0, Tier::kNone});
    std::vector<BlockView> verified(gets.size());
    const std::uint64_t removals_before = shared_->removals();
    shared_->get_many(gets, got, verified);
    for (std::size_t j = 0; j < gets.size(); ++j) {
      if (got[j].status.is_not_found()) continue;
      out[at[j]] = got[j];
      if (got[j].status.ok() && verified[j]) {
        promote_shared_copy(gets[j].id, verified[j].bytes(), removals_before);
      }
    }
  }

  // Publishes in DRAM a block read from NVMe into `staged`, if the entry read is still the one the
  // NVMe index names (`read_at`: no put or removal of the id since, as each replaces or removes
  // that entry) and DRAM holds nothing of the id (CommitMode::kIfAbsent): a copy in hand is never
  // published over a newer version.
  void promote_nvme_copy(const BlockId& id, dram::Reservation& staged, const nvme::Location& read_at) {
    StoreTestHooks* hooks = store_test_hooks().load(std::memory_order_acquire);
    if (hooks && hooks->before_promote) hooks->before_promote(id);
    InFlightScope in_flight(in_flight_);
    std::vector<dram::BlockRef> evicted;
    {
      MutexLock lock(stripe(id));
      std::optional<nvme::Location> now = nvme_->location(id);
      if (!(now && now->same_entry(read_at))) {
        promotions_superseded_.fetch_add(1, std::memory_order_relaxed);
      } else if (dram_->commit(staged, dram::CommitMode::kIfAbsent, /*clean=*/true, &evicted).ok()) {
        promotions_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    demote(evicted);
  }

  // Copies a block the shared tier verified (in its own memory) into DRAM, if no local tier holds
  // the id: what a local tier holds was put here and is the newer.
  // `removals_before`: shared_->removals() before the read (see SharedTier::removals).
  void promote_shared_copy(const BlockId& id, std::span<const std::byte> value,
                           std::uint64_t removals_before) {
    StoreTestHooks* hooks = store_test_hooks().load(std::memory_order_acquire);
    if (hooks && hooks->before_promote) hooks->before_promote(id);
    InFlightScope in_flight(in_flight_);
    std::vector<dram::BlockRef> evicted;
    {
      MutexLock lock(stripe(id));
      if ((nvme_ && nvme_->contains(id)) || shared_->removals() != removals_before) {
        promotions_superseded_.fetch_add(1, std::memory_order_relaxed);
      } else if (dram_->put(id, value, dram::CommitMode::kIfAbsent, /*clean=*/false, &evicted).ok()) {
        promotions_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    demote(evicted);
  }

  // Writers of one block (put, promotion, demotion, flush) take its stripe, so "look at DRAM,
  // then write" is atomic with respect to each other. Never two stripes at once.
  Mutex& stripe(const BlockId& id) { return stripes_[id_hash(id) % stripes_.size()]; }

  const StoreConfig config_;
  std::unique_ptr<dram::DramTier> dram_;
  std::unique_ptr<nvme::NvmeTier> nvme_;  // null when the NVMe tier is disabled
  std::unique_ptr<shared::SharedTier> shared_;  // null when there is no shared tier
  std::vector<engine::BlockTier*> local_;  // dram_, then nvme_ if any: the order reads go in
  std::atomic<bool> closed_{false};
  std::array<Mutex, 256> stripes_;
  InFlightWrites in_flight_;
  std::atomic<std::uint64_t> puts_{0}, gets_{0}, misses_{0}, bytes_in_{0}, bytes_out_{0},
      prefix_lookups_{0}, demotions_{0}, demotions_declined_{0}, demotions_superseded_{0},
      promotions_{0}, promotions_superseded_{0}, flush_skipped_{0};
};

}  // namespace

Status Store::put(NamespaceId ns, const Key& key, std::span<const std::byte> value,
                  const PutOptions& options) {
  PutItem item{key, value};
  Status out;
  (void)put_many(ns, {&item, 1}, {&out, 1}, options);  // one item, one slot: out answers
  return out;
}

Status Store::put_many(NamespaceId ns, std::span<const PutItem> items, std::span<Status> out,
                       const PutOptions& options) {
  KVTIER_RETURN_IF_ERROR(put_many(ns, items, out));
  if (!options.durable) return Status::Ok();
  std::vector<Key> keys(items.size());
  std::ranges::transform(items, keys.begin(), &PutItem::key);
  return engine::persist_stored(*this, ns, keys, out);
}

Status engine::persist_stored(Store& store, NamespaceId ns, std::span<const Key> keys,
                              std::span<Status> out) {
  KVTIER_RETURN_IF_ERROR(check_batch_spans(keys.size(), out, "persist_stored"));
  std::vector<Key> stored;
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!out[i].ok()) continue;
    stored.push_back(keys[i]);
    at.push_back(i);
  }
  if (stored.empty()) return Status::Ok();
  std::vector<Status> persisted(stored.size());
  KVTIER_RETURN_IF_ERROR(store.persist(ns, stored, persisted));
  for (std::size_t j = 0; j < at.size(); ++j) out[at[j]] = persisted[j];
  return Status::Ok();
}

Result<std::unique_ptr<Store>> Store::open(const StoreConfig& config) {
  Result<std::unique_ptr<engine::ServingStore>> store = engine::ServingStore::open(config);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(store).value());
}

Result<std::unique_ptr<engine::ServingStore>> engine::ServingStore::open(const StoreConfig& config) {
  KVTIER_RETURN_IF_ERROR(config.validate());
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Status::IOError("cannot create data_dir " + config.data_dir + ": " + ec.message());
  Result<std::unique_ptr<dram::DramTier>> dram = dram::DramTier::create(config.dram);
  if (!dram.ok()) return dram.status();
  std::unique_ptr<nvme::NvmeTier> nvme;
  if (config.nvme.enabled()) {
    Result<std::unique_ptr<nvme::NvmeTier>> n = nvme::NvmeTier::open(config.nvme, config.data_dir);
    if (!n.ok()) return n.status();
    nvme = std::move(n).value();
  }
  auto store = std::make_unique<TieredStore>(config, std::move(dram).value(), std::move(nvme));
  if (config.shared.backend != SharedBackendKind::kNone) {
    Result<std::unique_ptr<shared::SharedBackend>> backend = shared::open_backend(config.shared);
    if (!backend.ok()) return backend.status();
    KVTIER_RETURN_IF_ERROR(store->open_shared(std::move(backend).value()));
  }
  return std::unique_ptr<ServingStore>(std::move(store));
}

}  // namespace kvtier
