// PackedBackend (see packed_backend.h).
#include "shared/packed/packed_backend.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <unordered_map>

#include "coding/byte_span.h"
#include "integrity/check.h"
#include "metrics/counter_report.h"

namespace kvtier::shared::packed {
namespace {

using objstore::ObjectInfo;

std::uint64_t unix_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::uint64_t unix_ms() { return unix_ns() / 1'000'000; }


std::uint64_t random_writer_id() {
  std::random_device rd;
  std::uint64_t id = 0;
  while (id == 0) id = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  return id;
}

// How long a maintenance call may talk to the store; per request, not per pass.
constexpr std::chrono::seconds kMaintenanceCall{30};
// Clean-up after a failed publication gets a deadline of its own (the failed call's has passed),
// short: against a frozen store it fails anyway, and the uploader should not wait on it.
constexpr std::chrono::seconds kCleanupCall{1};
// Listing pages one refresh reads at most (1,000 names each): a server that keeps answering
// "there is more" cannot keep a refresh going for ever.
constexpr int kMaxListPages = 10'000;

// The longest prefix `a` and `b` share.
std::string common_prefix(std::string_view a, std::string_view b) {
  const auto [end_a, end_b] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return std::string(a.begin(), end_a);
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

}  // namespace

struct PackedBackend::OpenSegment {
  std::uint64_t number = 0;
  objstore::Upload upload;
  bool begun = false;
  std::vector<std::byte> part;  // bytes not yet uploaded
  std::uint64_t bytes = 0;      // record bytes appended (uploaded + in part)
  std::vector<PackedIndexEntry> entries;
};

struct PackedBackend::Counters {
  std::atomic<std::uint64_t> staged_puts{0};
  std::atomic<std::uint64_t> staged_bytes{0};
  std::atomic<std::uint64_t> staged_removes{0};
  std::atomic<std::uint64_t> segments_published{0};
  std::atomic<std::uint64_t> segment_bytes_published{0};
  std::atomic<std::uint64_t> publish_failures{0};
  std::atomic<std::uint64_t> put_requests{0};  // object-store writes: parts, completes, indexes
  std::atomic<std::uint64_t> get_requests{0};  // ranged reads of records
  std::atomic<std::uint64_t> gets{0};
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> misses{0};
  std::atomic<std::uint64_t> corrupt_records{0};
  std::atomic<std::uint64_t> get_errors{0};
  std::atomic<std::uint64_t> segments_missing{0};
  std::atomic<std::uint64_t> indexes_read{0};
  std::atomic<std::uint64_t> indexes_corrupt{0};
  std::atomic<std::uint64_t> refresh_errors{0};
  std::atomic<std::uint64_t> compactions{0};
  std::atomic<std::uint64_t> compacted_bytes{0};
  std::atomic<std::uint64_t> segments_deleted{0};
  std::atomic<std::uint64_t> maintain_errors{0};
  std::atomic<std::uint64_t> stored_bytes{0};
  std::atomic<std::uint64_t> live_bytes{0};
  std::atomic<std::uint64_t> own_bytes{0};
  std::atomic<std::uint64_t> own_live_bytes{0};
};

PackedBackend::PackedBackend(std::unique_ptr<objstore::ObjectStore> store, PackedOptions options)
    : store_(std::move(store)),
      options_(std::move(options)),
      writer_(random_writer_id()),
      max_age_ns_(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(options_.max_age).count())),
      map_(options_.max_entries),
      counters_(std::make_unique<Counters>()) {
  refresher_ = std::thread([this] { refresher(); });
}

PackedBackend::~PackedBackend() {
  {
    MutexLock lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  refresher_.join();
  MutexLock lock(write_mu_);
  drop_open_locked(Status::Closed("closing"), Clock::now() + std::chrono::seconds(5));
}

std::string PackedBackend::describe() const { return "packed:" + store_->describe(); }

std::uint64_t PackedBackend::next_stamp() {
  const std::uint64_t now = unix_ns();
  std::uint64_t last = last_stamp_.load(std::memory_order_relaxed);
  std::uint64_t next;
  do {
    next = std::max(now, last + 1);
  } while (!last_stamp_.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return next;
}

bool PackedBackend::fresh(const PackedIndexEntry& e) const {
  return max_age_ns_ == 0 || saturating_add(e.stamp, max_age_ns_) > unix_ns();
}

std::optional<Located> PackedBackend::live(const BlockId& id) const {
  // Until the first whole listing is applied, the map may hold an older write of a key without
  // the newer one (indexes are applied in name order): nothing is served from it.
  if (!listed_.load(std::memory_order_acquire)) return std::nullopt;
  std::optional<Located> found = map_.find(id);
  if (!found || (found->entry.flags & kEntryRemoved) != 0 || !fresh(found->entry)) {
    return std::nullopt;
  }
  return found;
}

// ---- writes --------------------------------------------------------------------------------------

PackedBackend::OpenSegment& PackedBackend::open_locked() {
  if (!open_) {
    open_ = std::make_unique<OpenSegment>();
    open_->number = next_segment_++;
  }
  return *open_;
}

Status PackedBackend::append_locked(const BlockId& id, std::span<const std::byte> stored,
                                    std::uint64_t stamp, std::uint64_t origin, Deadline deadline) {
  OpenSegment& seg = open_locked();
  if (!seg.begun) {
    Result<objstore::Upload> upload =
        store_->begin_upload(segment_name(writer_, seg.number), deadline);
    if (!upload.ok()) return upload.status();
    counters_->put_requests.fetch_add(1, std::memory_order_relaxed);
    seg.upload = std::move(*upload);
    seg.begun = true;
  }
  const PackedRecordHeader h = make_record_header(id, stored, stamp);
  const std::size_t at = seg.part.size();
  seg.part.resize(at + sizeof(h) + stored.size());
  std::memcpy(seg.part.data() + at, &h, sizeof(h));
  if (!stored.empty()) std::memcpy(seg.part.data() + at + sizeof(h), stored.data(), stored.size());
  PackedIndexEntry e{};
  e.ns = id.ns;
  std::memcpy(e.key, id.key.bytes.data(), sizeof(e.key));
  e.offset = seg.bytes;
  e.record_bytes = sizeof(h) + stored.size();
  e.value_checksum = h.value_checksum;
  e.stamp = stamp;
  e.origin = origin;
  seg.entries.push_back(e);
  seg.bytes += e.record_bytes;
  const std::size_t part_bytes = std::max(options_.part_bytes, store_->min_part_bytes());
  if (seg.part.size() >= part_bytes) {
    KVTIER_RETURN_IF_ERROR(store_->upload_part(seg.upload, seg.part, deadline));
    counters_->put_requests.fetch_add(1, std::memory_order_relaxed);
    seg.part.clear();
  }
  // Sealed at its size, or before its index would be larger than readers accept.
  if (seg.bytes >= options_.segment_bytes || seg.entries.size() >= kMaxIndexEntries) {
    return seal_locked(deadline);
  }
  return Status::Ok();
}

void PackedBackend::put_many(std::span<const SharedPut> items, std::span<Status> out,
                             Deadline deadline) {
  KVTIER_CHECK(out.size() >= items.size());
  MutexLock lock(write_mu_);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (Clock::now() > deadline) {
      out[i] = Status::IOError(describe() + ": deadline passed before this block was staged");
      continue;
    }
    if (items[i].value.size() > kMaxRecordBytes - sizeof(PackedRecordHeader)) {
      out[i] = Status::TooLarge(describe() + ": a block of " + std::to_string(items[i].value.size()) +
                                " bytes is larger than a packed record may be");
      continue;
    }
    out[i] = append_locked(items[i].id, items[i].value, next_stamp(), writer_, deadline);
    if (!out[i].ok()) {
      // The open segment is gone with whatever it held: every write staged into it is lost, and
      // the next flush says so.
      drop_open_locked(out[i], deadline);
      for (std::size_t j = i + 1; j < items.size(); ++j) out[j] = out[i];
      return;
    }
    counters_->staged_puts.fetch_add(1, std::memory_order_relaxed);
    counters_->staged_bytes.fetch_add(items[i].value.size(), std::memory_order_relaxed);
  }
}

Status PackedBackend::remove(const BlockId& id, Deadline deadline) {
  MutexLock lock(write_mu_);
  OpenSegment& seg = open_locked();
  PackedIndexEntry e{};
  e.ns = id.ns;
  std::memcpy(e.key, id.key.bytes.data(), sizeof(e.key));
  e.flags = kEntryRemoved;
  e.stamp = next_stamp();
  e.origin = writer_;
  seg.entries.push_back(e);
  counters_->staged_removes.fetch_add(1, std::memory_order_relaxed);
  if (seg.entries.size() >= kMaxIndexEntries) return seal_locked(deadline);
  return Status::Ok();
}

Status PackedBackend::flush(Deadline deadline) {
  MutexLock lock(write_mu_);
  Status s = seal_locked(deadline);
  if (s.ok() && !lost_.ok()) s = lost_;
  lost_ = Status::Ok();
  return s;
}

Status PackedBackend::seal_locked(Deadline deadline) {
  if (!open_) return Status::Ok();
  OpenSegment& seg = *open_;
  Status s;
  bool completed = false;  // the segment object is published: never aborted after that
  if (seg.begun) {
    if (!seg.part.empty()) s = store_->upload_part(seg.upload, seg.part, deadline);
    if (s.ok()) s = store_->complete_upload(seg.upload, deadline);
    completed = s.ok();
    counters_->put_requests.fetch_add(seg.part.empty() ? 1 : 2, std::memory_order_relaxed);
  }
  SegmentIndex index{writer_, seg.number, seg.begun ? seg.bytes : 0, unix_ms(), std::move(seg.entries)};
  const std::string name = index_name(index.published_ms, writer_, seg.number);
  if (s.ok() && !index.entries.empty()) {
    s = store_->put(name, bytes_of(encode_index(index)), deadline);
    counters_->put_requests.fetch_add(1, std::memory_order_relaxed);
  }
  if (!s.ok()) {
    counters_->publish_failures.fetch_add(1, std::memory_order_relaxed);
    // The index PUT may have landed though it failed here (cut at the deadline, a 5xx after the
    // write): the segment is removed only once its index is known gone, or readers would find
    // an index naming a deleted segment. Otherwise it stays, a complete segment with an index
    // or an orphan without one; the writes go back to the outbox either way.
    const Deadline cleanup = Clock::now() + kCleanupCall;
    if (seg.begun && store_->remove(name, cleanup).ok()) {
      (void)store_->remove(segment_name(writer_, seg.number), cleanup);
    }
    if (completed) seg.begun = false;  // nothing left to abort (Azure's abort writes the name)
    drop_open_locked(s, cleanup);
    return s;
  }
  if (!index.entries.empty()) {
    map_.apply(index, name);
    counters_->segments_published.fetch_add(1, std::memory_order_relaxed);
    counters_->segment_bytes_published.fetch_add(index.segment_bytes, std::memory_order_relaxed);
  }
  open_.reset();
  return Status::Ok();
}

void PackedBackend::drop_open_locked(const Status& why, Deadline deadline) {
  if (!open_) return;
  if (open_->begun) (void)store_->abort_upload(open_->upload, deadline);
  open_.reset();
  if (lost_.ok()) {
    lost_ = Status(why.code() == StatusCode::kOk ? StatusCode::kIOError : why.code(),
                   describe() + ": writes staged since the last flush were lost: " + why.message());
  }
}

// ---- reads ---------------------------------------------------------------------------------------

GetResult PackedBackend::get_one(const SharedGet& item, Deadline deadline) {
  counters_->gets.fetch_add(1, std::memory_order_relaxed);
  std::optional<Located> found = live(item.id);
  if (!found) {
    counters_->misses.fetch_add(1, std::memory_order_relaxed);
    return GetResult{Status::NotFound(""), 0, Tier::kNone};
  }
  const PackedIndexEntry& e = found->entry;
  const std::uint64_t value_bytes = e.record_bytes - sizeof(PackedRecordHeader);
  if (value_bytes > item.dst.size()) {
    // Said from the index; nothing read (an index could name any size).
    return GetResult{Status::BufferTooSmall(describe() + ": the block has " +
                                            std::to_string(value_bytes) + " bytes"),
                     static_cast<std::size_t>(value_bytes), Tier::kNone};
  }
  std::vector<std::byte> record(e.record_bytes);
  counters_->get_requests.fetch_add(1, std::memory_order_relaxed);
  Status s = store_->read(segment_name(found->segment.writer, found->segment.segment), e.offset,
                          record, deadline);
  if (s.is_not_found()) {
    counters_->segments_missing.fetch_add(1, std::memory_order_relaxed);
    counters_->misses.fetch_add(1, std::memory_order_relaxed);
    map_.forget_segment(found->segment);
    {
      // Its index may still be listed: not applied again while it is (refresh()).
      MutexLock lock(gone_mu_);
      gone_.insert(found->segment);
    }
    return GetResult{Status::NotFound(""), 0, Tier::kNone};
  }
  if (s.code() == StatusCode::kCorruption) {
    counters_->corrupt_records.fetch_add(1, std::memory_order_relaxed);
    return GetResult{Status::NotFound(""), 0, Tier::kNone};
  }
  if (!s.ok()) {
    counters_->get_errors.fetch_add(1, std::memory_order_relaxed);
    return GetResult{std::move(s), 0, Tier::kNone};
  }
  if (record_mismatch(record, e) != nullptr) {
    counters_->corrupt_records.fetch_add(1, std::memory_order_relaxed);
    return GetResult{Status::NotFound(""), 0, Tier::kNone};
  }
  std::memcpy(item.dst.data(), record.data() + sizeof(PackedRecordHeader), value_bytes);
  counters_->hits.fetch_add(1, std::memory_order_relaxed);
  return GetResult{Status::Ok(), static_cast<std::size_t>(value_bytes), Tier::kShared};
}

void PackedBackend::get_many(std::span<const SharedGet> items, std::span<GetResult> out,
                             Deadline deadline) {
  KVTIER_CHECK(out.size() >= items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (Clock::now() > deadline) {
      out[i] = GetResult{Status::IOError(describe() + ": deadline passed"), 0, Tier::kNone};
      continue;
    }
    out[i] = get_one(items[i], deadline);
  }
}

void PackedBackend::contains_many(std::span<const BlockId> ids, std::span<Status> out, Deadline) {
  KVTIER_CHECK(out.size() >= ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    out[i] = live(ids[i]) ? Status::Ok() : Status::NotFound("");
  }
}

// A block kept is one with at least half of max_age left: an upload skipped for it then leaves
// the block readable for that long (a copy closer to expiry is written again).
void PackedBackend::keep_many(std::span<const BlockId> ids, std::span<Status> out, Deadline) {
  KVTIER_CHECK(out.size() >= ids.size());
  const std::uint64_t half_age = max_age_ns_ / 2;
  const std::uint64_t now = unix_ns();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::optional<Located> found = live(ids[i]);
    const bool young =
        found && (half_age == 0 || saturating_add(found->entry.stamp, half_age) > now);
    out[i] = young ? Status::Ok() : Status::NotFound("");
  }
}

Status PackedBackend::ping(Deadline deadline) { return store_->ping(deadline); }

// ---- discovery -----------------------------------------------------------------------------------

Status PackedBackend::refresh(bool full) {
  MutexLock lock(refresh_mu_);
  const auto started = Clock::now();
  const std::uint64_t started_ms = unix_ms();
  const std::uint64_t skew_ms = static_cast<std::uint64_t>(options_.clock_skew.count());
  full = full || newest_index_ms_ == 0;
  // From a while before the newest index seen, but never from the future of this clock (one name
  // from a clock far ahead, or a crafted one, must not hide what others publish now).
  const std::uint64_t floor_ms = std::min(newest_index_ms_, started_ms);
  const std::string after = full ? "" : index_name_floor(floor_ms > skew_ms ? floor_ms - skew_ms : 0);
  // On a store that cannot start a listing after a name (Azure Blob), an incremental listing asks
  // for the prefix that `after` and a name a little past now share: it pages through minutes of
  // names, not all of them. An index named from a clock further ahead than that waits for the
  // next full listing.
  const std::string prefix = full || store_->starts_listings_after_names()
                                 ? std::string(kIndexPrefix)
                                 : common_prefix(after, index_name_floor(started_ms + 2 * skew_ms));
  std::vector<ObjectInfo> listed;
  bool whole = false;  // the listing reached its end (a full one may then forget segments)
  std::string next;
  for (int pages = 0; pages < kMaxListPages; ++pages) {
    Result<objstore::ListPage> page =
        store_->list(prefix, after, next, 1000, Clock::now() + kMaintenanceCall);
    if (!page.ok()) {
      counters_->refresh_errors.fetch_add(1, std::memory_order_relaxed);
      return page.status();
    }
    // Names must move forward, or a server could keep us on one page.
    if (!listed.empty() && !page->objects.empty() && page->objects.front().name <= listed.back().name) break;
    listed.insert(listed.end(), page->objects.begin(), page->objects.end());
    if (page->next.empty()) {
      whole = true;
      break;
    }
    if (page->next == next) break;
    next = std::move(page->next);
  }
  std::unordered_set<SegmentKey, SegmentKeyHash> gone;
  {
    MutexLock lock(gone_mu_);
    gone = gone_;
  }
  std::unordered_set<SegmentKey, SegmentKeyHash> listed_keys;
  for (const ObjectInfo& o : listed) {
    std::optional<IndexNameParts> parts = parse_index_name(o.name);
    if (!parts || o.size > kMaxIndexBytes) continue;
    const SegmentKey key{parts->writer, parts->segment};
    listed_keys.insert(key);
    newest_index_ms_ = std::max(newest_index_ms_, std::min(parts->published_ms, started_ms + skew_ms));
    if (map_.knows(key) || refused_.count(o.name) != 0 || gone.count(key) != 0) continue;
    Result<std::string> bytes = store_->read_all(o.name, kMaxIndexBytes, Clock::now() + kMaintenanceCall);
    if (!bytes.ok()) {
      if (!bytes.status().is_not_found()) counters_->refresh_errors.fetch_add(1, std::memory_order_relaxed);
      continue;  // removed since the listing (a compaction), or unreadable now: next time
    }
    Result<SegmentIndex> index = decode_index(*bytes);
    if (!index.ok() || index->writer != parts->writer || index->segment != parts->segment) {
      counters_->indexes_corrupt.fetch_add(1, std::memory_order_relaxed);
      refused_.insert(o.name);
      continue;
    }
    map_.apply(*index, o.name);
    counters_->indexes_read.fetch_add(1, std::memory_order_relaxed);
  }
  if (full && whole) {
    {
      // Segments found gone whose index is no longer listed need not be remembered.
      MutexLock lock(gone_mu_);
      std::erase_if(gone_, [&](const SegmentKey& k) { return listed_keys.count(k) == 0; });
    }
    std::unordered_set<std::string> still_refused;
    for (const ObjectInfo& o : listed) {
      if (refused_.count(o.name) != 0) still_refused.insert(o.name);
    }
    refused_.swap(still_refused);
    // Segments whose index is gone were compacted or dropped by some node. One published after
    // this listing began is not in it, so only older ones are judged.
    for (const SegmentStats& s : map_.segments()) {
      const bool still_listed = listed_keys.count(s.key) != 0;
      if (!still_listed && s.published_ms + skew_ms < started_ms) map_.forget_segment(s.key);
    }
    last_full_ = started;
    listed_.store(true, std::memory_order_release);
  }
  return Status::Ok();
}

void PackedBackend::refresher() {
  bool first = true;
  for (;;) {
    bool full = first;
    {
      MutexLock lock(refresh_mu_);
      full = full || Clock::now() - last_full_ >= options_.full_refresh_interval;
    }
    (void)refresh(full);
    first = false;
    MutexLock lock(stop_mu_);
    if (stop_cv_.wait_for(lock.native(), options_.refresh_interval,
                          [&]() KVTIER_REQUIRES(stop_mu_) { return stopping_; })) {
      return;
    }
  }
}

// ---- space ---------------------------------------------------------------------------------------

Status PackedBackend::delete_segment(const SegmentStats& segment, bool at_once, Deadline deadline) {
  // The index first: no reader learns of the segment again; then the segment, now or after
  // readers that still hold its entries have had time to see it go.
  KVTIER_RETURN_IF_ERROR(store_->remove(segment.index_name, deadline));
  map_.forget_segment(segment.key);
  counters_->segments_deleted.fetch_add(1, std::memory_order_relaxed);
  if (segment.bytes == 0) return Status::Ok();
  const std::string name = segment_name(segment.key.writer, segment.key.segment);
  if (at_once) return store_->remove(name, deadline);
  MutexLock lock(maintain_mu_);
  pending_deletes_.push_back({name, Clock::now() + options_.delete_grace});
  return Status::Ok();
}

Status PackedBackend::compact(const SegmentStats& segment, Deadline deadline) {
  const std::vector<PackedIndexEntry> entries = map_.entries_in(segment.key);
  const std::string name = segment_name(segment.key.writer, segment.key.segment);
  MutexLock lock(write_mu_);
  for (const PackedIndexEntry& e : entries) {
    if (!fresh(e)) continue;
    if ((e.flags & kEntryRemoved) != 0) {
      open_locked().entries.push_back(e);  // the tombstone goes on, still hiding older puts
      continue;
    }
    if (e.record_bytes > kMaxRecordBytes) continue;  // decode_index refuses these; never allocated
    std::vector<std::byte> record(e.record_bytes);
    Status s = store_->read(name, e.offset, record, deadline);
    counters_->get_requests.fetch_add(1, std::memory_order_relaxed);
    if (s.is_not_found()) continue;  // dropped by someone else: its tombstones still go on
    if (!s.ok()) return s;
    if (record_mismatch(record, e) != nullptr) {
      counters_->corrupt_records.fetch_add(1, std::memory_order_relaxed);
      continue;  // a damaged copy is not carried on
    }
    // The copy keeps the write's stamp and origin: to every reader it is the same write.
    Status a = append_locked(entry_id(e), std::span(record).subspan(sizeof(PackedRecordHeader)),
                             e.stamp, e.origin, deadline);
    if (!a.ok()) {
      drop_open_locked(a, deadline);
      return a;
    }
    counters_->compacted_bytes.fetch_add(e.record_bytes, std::memory_order_relaxed);
  }
  KVTIER_RETURN_IF_ERROR(seal_locked(deadline));
  lock.unlock();
  counters_->compactions.fetch_add(1, std::memory_order_relaxed);
  return delete_segment(segment, false, deadline);
}

Status PackedBackend::maintain() {
  Status result;
  const auto call_deadline = [] { return Clock::now() + kMaintenanceCall; };
  if (max_age_ns_ != 0) {
    const std::uint64_t now = unix_ns();
    if (now > max_age_ns_) map_.drop_older_than(now - max_age_ns_);
  }
  // Only this node's own segments are compacted or deleted as empty here: judging another
  // writer's by this node's clock would let one node with a clock far ahead delete the tier
  // (what a gone node leaves expires with the whole-segment age rule of the store's lifecycle;
  // docs/SHARED_OBJECT_FORMAT.md). A segment some of whose entries the map could not hold is
  // never judged: its live bytes are unknown.
  std::vector<SegmentStats> segments = map_.segments();
  std::uint64_t stored = 0, live_total = 0, own = 0, own_live = 0;
  for (const SegmentStats& s : segments) {
    stored = saturating_add(stored, s.bytes);
    live_total = saturating_add(live_total, s.live_bytes);
    const bool mine = s.key.writer == writer_;
    if (mine) {
      own = saturating_add(own, s.bytes);
      own_live = saturating_add(own_live, s.live_bytes);
    }
    if (!mine || !s.complete) continue;
    const bool empty = s.live_bytes == 0 && map_.entries_in(s.key).empty();
    const double garbage =
        s.bytes == 0 ? 0.0 : 1.0 - static_cast<double>(s.live_bytes) / static_cast<double>(s.bytes);
    Status step;
    if (empty) {
      step = delete_segment(s, true, call_deadline());
    } else if (garbage > options_.max_garbage) {
      step = compact(s, call_deadline());
    }
    if (!step.ok()) {
      counters_->maintain_errors.fetch_add(1, std::memory_order_relaxed);
      result = step;
    }
  }
  if (options_.capacity_bytes != 0 && stored > options_.capacity_bytes) {
    // Counted again: the compactions above removed segments.
    segments = map_.segments();
    stored = 0;
    for (const SegmentStats& s : segments) stored = saturating_add(stored, s.bytes);
    std::sort(segments.begin(), segments.end(), [](const SegmentStats& a, const SegmentStats& b) {
      return a.newest_stamp < b.newest_stamp;
    });
    for (const SegmentStats& s : segments) {
      if (stored <= options_.capacity_bytes) break;
      // Removal-only indexes free nothing and hold tombstones that keep older puts hidden.
      if (s.bytes == 0) continue;
      if (!delete_segment(s, true, call_deadline()).ok()) {
        counters_->maintain_errors.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      stored -= std::min(stored, s.bytes);
    }
  }
  counters_->stored_bytes.store(stored, std::memory_order_relaxed);
  counters_->live_bytes.store(live_total, std::memory_order_relaxed);
  counters_->own_bytes.store(own, std::memory_order_relaxed);
  counters_->own_live_bytes.store(own_live, std::memory_order_relaxed);
  // Compacted segments whose grace is over.
  std::vector<std::string> due;
  {
    MutexLock lock(maintain_mu_);
    while (!pending_deletes_.empty() && pending_deletes_.front().at <= Clock::now()) {
      due.push_back(std::move(pending_deletes_.front().segment_name));
      pending_deletes_.pop_front();
    }
  }
  for (const std::string& name : due) {
    if (!store_->remove(name, call_deadline()).ok()) {
      counters_->maintain_errors.fetch_add(1, std::memory_order_relaxed);
      MutexLock lock(maintain_mu_);
      pending_deletes_.push_back({name, Clock::now() + options_.delete_grace});
    }
  }
  return result;
}

void PackedBackend::visit_counters(const CounterVisitor& visitor) const {
  const std::string& p = options_.counter_prefix;
  const Counters& c = *counters_;
  const auto count = [&](const char* name, const std::atomic<std::uint64_t>& v) {
    report_count(visitor, p + "_" + name, v);
  };
  count("staged_puts", c.staged_puts);
  count("staged_bytes", c.staged_bytes);
  count("staged_removes", c.staged_removes);
  count("segments_published", c.segments_published);
  count("segment_bytes_published", c.segment_bytes_published);
  count("publish_failures", c.publish_failures);
  count("put_requests", c.put_requests);
  count("get_requests", c.get_requests);
  count("gets", c.gets);
  count("hits", c.hits);
  count("misses", c.misses);
  count("corrupt_records", c.corrupt_records);
  count("get_errors", c.get_errors);
  count("segments_missing", c.segments_missing);
  count("indexes_read", c.indexes_read);
  count("indexes_corrupt", c.indexes_corrupt);
  count("refresh_errors", c.refresh_errors);
  count("compactions", c.compactions);
  count("compacted_bytes", c.compacted_bytes);
  count("segments_deleted", c.segments_deleted);
  count("maintain_errors", c.maintain_errors);
  const auto gauge = [&](const char* name, double v) { report_gauge(visitor, p + "_" + name, v); };
  gauge("stored_bytes", static_cast<double>(c.stored_bytes.load(std::memory_order_relaxed)));
  gauge("live_bytes", static_cast<double>(c.live_bytes.load(std::memory_order_relaxed)));
  const double own = static_cast<double>(c.own_bytes.load(std::memory_order_relaxed));
  const double own_live = static_cast<double>(c.own_live_bytes.load(std::memory_order_relaxed));
  gauge("garbage_ratio", own == 0 ? 0.0 : 1.0 - own_live / own);
  gauge("map_entries", static_cast<double>(map_.size()));
  gauge("listed", listed_.load(std::memory_order_acquire) ? 1.0 : 0.0);
  gauge("map_dropped_for_room", static_cast<double>(map_.dropped_for_room()));
}

}  // namespace kvtier::shared::packed
