// DramTier: the DRAM tier (contract in dram_tier.h, design in docs/DRAM.md).
//
// Locks, in the only order they are ever taken:
//   1. evict_mu_   one per tier: queues, byte accounting, pins, namespace usage, departures. Taken
//                  by commit, remove, pin, unpin, dirty_blocks, departure_current,
//                  end_departure, namespace_usage, visit_counters.
//   2. shard mutex one per index shard (BlockIndex). Taken alone by readers (get, acquire,
//                  contains, probe, mark_clean), and under evict_mu_ by the writers.
// Every change to the index happens under evict_mu_, so a holder of evict_mu_ sees a stable set of
// indexed blocks. No lock is held while a block's bytes are freed or copied, or while the
// counter visitor runs.
#include "dram/dram_tier.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "dram/block.h"
#include "dram/block_index.h"
#include "dram/s3fifo.h"
#include "integrity/check.h"
#include "engine/id_hash.h"
#include "metrics/counter_report.h"
#include "sync/mutex.h"

namespace kvtier::dram {

namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string bytes_text(std::uint64_t n) { return std::to_string(n) + " bytes"; }

// Idle value buffers kept for reuse: 1/16 of the capacity, at least 64 MiB (a few blocks of the
// largest common sizes) unless the tier itself is smaller. They are not charged to the budget.
std::uint64_t pool_limit(std::uint64_t capacity) {
  return std::min(capacity, std::max<std::uint64_t>(capacity / 16, 64ull << 20));
}

}  // namespace

// ---- BlockRef and Reservation ---------------------------------------------------------------

BlockHold::~BlockHold() {
  if (block_) unref_block(block_);
}

BlockHold::BlockHold(BlockHold&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}

BlockHold& BlockHold::operator=(BlockHold&& other) noexcept {
  if (this != &other) {
    if (block_) unref_block(block_);
    block_ = std::exchange(other.block_, nullptr);
  }
  return *this;
}

const BlockId& BlockRef::id() const {
  KVTIER_CHECK(block_ != nullptr);
  return block_->id;
}

std::span<const std::byte> BlockRef::value() const {
  if (!block_) return {};
  return {block_->data(), block_->size};
}

std::uint64_t BlockRef::charge() const { return block_ ? block_->charge : 0; }

bool BlockRef::clean() const {
  return block_ != nullptr && block_->clean.load(std::memory_order_relaxed);
}

std::span<std::byte> Reservation::data() const {
  if (!block_) return {};
  return {block_->data(), block_->size};
}

// ---- DramTierImpl ---------------------------------------------------------------------------

class DramTierImpl final : public DramTier {
 public:
  explicit DramTierImpl(const DramConfig& config);
  ~DramTierImpl() override;

  Result<Reservation> reserve(const BlockId& id, std::size_t size) override;
  Status commit(Reservation& reservation, CommitMode mode, bool clean,
                std::vector<BlockRef>* evicted) override;
  Status put(const BlockId& id, std::span<const std::byte> value, CommitMode mode, bool clean,
             std::vector<BlockRef>* evicted) override;
  Tier kind() const override { return Tier::kDram; }
  GetResult get(const BlockId& id, std::span<std::byte> dst, engine::ReadFor why) override;
  void get_many(NamespaceId ns, std::span<const GetItem> items, std::span<GetResult> out,
                engine::ReadFor why) override;
  BlockRef acquire(const BlockId& id, AcquireFor why) override;
  bool contains(const BlockId& id) override;
  bool is_current(const BlockRef& ref) override;
  void probe(NamespaceId ns, std::span<const Key> keys, std::span<std::uint8_t> found) override;
  Status remove(const BlockId& id) override;
  bool departure_current(const BlockRef& ref) override;
  void end_departure(const BlockRef& ref) override;
  Status pin(const BlockId& id, std::chrono::milliseconds lease,
             std::uint64_t max_namespace_pinned_bytes) override;
  Status unpin(const BlockId& id) override;
  void mark_clean(const BlockId& id) override;
  void mark_clean(const BlockRef& ref) override;
  std::vector<BlockRef> dirty_blocks() override;
  NamespaceUsage namespace_usage(NamespaceId ns) override;
  void visit_counters(const CounterVisitor& visitor) override;

 private:
  // Publishes b (whose ref becomes the index's). Victims go to *evicted (as departures) or, with
  // it null, to *to_drop; so does the replaced block. On failure b is left to the caller.
  Status commit_locked(Block* b, CommitMode mode, std::vector<BlockRef>* evicted,
                       std::vector<Block*>* to_drop) KVTIER_REQUIRES(evict_mu_);
  // Marks the departure of `id`, if any, superseded and ends it (its ref goes to *to_drop).
  // Returns whether there was one.
  bool supersede_departure(const BlockId& id, std::vector<Block*>* to_drop)
      KVTIER_REQUIRES(evict_mu_);

  bool pin_active(Block* b, std::int64_t now)  // drops an expired pin (lazy expiry)
      KVTIER_REQUIRES(evict_mu_);
  // Pins b (unpinned, indexed) until `until`, counting it; drop_pin undoes that.
  void set_pin(Block* b, std::int64_t until) KVTIER_REQUIRES(evict_mu_);
  void drop_pin(Block* b) KVTIER_REQUIRES(evict_mu_);
  void sweep_expired_pins(std::int64_t now) KVTIER_REQUIRES(evict_mu_);
  void account_add(Block* b) KVTIER_REQUIRES(evict_mu_);
  void account_remove(Block* b) KVTIER_REQUIRES(evict_mu_);  // also drops its pin

  const std::uint64_t capacity_;
  const std::uint64_t max_pinned_bytes_;
  const std::chrono::milliseconds max_lease_;

  LiveMemory live_;  // every allocated block: indexed, reserved or held by refs only
  BlockIndex index_;

  Mutex evict_mu_;
  S3Fifo policy_ KVTIER_GUARDED_BY(evict_mu_);
  // Indexed blocks with pinned_until_ns != 0.
  std::unordered_set<Block*> pinned_ KVTIER_GUARDED_BY(evict_mu_);
  std::unordered_map<NamespaceId, NamespaceUsage> ns_usage_ KVTIER_GUARDED_BY(evict_mu_);
  // Evicted blocks whose departure the caller has not ended, one per id (a newer eviction of the
  // id supersedes the older). Each entry holds a ref.
  std::unordered_map<BlockId, Block*, KeyedIdHash> departures_ KVTIER_GUARDED_BY(evict_mu_);

  // Written under evict_mu_, read without it (gauges).
  std::atomic<std::uint64_t> charged_bytes_{0};  // block_charge() of the indexed blocks
  std::atomic<std::uint64_t> value_bytes_{0};    // their value bytes
  std::atomic<std::uint64_t> indexed_blocks_{0};
  std::atomic<std::uint64_t> pinned_bytes_{0};
  std::atomic<std::uint64_t> departing_blocks_{0};

  // Counters (hits and misses live in the index shards).
  std::atomic<std::uint64_t> inserts_{0};
  std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::uint64_t> evicted_bytes_{0};
  std::atomic<std::uint64_t> removes_{0};
  std::atomic<std::uint64_t> replaces_{0};
  std::atomic<std::uint64_t> pin_rejections_{0};
  std::atomic<std::uint64_t> no_space_{0};
};

namespace {

void add(std::atomic<std::uint64_t>& a, std::uint64_t n) {
  a.fetch_add(n, std::memory_order_relaxed);
}
void sub(std::atomic<std::uint64_t>& a, std::uint64_t n) {
  a.fetch_sub(n, std::memory_order_relaxed);
}
std::uint64_t get_relaxed(const std::atomic<std::uint64_t>& a) {
  return a.load(std::memory_order_relaxed);
}

}  // namespace

Result<std::unique_ptr<DramTier>> DramTier::create(const DramConfig& config) {
  // The one check of the config (shards a power of two, fractions in range): the index and the
  // accounting rely on it.
  KVTIER_RETURN_IF_ERROR(config.validate());
  std::unique_ptr<DramTier> tier(new (std::nothrow) DramTierImpl(config));
  if (!tier) return Status::NoSpace("cannot allocate the DRAM tier");
  return tier;
}

DramTierImpl::DramTierImpl(const DramConfig& config)
    : capacity_(config.capacity_bytes),
      max_pinned_bytes_(static_cast<std::uint64_t>(config.max_pinned_fraction *
                                                   static_cast<double>(config.capacity_bytes))),
      max_lease_(config.max_lease),
      live_(pool_limit(config.capacity_bytes)),
      index_(config.shards),
      policy_(static_cast<std::uint64_t>(config.small_queue_fraction *
                                         static_cast<double>(config.capacity_bytes))) {}

DramTierImpl::~DramTierImpl() {
  std::vector<Block*> blocks;
  blocks.reserve(get_relaxed(indexed_blocks_) + departures_.size());
  for (const auto& [id, b] : departures_) blocks.push_back(b);
  departures_.clear();
  index_.for_each([&](Block* b) { blocks.push_back(b); });
  index_.clear();
  for (Block* b : blocks) unref_block(b);
  // Contract: every BlockRef and Reservation was released before the tier is destroyed.
  const bool all_refs_released = live_.blocks.load(std::memory_order_acquire) == 0;
  KVTIER_CHECK(all_refs_released);
}

Result<Reservation> DramTierImpl::reserve(const BlockId& id, std::size_t size) {
  if (capacity_ == 0) return Status::TooLarge("the DRAM tier is disabled (capacity_bytes = 0)");
  if (block_charge(size) > capacity_) {
    return Status::TooLarge("value of " + bytes_text(size) + " (" + bytes_text(block_charge(size)) +
                            " with its page rounding and metadata) exceeds the DRAM capacity of " +
                            bytes_text(capacity_));
  }
  Block* b = new (std::nothrow) Block(id, BlockIndex::hash_of(id), size, &live_);
  if (b != nullptr && b->buffer.empty()) {
    delete b;
    b = nullptr;
  }
  if (b == nullptr) {
    add(no_space_, 1);
    return Status::NoSpace("cannot allocate " + bytes_text(size) + " of DRAM");
  }
  live_.blocks.fetch_add(1, std::memory_order_relaxed);
  live_.bytes.fetch_add(static_cast<std::int64_t>(b->buffer.size()), std::memory_order_relaxed);
  return Reservation(b);
}

Status DramTierImpl::commit(Reservation& reservation, CommitMode mode, bool clean,
                            std::vector<BlockRef>* evicted) {
  Block* b = reservation.block_;
  if (b == nullptr) return Status::InvalidArgument("commit of an empty reservation");
  if (b->live != &live_) {
    return Status::InvalidArgument("commit of a reservation made by another DramTier");
  }
  b->clean.store(clean, std::memory_order_relaxed);

  std::vector<Block*> to_drop;  // refs released once evict_mu_ is unlocked
  Status status;
  {
    MutexLock lock(evict_mu_);
    status = commit_locked(b, mode, evicted, &to_drop);
    departing_blocks_.store(departures_.size(), std::memory_order_relaxed);
  }
  if (status.ok()) reservation.block_ = nullptr;  // its ref became the index's
  for (Block* x : to_drop) unref_block(x);
  return status;
}

bool DramTierImpl::supersede_departure(const BlockId& id, std::vector<Block*>* to_drop) {
  auto it = departures_.find(id);
  if (it == departures_.end()) return false;
  it->second->superseded = true;
  to_drop->push_back(it->second);
  departures_.erase(it);
  return true;
}

Status DramTierImpl::commit_locked(Block* b, CommitMode mode, std::vector<BlockRef>* evicted,
                                   std::vector<Block*>* to_drop) {
  const std::int64_t now = now_ns();
  Block* old = nullptr;
  if (mode == CommitMode::kIfAbsent) {
    old = index_.find(b->id, b->hash);
    if (old != nullptr || departures_.count(b->id) != 0) {
      return Status::Rejected("DRAM holds a newer copy of the block");
    }
  } else {
    // A put supersedes the bytes of an earlier eviction still on their way down, whether or not
    // it succeeds here (when it does not, the caller stores it elsewhere or fails it).
    supersede_departure(b->id, to_drop);
  }
  if (!index_.prepare_insert(b->id, b->hash, &old)) {
    add(no_space_, 1);
    return Status::NoSpace("cannot grow the DRAM index");
  }

  // Room can be made only by evicting unpinned blocks: fail up front, before evicting anything,
  // when the pinned blocks (other than the one being replaced) and b cannot fit together.
  bool old_pinned = old != nullptr && pin_active(old, now);
  auto pinned_others = [&] {
    return get_relaxed(pinned_bytes_) - (old_pinned ? old->charge : 0);
  };
  if (pinned_others() + b->charge > capacity_) {
    sweep_expired_pins(now);
    old_pinned = old != nullptr && pin_active(old, now);
    if (pinned_others() + b->charge > capacity_) {
      add(no_space_, 1);
      return Status::NoSpace("pinned blocks leave no room for " + bytes_text(b->size) +
                             " in DRAM");
    }
  }

  // The block being replaced leaves the policy now; it is put back if the commit fails.
  const Queue old_queue = old != nullptr ? old->queue : Queue::kNone;
  if (old != nullptr) policy_.erase(old);

  // Choose victims until b fits. They stay indexed until the commit is certain to succeed.
  const std::uint64_t charged_after =
      get_relaxed(charged_bytes_) - (old != nullptr ? old->charge : 0) + b->charge;
  std::uint64_t freed = 0;
  std::vector<Block*> victims;
  const std::size_t idle_limit = 5 * policy_.blocks() + 8;  // every unpinned block goes by then
  std::size_t idle = 0;
  // Called by policy_.evict_step, within this function's hold of evict_mu_, which the analysis
  // cannot follow into S3Fifo.
  auto is_pinned = [&](Block* x) KVTIER_NO_THREAD_SAFETY_ANALYSIS { return pin_active(x, now); };
  while (charged_after - freed > capacity_ && !policy_.empty() && idle <= idle_limit) {
    Block* v = policy_.evict_step(is_pinned);
    if (v == nullptr) {
      ++idle;
      continue;
    }
    idle = 0;
    victims.push_back(v);
    freed += v->charge;
  }
  if (charged_after - freed > capacity_) {
    // Only pinned blocks are left (the up-front check makes this rare): nothing is lost.
    policy_.restore(victims);
    if (old != nullptr) policy_.insert_into(old, old_queue);
    add(no_space_, 1);
    return Status::NoSpace("pinned blocks leave no room for " + bytes_text(b->size) + " in DRAM");
  }

  // Success from here on.
  if (evicted != nullptr) evicted->reserve(evicted->size() + victims.size());
  to_drop->reserve(victims.size() + 1);
  for (Block* v : victims) {
    const bool was_indexed = index_.erase(v);
    KVTIER_CHECK(was_indexed);
    account_remove(v);
    add(evictions_, 1);
    add(evicted_bytes_, v->size);
    if (evicted != nullptr) {
      evicted->push_back(BlockRef(v));  // the index's ref moves to the caller
      supersede_departure(v->id, to_drop);  // an older eviction of the id: older bytes
      v->leaving = true;
      ref_block(v);
      departures_.emplace(v->id, v);
    } else {
      to_drop->push_back(v);
    }
  }
  std::int64_t inherited_pin = 0;
  if (old != nullptr) {
    if (old_pinned) inherited_pin = old->pinned_until_ns;
    account_remove(old);
    add(replaces_, 1);
    to_drop->push_back(old);  // readers holding refs keep its bytes
  }
  Block* replaced = index_.insert(b);
  KVTIER_CHECK(replaced == old);
  if (old_queue == Queue::kMain) {
    policy_.insert_into(b, Queue::kMain);
  } else {
    policy_.insert(b);
  }
  account_add(b);
  // A pin belongs to the id: the new version stays pinned.
  if (inherited_pin != 0) set_pin(b, inherited_pin);
  add(inserts_, 1);
  return Status::Ok();
}

Status DramTierImpl::put(const BlockId& id, std::span<const std::byte> value, CommitMode mode,
                         bool clean, std::vector<BlockRef>* evicted) {
  Result<Reservation> r = reserve(id, value.size());
  if (!r.ok()) {
    // A put that cannot even reserve still supersedes an older departure (as commit_locked does
    // for one that reserved): the caller stores it elsewhere or fails it.
    if (mode == CommitMode::kReplace) {
      std::vector<Block*> to_drop;
      {
        MutexLock lock(evict_mu_);
        supersede_departure(id, &to_drop);
        departing_blocks_.store(departures_.size(), std::memory_order_relaxed);
      }
      for (Block* x : to_drop) unref_block(x);
    }
    return r.status();
  }
  if (!value.empty()) std::memcpy(r->data().data(), value.data(), value.size());
  return commit(*r, mode, clean, evicted);
}

GetResult DramTierImpl::get(const BlockId& id, std::span<std::byte> dst, engine::ReadFor why) {
  const bool counted = why == engine::ReadFor::kClient;
  Block* b = nullptr;
  bool present = false;
  std::size_t size = 0;
  index_.visit(id, BlockIndex::hash_of(id), [&](Block* found, BlockIndex::ShardStats& stats) {
    if (found == nullptr) {
      if (counted) stats.add_miss();
      return;
    }
    present = true;
    size = found->size;
    if (size > dst.size()) return;  // neither a hit nor a miss: the caller retries
    ref_block(found);
    if (counted) {
      found->touch();
      stats.add_hit();
    }
    b = found;
  });
  if (!present) return {Status::NotFound("dram miss"), 0, Tier::kNone};
  if (b == nullptr) {
    return {Status::BufferTooSmall("value is " + bytes_text(size) + ", buffer holds " +
                                   bytes_text(dst.size())),
            size, Tier::kNone};
  }
  if (size != 0) std::memcpy(dst.data(), b->data(), size);
  unref_block(b);
  return {Status::Ok(), size, Tier::kDram};
}

void DramTierImpl::get_many(NamespaceId ns, std::span<const GetItem> items,
                            std::span<GetResult> out, engine::ReadFor why) {
  KVTIER_CHECK(out.size() >= items.size());
  for (std::size_t i = 0; i < items.size(); ++i) out[i] = get({ns, items[i].key}, items[i].dst, why);
}

BlockRef DramTierImpl::acquire(const BlockId& id, AcquireFor why) {
  Block* b = nullptr;
  index_.visit(id, BlockIndex::hash_of(id), [&](Block* found, BlockIndex::ShardStats& stats) {
    if (found == nullptr) {
      if (why == AcquireFor::kRead) stats.add_miss();
      return;
    }
    ref_block(found);
    if (why != AcquireFor::kStoreInternal) {
      found->touch();
      stats.add_hit();
    }
    b = found;
  });
  return BlockRef(b);
}

bool DramTierImpl::contains(const BlockId& id) {
  bool present = false;
  index_.visit(id, BlockIndex::hash_of(id),
               [&](Block* found, BlockIndex::ShardStats&) { present = found != nullptr; });
  return present;
}

bool DramTierImpl::is_current(const BlockRef& ref) {
  if (!ref.block_) return false;
  bool current = false;
  const Block* want = ref.block_;
  index_.visit(want->id, want->hash,
               [&](Block* found, BlockIndex::ShardStats&) { current = found == want; });
  return current;
}

void DramTierImpl::probe(NamespaceId ns, std::span<const Key> keys,
                         std::span<std::uint8_t> found) {
  index_.probe(ns, keys, found);
}

Status DramTierImpl::remove(const BlockId& id) {
  Block* b = nullptr;
  std::vector<Block*> to_drop;
  {
    MutexLock lock(evict_mu_);
    const bool departing = supersede_departure(id, &to_drop);
    departing_blocks_.store(departures_.size(), std::memory_order_relaxed);
    b = index_.erase_id(id, BlockIndex::hash_of(id));
    if (b != nullptr) {
      policy_.erase(b);
      account_remove(b);
      to_drop.push_back(b);
      add(removes_, 1);  // indexed blocks removed (a superseded departure was evicted already)
    }
    if (b == nullptr && !departing) return Status::NotFound("not in DRAM");
  }
  for (Block* x : to_drop) unref_block(x);
  return Status::Ok();
}

bool DramTierImpl::departure_current(const BlockRef& ref) {
  Block* want = ref.block_;
  if (want == nullptr) return false;
  MutexLock lock(evict_mu_);
  if (index_.find(want->id, want->hash) == want) return true;
  auto it = departures_.find(want->id);
  return it != departures_.end() && it->second == want && !want->superseded;
}

void DramTierImpl::end_departure(const BlockRef& ref) {
  Block* b = ref.block_;
  if (b == nullptr) return;
  {
    MutexLock lock(evict_mu_);
    auto it = departures_.find(b->id);
    if (it == departures_.end() || it->second != b) return;
    departures_.erase(it);
    departing_blocks_.store(departures_.size(), std::memory_order_relaxed);
  }
  unref_block(b);  // the departures' ref; the caller's ref keeps the bytes
}

Status DramTierImpl::pin(const BlockId& id, std::chrono::milliseconds lease,
                         std::uint64_t max_namespace_pinned_bytes) {
  if (lease.count() <= 0 || lease > max_lease_) {
    return Status::InvalidArgument("pin lease must be in (0, " +
                                   std::to_string(max_lease_.count()) + "] ms, got " +
                                   std::to_string(lease.count()));
  }
  const std::int64_t now = now_ns();
  const std::int64_t until =
      now + std::chrono::duration_cast<std::chrono::nanoseconds>(lease).count();
  MutexLock lock(evict_mu_);
  Block* b = index_.find(id, BlockIndex::hash_of(id));
  if (b == nullptr) return Status::NotFound("not in DRAM");
  if (b->pinned_until_ns != 0) {  // pinned (maybe expired, still counted): renew, never shorten
    b->pinned_until_ns = std::max(b->pinned_until_ns, until);
    return Status::Ok();
  }
  if (get_relaxed(pinned_bytes_) + b->charge > max_pinned_bytes_) {
    sweep_expired_pins(now);
    if (get_relaxed(pinned_bytes_) + b->charge > max_pinned_bytes_) {
      add(pin_rejections_, 1);
      return Status::Busy("pinned DRAM bytes would exceed their limit of " +
                          bytes_text(max_pinned_bytes_));
    }
  }
  if (max_namespace_pinned_bytes != 0) {
    // b is indexed, so its namespace has usage.
    auto ns_pinned = [&]() KVTIER_REQUIRES(evict_mu_) { return ns_usage_.at(id.ns).pinned_bytes; };
    if (ns_pinned() + b->charge > max_namespace_pinned_bytes) {
      sweep_expired_pins(now);
      if (ns_pinned() + b->charge > max_namespace_pinned_bytes) {
        add(pin_rejections_, 1);
        return Status::Busy("the tenant's pinned DRAM bytes would exceed its pin budget of " +
                            bytes_text(max_namespace_pinned_bytes));
      }
    }
  }
  set_pin(b, until);
  return Status::Ok();
}

Status DramTierImpl::unpin(const BlockId& id) {
  MutexLock lock(evict_mu_);
  Block* b = index_.find(id, BlockIndex::hash_of(id));
  if (b == nullptr) return Status::NotFound("not in DRAM");
  if (b->pinned_until_ns != 0) drop_pin(b);
  return Status::Ok();
}

void DramTierImpl::mark_clean(const BlockId& id) {
  index_.visit(id, BlockIndex::hash_of(id), [](Block* found, BlockIndex::ShardStats&) {
    if (found != nullptr) found->clean.store(true, std::memory_order_relaxed);
  });
}

void DramTierImpl::mark_clean(const BlockRef& ref) {
  if (ref.block_ != nullptr) ref.block_->clean.store(true, std::memory_order_relaxed);
}

std::vector<BlockRef> DramTierImpl::dirty_blocks() {
  std::vector<BlockRef> out;
  MutexLock lock(evict_mu_);
  out.reserve(policy_.blocks());
  policy_.for_each([&](Block* b) {  // oldest first: those closest to eviction
    if (b->clean.load(std::memory_order_relaxed)) return;
    ref_block(b);
    out.push_back(BlockRef(b));
  });
  return out;
}

NamespaceUsage DramTierImpl::namespace_usage(NamespaceId ns) {
  MutexLock lock(evict_mu_);
  auto it = ns_usage_.find(ns);
  return it == ns_usage_.end() ? NamespaceUsage{} : it->second;
}

void DramTierImpl::visit_counters(const CounterVisitor& visitor) {
  {
    MutexLock lock(evict_mu_);
    sweep_expired_pins(now_ns());  // so that dram_pinned_bytes does not count expired leases
  }
  report_count(visitor, "dram_hits", index_.hits());
  report_count(visitor, "dram_misses", index_.misses());
  report_count(visitor, "dram_inserts", get_relaxed(inserts_));
  report_count(visitor, "dram_evictions", get_relaxed(evictions_));
  report_count(visitor, "dram_evicted_bytes", get_relaxed(evicted_bytes_));
  report_count(visitor, "dram_removes", get_relaxed(removes_));
  report_count(visitor, "dram_replaces", get_relaxed(replaces_));
  report_count(visitor, "dram_pin_rejections", get_relaxed(pin_rejections_));
  report_count(visitor, "dram_no_space", get_relaxed(no_space_));
  report_count(visitor, "dram_buffer_reuses", live_.pool.reuses());
  // Capacity is charged what blocks cost (block_charge); dram_value_bytes is what clients stored.
  report_gauge(visitor, "dram_bytes", static_cast<double>(get_relaxed(charged_bytes_)));
  report_gauge(visitor, "dram_value_bytes", static_cast<double>(get_relaxed(value_bytes_)));
  report_gauge(visitor, "dram_blocks", static_cast<double>(get_relaxed(indexed_blocks_)));
  report_gauge(visitor, "dram_pinned_bytes", static_cast<double>(get_relaxed(pinned_bytes_)));
  report_gauge(visitor, "dram_capacity_bytes", static_cast<double>(capacity_));
  report_gauge(visitor, "dram_departing_blocks", static_cast<double>(get_relaxed(departing_blocks_)));
  // Memory actually held: indexed blocks, open reservations and blocks kept alive only by refs
  // (e.g. evicted blocks awaiting demotion), in 4 KiB-rounded allocation sizes.
  report_gauge(visitor, "dram_allocated_bytes",
        static_cast<double>(live_.bytes.load(std::memory_order_relaxed)));
  report_gauge(visitor, "dram_allocated_blocks",
        static_cast<double>(live_.blocks.load(std::memory_order_relaxed)));
  report_gauge(visitor, "dram_pooled_bytes", static_cast<double>(live_.pool.idle_bytes()));
}

bool DramTierImpl::pin_active(Block* b, std::int64_t now) {
  if (b->pinned_until_ns == 0) return false;
  if (b->pinned_until_ns > now) return true;
  drop_pin(b);
  return false;
}

void DramTierImpl::set_pin(Block* b, std::int64_t until) {
  b->pinned_until_ns = until;
  pinned_.insert(b);
  add(pinned_bytes_, b->charge);
  ns_usage_.at(b->id.ns).pinned_bytes += b->charge;
}

void DramTierImpl::drop_pin(Block* b) {
  pinned_.erase(b);
  sub(pinned_bytes_, b->charge);
  ns_usage_.at(b->id.ns).pinned_bytes -= b->charge;
  b->pinned_until_ns = 0;
}

void DramTierImpl::sweep_expired_pins(std::int64_t now) {
  for (auto it = pinned_.begin(); it != pinned_.end();) {
    Block* b = *it++;  // drop_pin erases b from pinned_: step past it first
    if (b->pinned_until_ns <= now) drop_pin(b);
  }
}

void DramTierImpl::account_add(Block* b) {
  add(charged_bytes_, b->charge);
  add(value_bytes_, b->size);
  add(indexed_blocks_, 1);
  NamespaceUsage& u = ns_usage_[b->id.ns];
  u.blocks += 1;
  u.bytes += b->size;
  u.charged_bytes += b->charge;
}

void DramTierImpl::account_remove(Block* b) {
  if (b->pinned_until_ns != 0) drop_pin(b);
  sub(charged_bytes_, b->charge);
  sub(value_bytes_, b->size);
  sub(indexed_blocks_, 1);
  auto it = ns_usage_.find(b->id.ns);
  KVTIER_CHECK(it != ns_usage_.end() && it->second.blocks > 0 && it->second.bytes >= b->size);
  it->second.blocks -= 1;
  it->second.bytes -= b->size;
  it->second.charged_bytes -= b->charge;
  if (it->second.blocks == 0) ns_usage_.erase(it);
}

}  // namespace kvtier::dram
