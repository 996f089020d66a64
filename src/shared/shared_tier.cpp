// SharedTier (see shared_tier.h).
//
// Ownership: everything a background thread touches lives in Core, held by shared_ptr by every
// thread and task, because a thread stuck in a hung call may outlive the SharedTier (it is left
// behind at close). The one thing Core does not own is the LocalBlockSource (the Store): it is
// used only between enter_local() and leave_local(), and close() waits for those (local reads do
// not hang) before it returns.
#include "shared/shared_tier.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "integrity/check.h"
#include "memory/aligned_buffer.h"
#include "metrics/counter_report.h"
#include "shared/blocking_executor.h"
#include "shared/circuit_breaker.h"
#include "shared/block_auth.h"
#include "shared/outbox.h"
#include "sync/mutex.h"

namespace kvtier::shared {
namespace {

constexpr std::size_t kUploadBatch = 8;
constexpr auto kIdleWait = std::chrono::milliseconds(50);
constexpr auto kStopGrace = std::chrono::seconds(2);
// Pings that may be stuck at once (a lost FUSE request, an NFS call only a forced unmount ends):
// each one that overruns call_timeout is left running and the next starts on another thread.
// With this many lost for good, no probe can run and the tier stays off until one returns
// (kvtier_shared_probes_stuck says so).
constexpr std::uint32_t kProbeThreads = 4;
// A staging backend (a packed object store, shared_backend.h) holds writes in its open segment
// until a flush: the uploaders flush when the outbox has nothing ready to send, and at least this
// often while it keeps them busy, so a block reaches other nodes within about this much (plus
// their listing interval) and the outbox records a flush covers are not held longer.
constexpr auto kMaxStagedAge = std::chrono::seconds(2);

// The packing of an object-store backend (which runs maintenance: compaction and expiry); null
// for the others.
const PackingConfig* packing_of(const SharedTierConfig& c) {
  switch (c.backend) {
    case SharedBackendKind::kS3:
      return &c.s3.packing;
    case SharedBackendKind::kAzure:
      return &c.azure.packing;
    default:
      return nullptr;
  }
}

struct Counters {
  std::atomic<std::uint64_t> reads{0}, read_hits{0}, read_misses{0}, read_errors{0},
      read_late{0}, read_refused_busy{0}, read_skipped_open{0}, read_skipped_owed{0}, probes{0},
      probe_skipped_open{0}, probe_skipped_owed{0}, refused_unsealed{0}, refused_other_key{0},
      refused_bad_tag{0},
      uploads{0}, upload_bytes{0}, upload_failures{0}, upload_skipped_present{0},
      upload_lost_local{0}, upload_local_errors{0}, enqueued{0}, outbox_rejected_full{0}, outbox_errors{0},
      removes{0}, remove_failures{0}, removes_unordered{0}, removes_dropped{0}, health_probes{0}, health_failures{0}, hung_calls{0}, maintain_runs{0},
      maintain_errors{0}, flushes{0}, flush_failures{0};
  std::atomic<std::uint32_t> probes_stuck{0};  // a gauge, set by the watchdog
};

struct Core {
  Core(const SharedTierConfig& c, std::unique_ptr<SharedBackend> b, std::unique_ptr<Outbox> o,
       LocalBlockSource& l)
      : config(c), auth(c.namespace_keys), backend(std::move(b)), outbox(std::move(o)),
        breaker(c.breaker_failures), local(&l) {}

  const SharedTierConfig config;
  const BlockAuth auth;
  const std::unique_ptr<SharedBackend> backend;
  const std::unique_ptr<Outbox> outbox;
  CircuitBreaker breaker;
  Counters counters;

  Mutex mu;
  std::condition_variable cv;        // stop requested, work queued, or a local user left
  bool stopping KVTIER_GUARDED_BY(mu) = false;
  LocalBlockSource* local KVTIER_GUARDED_BY(mu);  // valid while !stopping
  std::uint32_t local_users KVTIER_GUARDED_BY(mu) = 0;
  Clock::time_point pace_next KVTIER_GUARDED_BY(mu){};  // drain pacing
  std::uint64_t work_generation KVTIER_GUARDED_BY(mu) = 0;  // bumped when blocks are queued

  // Writes a staging backend holds until its next flush, with their outbox records (completed
  // only when a flush covering them succeeds). Staging and flushing both hold staging_mu, so a
  // flush's answer is about exactly the records in `staged` when it began.
  Mutex staging_mu;
  std::vector<OutboxEntry> staged KVTIER_GUARDED_BY(staging_mu);
  Clock::time_point first_staged KVTIER_GUARDED_BY(staging_mu){};

  bool stop_requested() {
    MutexLock lock(mu);
    return stopping;
  }
  // Sleeps up to `d`, waking early on stop. False when stopping.
  bool idle(Clock::duration d) {
    MutexLock lock(mu);
    cv.wait_for(lock.native(), d, [&]() KVTIER_REQUIRES(mu) { return stopping; });
    return !stopping;
  }
  // For the uploaders: sleeps up to `d`, waking early on stop or when blocks are queued (so an
  // upload starts at once, not at the next poll). The periodic wake-up still retries entries
  // whose backoff has passed.
  void wait_for_work(Clock::duration d) {
    MutexLock lock(mu);
    const std::uint64_t seen = work_generation;
    cv.wait_for(lock.native(), d, [&]() KVTIER_REQUIRES(mu) { return stopping || work_generation != seen; });
  }
  void work_queued() {
    {
      MutexLock lock(mu);
      ++work_generation;
    }
    cv.notify_all();
  }
  Clock::duration call_timeout() const { return config.call_timeout; }

  // A call that failed, or answered later than call_timeout, counts against the breaker.
  void judge(bool failed, Clock::time_point started) {
    if (failed || Clock::now() - started > config.call_timeout) {
      breaker.record_failure();
      return;
    }
    last_success.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
    breaker.record_success();
  }
  // A staging backend (a packed object store) answers its puts, removals, presence checks and the
  // reads of blocks it does not know from memory (what it staged, what its map holds), so their
  // successes say nothing about the medium: judged, they would reset the breaker's count of
  // consecutive failures on every write or LOOKUP while the store is down, and the breaker would
  // never open. Only their failures are judged; its flushes and the pings are judged whole (the
  // pings close the breaker again).
  void judge_call(bool failed, Clock::time_point started) {
    if (failed || !backend->stages_writes()) judge(failed, started);
  }
  // When a call last answered in time (the epoch of the clock if none has).
  Clock::time_point last_success_at() const {
    return Clock::time_point(Clock::duration(last_success.load(std::memory_order_acquire)));
  }
  std::atomic<Clock::rep> last_success{0};

  // Copies a block from the local tiers into `out`; NotFound when no longer local, Closed when
  // stopping.
  // The block's local bytes into *out, with room for `extra` bytes after them (*size: the
  // block's own).
  Status copy_local(const BlockId& id, std::size_t extra, AlignedBuffer* out, std::size_t* size) {
    LocalBlockSource* src;
    {
      MutexLock lock(mu);
      if (stopping) return Status::Closed("shared tier is closing");
      src = local;
      ++local_users;
    }
    Status s;
    {
      Result<engine::BlockView> view = src->read_for_upload(id);
      if (!view.ok()) {
        s = view.status();
      } else {
        // Copied, so a call stuck after close never reads memory the Store has freed.
        std::span<const std::byte> bytes = view.value().bytes();
        *out = AlignedBuffer(bytes.size() + extra);
        if (out->empty()) {
          s = Status::NoSpace("cannot allocate an upload buffer");
        } else {
          std::memcpy(out->data(), bytes.data(), bytes.size());
          *size = bytes.size();
        }
      }
    }
    {
      MutexLock lock(mu);
      --local_users;
    }
    cv.notify_all();
    return s;
  }

  // Waits so that uploads average at most drain_rate_mb_s. False when stopping.
  bool pace(std::size_t bytes) {
    if (config.drain_rate_mb_s <= 0) return true;
    auto cost = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(static_cast<double>(bytes) / (config.drain_rate_mb_s * 1e6)));
    Clock::time_point at;
    {
      MutexLock lock(mu);
      at = std::max(Clock::now(), pace_next);
      pace_next = at + cost;
    }
    MutexLock lock(mu);
    cv.wait_until(lock.native(), at, [&]() KVTIER_REQUIRES(mu) { return stopping; });
    return !stopping;
  }
};

// One read or probe batch handed to the executor. The caller and the tasks share it; the caller
// takes results only for chunks done before it stopped waiting, and sets `abandoned` so the rest
// are dropped.
struct Batch {
  Mutex mu;
  std::condition_variable done_cv;
  std::size_t chunks_done KVTIER_GUARDED_BY(mu) = 0;
  std::vector<std::uint8_t> chunk_done KVTIER_GUARDED_BY(mu);
};

// Splits [0, n) into at most `parts` contiguous chunks.
std::vector<std::pair<std::size_t, std::size_t>> split(std::size_t n, std::size_t parts) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  parts = std::max<std::size_t>(1, std::min(parts, n));
  for (std::size_t p = 0; p < parts; ++p) {
    std::size_t b = n * p / parts, e = n * (p + 1) / parts;
    if (e > b) out.emplace_back(b, e);
  }
  return out;
}

// Holds core.staging_mu while a staging backend stages writes (so a flush is about exactly the
// records staged before it); for any other backend it holds nothing and uploads stay parallel.
// The analysis cannot follow a lock taken on a condition, hence its annotations.
class StagingScope {
 public:
  explicit StagingScope(Core& core) KVTIER_NO_THREAD_SAFETY_ANALYSIS
      : core_(core), held_(core.backend->stages_writes()) {
    if (held_) core_.staging_mu.lock();
  }
  ~StagingScope() KVTIER_NO_THREAD_SAFETY_ANALYSIS {
    if (held_) core_.staging_mu.unlock();
  }
  StagingScope(const StagingScope&) = delete;
  StagingScope& operator=(const StagingScope&) = delete;
  bool staging() const { return held_; }

  // Keeps the record of a write the backend staged until a flush covers it.
  void stage(const OutboxEntry& e) KVTIER_NO_THREAD_SAFETY_ANALYSIS {
    if (core_.staged.empty()) core_.first_staged = Clock::now();
    core_.staged.push_back(e);
  }

 private:
  Core& core_;
  const bool held_;
};

// Publishes what the backend staged; the records it covered are completed, or all retried.
void flush_staged(const std::shared_ptr<Core>& core) {
  Counters& c = core->counters;
  MutexLock staging_lock(core->staging_mu);
  if (core->staged.empty()) return;
  std::vector<OutboxEntry> covered;
  covered.swap(core->staged);
  const auto started = Clock::now();
  Status s = core->backend->flush(started + core->call_timeout());
  core->judge(!s.ok(), started);
  c.flushes.fetch_add(1, std::memory_order_relaxed);
  if (!s.ok()) {
    c.flush_failures.fetch_add(1, std::memory_order_relaxed);
    c.upload_failures.fetch_add(static_cast<std::uint64_t>(std::count_if(
                                    covered.begin(), covered.end(),
                                    [](const OutboxEntry& e) { return e.op == OutboxOp::kUpload; })),
                                std::memory_order_relaxed);
  }
  for (const OutboxEntry& e : covered) {
    if (s.ok()) {
      if (e.op == OutboxOp::kUpload) {
        c.uploads.fetch_add(1, std::memory_order_relaxed);
        c.upload_bytes.fetch_add(e.size, std::memory_order_relaxed);
      }
      core->outbox->complete(e);
    } else {
      core->outbox->retry_later(e);
    }
  }
}

// Whether the uploaders should flush now: the outbox had nothing ready, or the oldest staged
// write waited kMaxStagedAge.
bool flush_due(Core& core, bool outbox_idle) {
  MutexLock staging_lock(core.staging_mu);
  return !core.staged.empty() &&
         (outbox_idle || Clock::now() - core.first_staged >= kMaxStagedAge);
}

// Removes the shared copy of each removal in `batch` (one call each: no backend batches them) and
// leaves the uploads.
void remove_some(const std::shared_ptr<Core>& core, std::vector<OutboxEntry>& batch) {
  Counters& c = core->counters;
  std::erase_if(batch, [&](const OutboxEntry& e) {
    if (e.op != OutboxOp::kRemove) return false;
    const auto started = Clock::now();
    StagingScope scope(*core);
    Status s = core->backend->remove(e.id, started + core->call_timeout());
    const bool failed = !s.ok() && !s.is_not_found();
    core->judge_call(failed, started);
    c.removes.fetch_add(1, std::memory_order_relaxed);
    if (failed) {
      c.remove_failures.fetch_add(1, std::memory_order_relaxed);
      core->outbox->retry_later(e);
    } else if (scope.staging()) {
      scope.stage(e);
    } else {
      core->outbox->complete(e);
    }
    return true;
  });
}

void upload_some(const std::shared_ptr<Core>& core, std::vector<OutboxEntry> batch) {
  Counters& c = core->counters;
  remove_some(core, batch);
  std::vector<AlignedBuffer> buffers;
  std::vector<std::size_t> sizes;
  std::vector<OutboxEntry> todo;
  for (OutboxEntry& e : batch) {
    AlignedBuffer buf;
    std::size_t size = 0;
    const std::size_t seal = core->auth.overhead(e.id.ns);
    Status s = core->copy_local(e.id, seal, &buf, &size);
    if (s.code() == StatusCode::kClosed) {
      core->outbox->retry_later(e);
      continue;
    }
    if (s.is_not_found()) {
      // Evicted from every local tier before it could be uploaded (or removed again): nothing
      // left to send. An overwriting upload was to replace bytes the owner removed, so that
      // copy is removed instead.
      c.upload_lost_local.fetch_add(1, std::memory_order_relaxed);
      if (e.overwrite) {
        core->outbox->remove_instead(e);
      } else {
        core->outbox->complete(e);
      }
      continue;
    }
    if (!s.ok()) {
      // Held locally but not readable now (a device read error, no memory for the copy): the
      // promise to upload stands; tried again after the backoff.
      c.upload_local_errors.fetch_add(1, std::memory_order_relaxed);
      core->outbox->retry_later(e);
      continue;
    }
    if (seal != 0) {
      // Sealed from the copy the tier owns: the trailer vouches for exactly the bytes sent.
      core->auth.seal(e.id, buf.span().first(size), buf.span().subspan(size, seal));
      size += seal;
    }
    buffers.push_back(std::move(buf));
    sizes.push_back(size);
    todo.push_back(e);
  }
  if (todo.empty()) return;

  // A block there already is kept (its expiry restarted) rather than trusted to outlive the put;
  // an overwriting upload (the block was removed since) asks nothing: a copy found may be older.
  std::vector<BlockId> ids;
  std::vector<std::size_t> asked_at;
  for (std::size_t i = 0; i < todo.size(); ++i) {
    if (todo[i].overwrite) continue;
    ids.push_back(todo[i].id);
    asked_at.push_back(i);
  }
  std::vector<Status> present(todo.size(), Status::NotFound(""));
  auto started = Clock::now();
  bool failed = false;
  if (!ids.empty()) {
    std::vector<Status> answers(ids.size());
    core->backend->keep_many(ids, answers, started + core->call_timeout());
    for (std::size_t j = 0; j < ids.size(); ++j) present[asked_at[j]] = answers[j];
    failed = std::any_of(answers.begin(), answers.end(),
                         [](const Status& s) { return !s.ok() && !s.is_not_found(); });
    core->judge_call(failed, started);
  }

  std::vector<SharedPut> puts;
  std::vector<std::size_t> put_at;
  for (std::size_t i = 0; i < todo.size(); ++i) {
    if (present[i].ok()) {
      c.upload_skipped_present.fetch_add(1, std::memory_order_relaxed);
      core->outbox->complete(todo[i]);
      continue;
    }
    if (!core->pace(sizes[i])) {
      core->outbox->retry_later(todo[i]);
      continue;
    }
    puts.push_back(SharedPut{todo[i].id, buffers[i].span().first(sizes[i])});
    put_at.push_back(i);
  }
  if (puts.empty()) return;
  std::vector<Status> out(puts.size());
  StagingScope scope(*core);
  started = Clock::now();
  core->backend->put_many(puts, out, started + core->call_timeout());
  failed = false;
  for (std::size_t j = 0; j < puts.size(); ++j) {
    const OutboxEntry& e = todo[put_at[j]];
    if (out[j].ok()) {
      if (scope.staging()) {
        scope.stage(e);  // counted as uploaded when a flush publishes it
      } else {
        c.uploads.fetch_add(1, std::memory_order_relaxed);
        c.upload_bytes.fetch_add(puts[j].value.size(), std::memory_order_relaxed);
        core->outbox->complete(e);
      }
    } else {
      c.upload_failures.fetch_add(1, std::memory_order_relaxed);
      failed = true;
      core->outbox->retry_later(e);
    }
  }
  core->judge_call(failed, started);
}

void upload_loop(const std::shared_ptr<Core>& core) {
  while (!core->stop_requested()) {
    if (!core->breaker.closed()) {
      core->breaker.wait_closed(std::chrono::milliseconds(100));
      continue;
    }
    std::vector<OutboxEntry> batch = core->outbox->take(kUploadBatch);
    const bool idle = batch.empty();
    if (!idle) upload_some(core, std::move(batch));
    if (flush_due(*core, idle)) flush_staged(core);
    if (idle) core->wait_for_work(kIdleWait);
  }
}

// The prober: one ping per probe_interval, on the probe threads so a hung ping blocks nothing
// else. A ping still running after call_timeout is left to finish (or never: a lost FUSE request)
// and the next starts on another probe thread, so a stuck ping never keeps the breaker open once
// the medium answers again. `latest` is when the latest ping started, 0 once it answered.
void probe_loop(const std::shared_ptr<Core>& core, BlockingExecutor* probes,
                const std::shared_ptr<std::atomic<Clock::rep>>& latest) {
  while (core->idle(core->config.probe_interval)) {
    const Clock::rep previous = latest->load(std::memory_order_acquire);
    const auto now = Clock::now();
    if (previous != 0 && now - Clock::time_point(Clock::duration(previous)) <= core->call_timeout()) {
      continue;  // the latest ping may still answer in time
    }
    const Clock::rep token = now.time_since_epoch().count();
    latest->store(token, std::memory_order_release);
    bool submitted = probes->try_submit([core, latest, started = now, token] {
      Status s = core->backend->ping(started + core->call_timeout());
      Clock::rep mine = token;
      latest->compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
      core->counters.health_probes.fetch_add(1, std::memory_order_relaxed);
      if (!s.ok()) core->counters.health_failures.fetch_add(1, std::memory_order_relaxed);
      core->judge(!s.ok(), started);
    });
    if (!submitted) latest->store(previous, std::memory_order_release);  // every probe thread stuck
  }
}

// The watchdog: a call running longer than call_timeout (a hung mount, a frozen server) counts as
// one failure per probe_interval, so the breaker opens even when nothing ever returns an error.
// Only a call started after the last one that answered in time counts: one stuck since before
// (a lost request) says nothing about the medium now, and would keep the breaker open for good.
void watchdog_loop(const std::shared_ptr<Core>& core, const BlockingExecutor* probes,
                   const BlockingExecutor* reads) {
  while (core->idle(core->config.probe_interval)) {
    const BlockingExecutor::Overrun probe = probes->running_longer_than(core->call_timeout());
    const BlockingExecutor::Overrun read = reads->running_longer_than(core->call_timeout());
    core->counters.probes_stuck.store(probe.count, std::memory_order_relaxed);
    const Clock::time_point newest = std::max(probe.newest, read.newest);
    if (newest != Clock::time_point{} && newest > core->last_success_at()) {
      core->counters.hung_calls.fetch_add(1, std::memory_order_relaxed);
      core->breaker.record_failure();
    }
  }
}

void maintain_loop(const std::shared_ptr<Core>& core, std::chrono::milliseconds interval) {
  while (core->idle(interval)) {
    if (!core->breaker.closed()) continue;
    core->counters.maintain_runs.fetch_add(1, std::memory_order_relaxed);
    if (!core->backend->maintain().ok()) {
      core->counters.maintain_errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

class SharedTierImpl final : public SharedTier {
 public:
  explicit SharedTierImpl(std::shared_ptr<Core> core)
      : core_(std::move(core)),
        reads_(std::make_shared<BlockingExecutor>(core_->config.read_threads,
                                                  4 * core_->config.read_threads)),
        services_(service_threads(core_->config), service_threads(core_->config)) {}

  ~SharedTierImpl() override { close(); }

  // Each background loop occupies one service worker for the tier's life.
  void start() {
    for (std::uint32_t i = 0; i < core_->config.upload_threads; ++i) {
      start_service([core = core_] { upload_loop(core); });
    }
    start_service([core = core_, probes = probes_, latest = latest_probe_] {
      probe_loop(core, probes.get(), latest);
    });
    start_service([core = core_, probes = probes_, reads = reads_] {
      watchdog_loop(core, probes.get(), reads.get());
    });
    if (core_->config.backend == SharedBackendKind::kFs) {
      auto interval =
          std::chrono::duration_cast<std::chrono::milliseconds>(core_->config.fs.sweep_interval);
      start_service([core = core_, interval] { maintain_loop(core, interval); });
    }
    if (const PackingConfig* packing = packing_of(core_->config)) {
      auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(packing->maintain_interval);
      start_service([core = core_, interval] { maintain_loop(core, interval); });
    }
  }

  void enqueue(std::span<const BlockId> ids, std::span<const std::uint32_t> sizes,
               std::span<Status> out) override {
    core_->outbox->append(ids, sizes, out);
    Counters& c = core_->counters;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (out[i].ok()) {
        c.enqueued.fetch_add(1, std::memory_order_relaxed);
      } else if (out[i].code() == StatusCode::kRejected) {
        c.outbox_rejected_full.fetch_add(1, std::memory_order_relaxed);
      } else {
        c.outbox_errors.fetch_add(1, std::memory_order_relaxed);
      }
    }
    core_->work_queued();
  }

  void get_many(std::span<const SharedGet> items, std::span<GetResult> out,
                std::span<engine::BlockView> verified) override;
  void unseal(const BlockId& id, std::span<const std::byte> buffer, GetResult& r);
  void probe(std::span<const BlockId> ids, std::span<std::uint8_t> present) override;

  // The removal is owed through the outbox, in order with the block's uploads (one in flight
  // lands first, then the removal). Only when the outbox is full is it sent at once, unordered
  // and best effort.
  std::uint64_t remove(const BlockId& id) override {
    removals_.fetch_add(1, std::memory_order_acq_rel);
    std::uint64_t ticket = 0;
    Status s = core_->outbox->queue_removal(id, &ticket);
    if (s.code() != StatusCode::kRejected) {
      if (!s.ok()) core_->counters.outbox_errors.fetch_add(1, std::memory_order_relaxed);
      core_->work_queued();
      return ticket;
    }
    if (!core_->breaker.closed() ||
        !reads_->try_submit([core = core_, id] {
          (void)core->backend->remove(id, Clock::now() + core->call_timeout());
        })) {
      core_->counters.removes_dropped.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    core_->counters.removes_unordered.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }

  Status wait_removal(std::uint64_t ticket) override {
    return ticket != 0 ? core_->outbox->wait_durable(ticket) : Status::Ok();
  }

  std::uint64_t removals() const override { return removals_.load(std::memory_order_acquire); }

  void close() override {
    {
      MutexLock lock(core_->mu);
      if (core_->stopping) return;
      core_->stopping = true;
      core_->cv.notify_all();
      // After this no thread reads the Store: local reads never hang, so this wait is short.
      core_->cv.wait(lock.native(), [&]() KVTIER_REQUIRES(core_->mu) { return core_->local_users == 0; });
      core_->local = nullptr;
    }
    // One grace for all: threads stuck in calls are stuck at once, not one executor after another.
    // The services first: the prober submits to probes_, the watchdog reads both.
    const auto deadline = Clock::now() + kStopGrace;
    auto left = [&] { return std::max<Clock::duration>(Clock::duration::zero(), deadline - Clock::now()); };
    services_.stop(left());
    reads_->stop(left());
    probes_->stop(left());
    (void)core_->outbox->sync();
  }

  void visit_counters(const CounterVisitor& v) const override;

 private:
  static std::uint32_t service_threads(const SharedTierConfig& c) { return c.upload_threads + 3; }

  // The ids not owed an operation by the outbox, by position: the shared copy of an owed id may
  // be older than what this node's owner last put or removed (a removal or an overwriting upload
  // is on its way), so it is not read until the operation is done. `skipped` counts the others.
  std::vector<std::size_t> not_owed(std::span<const BlockId> ids, std::atomic<std::uint64_t>& skipped) const {
    std::vector<std::uint8_t> owed(ids.size());
    core_->outbox->owes(ids, owed);
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (!owed[i]) at.push_back(i);
    }
    skipped.fetch_add(ids.size() - at.size(), std::memory_order_relaxed);
    return at;
  }

  std::atomic<std::uint64_t> removals_{0};

  void start_service(std::function<void()> loop) {
    bool started = services_.try_submit(std::move(loop));
    KVTIER_CHECK(started);
  }

  // Runs `call(core, begin, end, deadline)` for contiguous chunks of [0, n) on the read threads,
  // each call within call_timeout and judged by the breaker (call returns whether it failed), and
  // waits until all are done or the read deadline passes. Returns which chunks finished in time; a
  // chunk's results may be read only when it did (its task wrote them before reporting done under
  // batch->mu). Chunks the executor refused are counted as refused and reported unfinished.
  using ChunkCall =
      std::function<bool(const std::shared_ptr<Core>&, std::size_t, std::size_t, Deadline)>;
  std::vector<std::uint8_t> run_chunks(
      const std::shared_ptr<Batch>& batch,
      const std::vector<std::pair<std::size_t, std::size_t>>& chunks, ChunkCall call);

  std::shared_ptr<Core> core_;
  std::shared_ptr<std::atomic<Clock::rep>> latest_probe_ =
      std::make_shared<std::atomic<Clock::rep>>(0);
  // Shared with the service loops, which may outlive a close() that gave up waiting for them.
  std::shared_ptr<BlockingExecutor> reads_;
  std::shared_ptr<BlockingExecutor> probes_ = std::make_shared<BlockingExecutor>(kProbeThreads, 1);
  BlockingExecutor services_;
};

std::vector<std::uint8_t> SharedTierImpl::run_chunks(
    const std::shared_ptr<Batch>& batch,
    const std::vector<std::pair<std::size_t, std::size_t>>& chunks, ChunkCall call) {
  const auto deadline = Clock::now() + core_->config.read_deadline;
  {
    MutexLock lock(batch->mu);  // no worker has the batch yet; the lock states what guards it
    batch->chunk_done.assign(chunks.size(), 0);
  }
  auto shared_call = std::make_shared<ChunkCall>(std::move(call));
  std::size_t submitted = 0;
  for (std::size_t k = 0; k < chunks.size(); ++k) {
    auto [lo, hi] = chunks[k];
    bool ok = reads_->try_submit([core = core_, batch, shared_call, k, lo, hi] {
      const auto started = Clock::now();
      core->judge_call((*shared_call)(core, lo, hi, started + core->call_timeout()), started);
      {
        MutexLock lock(batch->mu);
        batch->chunk_done[k] = 1;
        ++batch->chunks_done;
      }
      batch->done_cv.notify_all();
    });
    if (ok) {
      ++submitted;
    } else {
      core_->counters.read_refused_busy.fetch_add(hi - lo, std::memory_order_relaxed);
    }
  }
  MutexLock lock(batch->mu);
  batch->done_cv.wait_until(lock.native(), deadline, [&]() KVTIER_REQUIRES(batch->mu) {
    return batch->chunks_done == submitted;
  });
  return batch->chunk_done;  // a snapshot: later completions are ignored
}

// Results land in buffers the batch owns; only chunks finished in time are copied into the
// caller's memory, by the caller, so a late answer can never overwrite a buffer the caller has
// already reused.
struct ReadBatch : Batch {
  std::vector<AlignedBuffer> buffers;
  std::vector<SharedGet> gets;
  std::vector<GetResult> results;
};

void SharedTierImpl::get_many(std::span<const SharedGet> items, std::span<GetResult> out,
                              std::span<engine::BlockView> verified) {
  Counters& c = core_->counters;
  if (items.empty()) return;
  KVTIER_CHECK(verified.size() >= items.size());
  c.reads.fetch_add(items.size(), std::memory_order_relaxed);
  if (!core_->breaker.closed()) {
    c.read_skipped_open.fetch_add(items.size(), std::memory_order_relaxed);
    return;
  }
  std::vector<BlockId> ids;
  for (const SharedGet& g : items) ids.push_back(g.id);
  const std::vector<std::size_t> asked = not_owed(ids, c.read_skipped_owed);  // the others: misses
  if (asked.empty()) return;
  auto batch = std::make_shared<ReadBatch>();
  for (std::size_t i : asked) {
    const SharedGet& g = items[i];
    const std::size_t stored = g.dst.size() + core_->auth.overhead(g.id.ns);  // the value and its seal
    batch->buffers.emplace_back(stored);
    if (batch->buffers.back().empty()) return;  // no memory: every item stays a miss
    batch->gets.push_back(SharedGet{g.id, batch->buffers.back().span().first(stored)});
  }
  batch->results.resize(asked.size());
  auto chunks = split(asked.size(), core_->config.read_threads);
  std::vector<std::uint8_t> done = run_chunks(
      batch, chunks, [batch](const auto& core, std::size_t lo, std::size_t hi, Deadline deadline) {
        core->backend->get_many(std::span(batch->gets).subspan(lo, hi - lo),
                                std::span(batch->results).subspan(lo, hi - lo), deadline);
        return std::any_of(
            batch->results.begin() + lo, batch->results.begin() + hi,
            [](const GetResult& r) { return r.status.code() == StatusCode::kIOError; });
      });
  MutexLock lock(batch->mu);
  for (std::size_t k = 0; k < chunks.size(); ++k) {
    auto [lo, hi] = chunks[k];
    if (!done[k]) {
      c.read_late.fetch_add(hi - lo, std::memory_order_relaxed);
      continue;
    }
    for (std::size_t j = lo; j < hi; ++j) {
      const std::size_t i = asked[j];
      GetResult& r = batch->results[j];
      unseal(items[i].id, batch->buffers[j].span(), r);
      if (r.status.ok()) {
        std::memcpy(items[i].dst.data(), batch->buffers[j].data(), r.size);
        out[i] = GetResult{Status::Ok(), r.size, Tier::kShared};
        // The batch (and so this buffer) lives as long as the view: no late writer touches a
        // buffer whose chunk finished.
        verified[i] = engine::BlockView(batch->buffers[j].span().first(r.size), batch);
        c.read_hits.fetch_add(1, std::memory_order_relaxed);
      } else if (r.status.code() == StatusCode::kBufferTooSmall) {
        out[i] = r;
      } else if (r.status.is_not_found()) {
        c.read_misses.fetch_add(1, std::memory_order_relaxed);
      } else {
        c.read_errors.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
}

// For a namespace with a key, `r` (when OK or BufferTooSmall) answers the stored value with its
// seal: it is made to answer the value alone, and a value whose seal does not verify becomes a
// miss, counted by why. For a namespace without one, a value that carries a seal is refused.
void SharedTierImpl::unseal(const BlockId& id, std::span<const std::byte> buffer, GetResult& r) {
  Counters& c = core_->counters;
  const std::size_t seal = core_->auth.overhead(id.ns);
  if (seal == 0) {
    // A block sealed by a node with a key this one lacks: its bytes are not the value alone.
    if (r.status.ok() && BlockAuth::looks_sealed(buffer.first(r.size))) {
      c.refused_other_key.fetch_add(1, std::memory_order_relaxed);
      r = GetResult{Status::NotFound("shared block refused: sealed with a key this node lacks"), 0,
                    Tier::kNone};
    }
    return;
  }
  if (!r.status.ok() && r.status.code() != StatusCode::kBufferTooSmall) return;
  BlockAuth::Verdict v = BlockAuth::Verdict::kUnsealed;
  if (r.size >= seal) {
    v = r.status.ok() ? core_->auth.open(id, buffer.first(r.size)) : BlockAuth::Verdict::kOk;
  }
  if (v == BlockAuth::Verdict::kOk) {
    r.size -= seal;
    return;
  }
  (v == BlockAuth::Verdict::kOtherKey  ? c.refused_other_key
   : v == BlockAuth::Verdict::kBadTag ? c.refused_bad_tag
                                      : c.refused_unsealed)
      .fetch_add(1, std::memory_order_relaxed);
  r = GetResult{Status::NotFound("shared block refused: its seal does not verify"), 0, Tier::kNone};
}

struct ProbeBatch : Batch {
  std::vector<BlockId> ids;
  std::vector<Status> results;
};

void SharedTierImpl::probe(std::span<const BlockId> ids, std::span<std::uint8_t> present) {
  Counters& c = core_->counters;
  if (ids.empty()) return;
  c.probes.fetch_add(1, std::memory_order_relaxed);
  if (!core_->breaker.closed()) {
    c.probe_skipped_open.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::vector<std::size_t> asked = not_owed(ids, c.probe_skipped_owed);  // the others: absent
  if (asked.empty()) return;
  auto batch = std::make_shared<ProbeBatch>();
  for (std::size_t i : asked) batch->ids.push_back(ids[i]);
  batch->results.resize(asked.size());
  auto chunks = split(asked.size(), core_->config.read_threads);
  std::vector<std::uint8_t> done = run_chunks(
      batch, chunks, [batch](const auto& core, std::size_t lo, std::size_t hi, Deadline deadline) {
        core->backend->contains_many(std::span(batch->ids).subspan(lo, hi - lo),
                                     std::span(batch->results).subspan(lo, hi - lo), deadline);
        return std::any_of(batch->results.begin() + lo, batch->results.begin() + hi,
                           [](const Status& s) { return s.code() == StatusCode::kIOError; });
      });
  MutexLock lock(batch->mu);
  for (std::size_t k = 0; k < chunks.size(); ++k) {
    if (!done[k]) continue;
    for (std::size_t j = chunks[k].first; j < chunks[k].second; ++j) {
      if (batch->results[j].ok()) present[asked[j]] = 1;
    }
  }
}

void SharedTierImpl::visit_counters(const CounterVisitor& v) const {
  const Counters& c = core_->counters;
  report_gauge(v, "shared_breaker_open", core_->breaker.closed() ? 0 : 1);
  report_count(v, "shared_breaker_opens", core_->breaker.opens());
  report_count(v, "shared_breaker_closes", core_->breaker.closes());
  report_count(v, "shared_call_failures", core_->breaker.failures());
  report_count(v, "shared_hung_calls", c.hung_calls);
  report_gauge(v, "shared_probes_stuck", c.probes_stuck.load(std::memory_order_relaxed));
  report_count(v, "shared_health_probes", c.health_probes);
  report_count(v, "shared_health_failures", c.health_failures);
  report_count(v, "shared_reads", c.reads);
  report_count(v, "shared_read_hits", c.read_hits);
  report_count(v, "shared_read_misses", c.read_misses);
  report_count(v, "shared_read_errors", c.read_errors);
  report_count(v, "shared_read_late", c.read_late);
  report_count(v, "shared_read_refused_busy", c.read_refused_busy);
  report_count(v, "shared_read_skipped_open", c.read_skipped_open);
  report_count(v, "shared_read_skipped_owed", c.read_skipped_owed);
  report_count(v, "shared_refused_unsealed", c.refused_unsealed);
  report_count(v, "shared_refused_other_key", c.refused_other_key);
  report_count(v, "shared_refused_bad_tag", c.refused_bad_tag);
  report_count(v, "shared_prefix_probes", c.probes);
  report_count(v, "shared_prefix_probes_skipped_open", c.probe_skipped_open);
  report_count(v, "shared_probe_ids_skipped_owed", c.probe_skipped_owed);
  report_count(v, "shared_removes", c.removes);
  report_count(v, "shared_remove_failures", c.remove_failures);
  report_count(v, "shared_removes_unordered", c.removes_unordered);
  report_count(v, "shared_removes_dropped", c.removes_dropped);
  report_count(v, "shared_flushes", c.flushes);
  report_count(v, "shared_flush_failures", c.flush_failures);
  report_count(v, "shared_enqueued", c.enqueued);
  report_count(v, "shared_outbox_rejected_full", c.outbox_rejected_full);
  report_count(v, "shared_outbox_errors", c.outbox_errors);
  report_gauge(v, "shared_outbox_pending", static_cast<double>(core_->outbox->pending()));
  report_gauge(v, "shared_outbox_pending_bytes",
               static_cast<double>(core_->outbox->pending_bytes()));
  report_gauge(v, "shared_outbox_capacity", static_cast<double>(core_->outbox->capacity()));
  report_gauge(v, "shared_outbox_oldest_seconds",
               static_cast<double>(core_->outbox->oldest_age().count()));
  report_count(v, "shared_outbox_replayed", core_->outbox->replayed());
  report_gauge(v, "shared_outbox_failed", core_->outbox->failed() ? 1.0 : 0.0);
  report_count(v, "shared_outbox_recoveries", core_->outbox->recoveries());
  report_count(v, "shared_uploads", c.uploads);
  report_count(v, "shared_upload_bytes", c.upload_bytes);
  report_count(v, "shared_upload_failures", c.upload_failures);
  report_count(v, "shared_upload_skipped_present", c.upload_skipped_present);
  report_count(v, "shared_upload_lost_local", c.upload_lost_local);
  report_count(v, "shared_upload_local_errors", c.upload_local_errors);
  report_count(v, "shared_maintain_runs", c.maintain_runs);
  report_count(v, "shared_maintain_errors", c.maintain_errors);
  core_->backend->visit_counters(v);
}

}  // namespace

Result<std::unique_ptr<SharedBackend>> open_backend(const SharedTierConfig& config) {
  switch (config.backend) {
    case SharedBackendKind::kFs:
      return open_fs_backend(config.fs);
    case SharedBackendKind::kRedis:
      return open_redis_backend(config.redis);
    case SharedBackendKind::kS3:
      return open_s3_backend(config.s3);
    case SharedBackendKind::kAzure:
      return open_azure_backend(config.azure);
    case SharedBackendKind::kNone:
      break;
  }
  return Status::InvalidArgument("shared.backend is \"none\": there is no backend to open");
}

Result<std::unique_ptr<SharedTier>> SharedTier::open(const SharedTierConfig& config,
                                                     const std::string& data_dir,
                                                     std::unique_ptr<SharedBackend> backend,
                                                     LocalBlockSource& local) {
  KVTIER_RETURN_IF_ERROR(config.validate());
  Result<std::unique_ptr<Outbox>> outbox =
      Outbox::open(data_dir + "/shared-outbox.log", config.outbox_capacity_blocks);
  if (!outbox.ok()) return outbox.status();
  auto core = std::make_shared<Core>(config, std::move(backend), std::move(outbox).value(), local);
  auto tier = std::make_unique<SharedTierImpl>(std::move(core));
  tier->start();
  return std::unique_ptr<SharedTier>(std::move(tier));
}

}  // namespace kvtier::shared
