// NvmeTier: write path (append into region buffers, seal, flush), reclaim with reinsertion,
// removal and counters. The verified read path is in nvme_reads.cpp, recovery and the checkpoint
// in recovery.cpp.
#include "nvme/nvme_tier.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "integrity/check.h"
#include "integrity/checksum.h"
#include "metrics/counter_report.h"
#include "sync/mutex.h"

namespace kvtier::nvme {

Result<std::unique_ptr<NvmeTier>> NvmeTier::open(const NvmeConfig& config, const std::string& data_dir) {
  KVTIER_RETURN_IF_ERROR(config.validate());
  Result<std::unique_ptr<DeviceSet>> devices = DeviceSet::open(config, data_dir);
  if (!devices.ok()) return devices.status();
  std::unique_ptr<NvmeTier> tier(new NvmeTier(config, std::move(devices).value()));
  if (Status s = tier->start(data_dir); !s.ok()) {
    // Closed as it is: close() would write a checkpoint of the index the failed start left
    // (empty, or half rebuilt), which the next start would trust instead of scanning.
    tier->closed_.store(true);
    return s;
  }
  return tier;
}

NvmeTier::NvmeTier(const NvmeConfig& config, std::unique_ptr<DeviceSet> devices)
    : config_(config),
      devices_(std::move(devices)),
      region_size_(config.region_size),
      max_value_(max_value_for_region(config.region_size)),
      index_(config.index_shards),
      reclaim_policy_(config),
      rings_(std::max<unsigned>(config.io_depth, 4)),
      budget_(config.write_budget_mb_s * 1e6, config.write_budget_burst_s) {}

Status NvmeTier::start(const std::string& data_dir) {
  {
    MutexLock lock(mu_);  // uncontended: no thread but this one has the tier yet
    regions_.resize(devices_->region_count());
    for (std::uint32_t i = 0; i < config_.write_buffers; ++i) {
      buffers_.emplace_back(region_size_);
      if (buffers_.back().empty()) {
        return Status::NoSpace("cannot allocate " + std::to_string(config_.write_buffers) +
                               " region buffers of " + std::to_string(region_size_) + " bytes");
      }
      free_buffers_.push_back(i);
    }
  }
  if (config_.erase_removed) {
    zeros_ = AlignedBuffer(config_.write_io_bytes);
    if (zeros_.empty()) return Status::NoSpace("cannot allocate the erasure buffer");
    std::memset(zeros_.data(), 0, zeros_.size());
  }
  std::filesystem::path dir = std::filesystem::path(data_dir) / "nvme";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir.string() + ": " + ec.message());
  checkpoint_path_ = (dir / "index.ckpt").string();
  KVTIER_RETURN_IF_ERROR(recover(checkpoint_path_));
  flusher_ = std::thread([this] { flusher_loop(); });
  if (config_.flush_interval.count() > 0) {
    open_region_writer_ = std::thread([this] { open_region_writer_loop(); });
  }
  return Status::Ok();
}

NvmeTier::~NvmeTier() {
  if (!closed_.load()) (void)close();
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  if (open_region_writer_.joinable()) open_region_writer_.join();
}

// ---------------------------------------------------------------------------------------------
// Write path

Status NvmeTier::put(const BlockId& id, std::span<const std::byte> value, ValueFrom from) {
  if (closed_.load(std::memory_order_relaxed)) return Status::Closed("nvme tier is closed");
  if (value.empty()) return Status::InvalidArgument("empty value");
  if (value.size() > max_value_) {
    too_large_.fetch_add(1, std::memory_order_relaxed);
    return Status::TooLarge("value of " + std::to_string(value.size()) +
                            " bytes exceeds the nvme tier's largest entry (" +
                            std::to_string(max_value_) + " bytes; raise nvme.region_size)");
  }
  std::uint64_t footprint = entry_footprint(value.size());
  if (!budget_.try_consume(footprint)) {
    admission_rejected_.fetch_add(1, std::memory_order_relaxed);
    return Status::Rejected("nvme write budget exhausted");
  }
  // The daemon's own memory is checksummed here, outside write_mu_. Memory a client may still
  // write is checksummed after the copy, over the copy (under write_mu_: rarer, and slower).
  std::optional<std::uint64_t> checksum;
  if (from == ValueFrom::kOwnMemory) checksum = block_checksum(value);
  MutexLock w(write_mu_);
  if (closed_.load(std::memory_order_relaxed)) return Status::Closed("nvme tier is closed");
  KVTIER_RETURN_IF_ERROR(ensure_room(footprint));
  append_entry(id, value, checksum);
  return Status::Ok();
}

namespace {

EntryHeader header_for(const BlockId& id, std::uint16_t flags, std::uint64_t value_size,
                       std::uint64_t format_id, std::uint64_t seq) {
  EntryHeader h{};
  h.magic = kEntryMagic;
  h.format_version = kNvmeFormatVersion;
  h.flags = flags;
  h.ns = id.ns;
  h.value_size = static_cast<std::uint32_t>(value_size);
  std::memcpy(h.key, id.key.bytes.data(), 16);
  h.format_id = format_id;
  h.region_seq = seq;
  return h;
}

}  // namespace

// REQUIRES: the open region has room for the entry and its summary line.
void NvmeTier::append_entry(const BlockId& id, std::span<const std::byte> value,
                            std::optional<std::uint64_t> checksum) {
  Region& r = open_region();
  std::uint64_t offset = r.fill;
  KVTIER_CHECK(offset + entry_footprint(value.size()) + summary_pages_for(r.entries.size() + 1) * kPageSize <=
               region_size_);
  std::byte* dst = r.buffer + offset;
  // An older entry of the id stays on the device, behind this one, until its region is reused.
  // (Under write_mu_, the index's entries for the id change only here and in remove().)
  const std::uint16_t flags = index_.lookup(id, false) ? kShadowsOlder : 0;
  EntryHeader h = header_for(id, flags, value.size(), devices_->format_id(), r.seq);
  std::memcpy(dst + kPageSize, value.data(), value.size());
  std::uint64_t padded = round_up_to_page(value.size());
  if (padded > value.size()) std::memset(dst + kPageSize + value.size(), 0, padded - value.size());
  // Without a checksum from the caller, the value is taken over the copy: bytes the tier owns.
  h.value_checksum = checksum ? *checksum : block_checksum({dst + kPageSize, value.size()});
  h.header_checksum = header_checksum(h);
  std::memset(dst, 0, kPageSize);
  std::memcpy(dst, &h, sizeof h);
  std::uint64_t page = page_of(static_cast<std::uint32_t>(open_region_), offset);
  r.entries.push_back(summary_of(id, h.value_size, static_cast<std::uint32_t>(offset / kPageSize), flags));
  r.fill = offset + entry_footprint(value.size());
  r.shadows_older = r.shadows_older || flags != 0;
  // Publication: the index points at the entry only now that every byte is in place.
  std::optional<Location> old = index_.insert(id, Location{page, h.value_size, 0, r.seq});
  if (old) usage_.sub(id.ns, old->size);
  if (old && config_.erase_removed) erase_entry(*old);
  usage_.add(id.ns, h.value_size);
  inserts_.fetch_add(1, std::memory_order_relaxed);
}

// REQUIRES: the open region has room for one page and its summary line.
void NvmeTier::append_valueless(const BlockId& id, std::uint16_t flags) {
  Region& r = open_region();
  const std::uint64_t offset = r.fill;
  KVTIER_CHECK(offset + kPageSize + summary_pages_for(r.entries.size() + 1) * kPageSize <= region_size_);
  EntryHeader h = header_for(id, flags, 0, devices_->format_id(), r.seq);
  h.header_checksum = header_checksum(h);
  std::memset(r.buffer + offset, 0, kPageSize);
  std::memcpy(r.buffer + offset, &h, sizeof h);
  r.entries.push_back(summary_of(id, 0, static_cast<std::uint32_t>(offset / kPageSize), flags));
  r.fill = offset + kPageSize;
  r.shadows_older = r.shadows_older || (flags & kTombstone) != 0;
}

void NvmeTier::write_region_start(const std::vector<BlockId>& dropped) {
  Region& r = open_region();
  const auto region = static_cast<std::uint32_t>(open_region_);
  Status s = write_region_range(region, r.buffer, 0, kPageSize);
  if (s.ok()) {
    // Only the first page: the reinserted entries after it are written with the region's others.
    r.flushed = kPageSize;
    start_record_written(region);
    return;
  }
  // The generation it replaces stays readable to recovery until page 0 is written (the region's
  // next write starts there): counted as a failed write, so that every removal waiting for a
  // flush is answered with the error rather than called durable, and what the reclaim dropped is
  // remembered, so that a removal of it still leaves a tombstone.
  spdlog::error("event=nvme_write_failed region={} what=\"region start\" error=\"{}\"", region,
                s.to_string());
  {
    MutexLock lock(reclaim_mu_);
    for (const BlockId& id : dropped) dropped_unstarted_.emplace_back(id, region);
  }
  MutexLock lock(mu_);
  count_write_failure(s);
}

void NvmeTier::start_record_written(std::uint32_t region) {
  MutexLock lock(reclaim_mu_);
  std::erase_if(dropped_unstarted_, [&](const auto& d) { return d.second == region; });
}

bool NvmeTier::dropped_unstarted(const BlockId& id) {
  MutexLock lock(reclaim_mu_);
  return std::any_of(dropped_unstarted_.begin(), dropped_unstarted_.end(),
                     [&](const auto& d) { return d.first == id; });
}

Status NvmeTier::ensure_room(std::uint64_t footprint) {
  auto fits = [&]() KVTIER_REQUIRES(write_mu_) {
    const Region& r = open_region();
    return r.fill + footprint + summary_pages_for(r.entries.size() + 1) * kPageSize <= region_size_;
  };
  if (open_region_ >= 0) {
    if (fits()) return Status::Ok();
    seal_open_region();
  }
  // Reinsertion into the new region leaves room for this entry (max_value_ guarantees an empty
  // region has it); checked again because an entry that does not fit would overrun the buffer.
  KVTIER_RETURN_IF_ERROR(open_new_region(footprint));
  if (!fits()) return Status::Busy("nvme region has no room after reinsertion");
  return Status::Ok();
}

// Lays the summary of `entries` into the last pages of the region buffer.
void NvmeTier::write_summary_into(std::byte* region_buffer, const std::vector<SummaryEntry>& entries,
                                  std::uint64_t seq, std::uint32_t* summary_pages) const {
  std::uint64_t pages = summary_pages_for(entries.size());
  std::byte* start = region_buffer + region_size_ - pages * kPageSize;
  std::memset(start, 0, pages * kPageSize);
  std::size_t entry_bytes = entries.size() * sizeof(SummaryEntry);
  if (entry_bytes) std::memcpy(start, entries.data(), entry_bytes);
  SummaryTrailer t{};
  t.magic = kSummaryMagic;
  t.format_version = kNvmeFormatVersion;
  t.format_id = devices_->format_id();
  t.region_seq = seq;
  t.entry_count = static_cast<std::uint32_t>(entries.size());
  t.summary_pages = static_cast<std::uint32_t>(pages);
  t.entries_checksum = block_checksum({start, entry_bytes});
  t.trailer_checksum = trailer_checksum(t);
  std::memcpy(region_buffer + region_size_ - sizeof t, &t, sizeof t);
  *summary_pages = static_cast<std::uint32_t>(pages);
}

// REQUIRES: a region open. Hands the region to the flusher.
void NvmeTier::seal_open_region() {
  auto idx = static_cast<std::uint32_t>(open_region_);
  Region& r = open_region();
  std::uint32_t pages = 0;
  write_summary_into(r.buffer, r.entries, r.seq, &pages);
  // Written whole (flusher_loop): the pages between the last entry and the summary still hold
  // what the region's previous generation left there, blocks the tier dropped.
  if (config_.erase_removed) std::memset(r.buffer + r.fill, 0, region_size_ - pages * kPageSize - r.fill);
  {
    MutexLock lock(mu_);
    r.summary_pages = pages;
    r.entry_count = static_cast<std::uint32_t>(r.entries.size());
    r.state = RegionState::kFlushing;
    flush_queue_.push_back(idx);
    ++regions_queued_;
  }
  open_region_ = -1;
  cv_.notify_all();
}

// REQUIRES: no region open.
Status NvmeTier::open_new_region(std::uint64_t reserve) {
  MutexLock lock(mu_);
  // Backpressure: a writer that outruns the device waits here for the flusher to free a buffer.
  if (!cv_.wait_for(lock.native(), std::chrono::seconds(30), [&]() KVTIER_REQUIRES(mu_) {
        return !free_buffers_.empty() || stopping_;
      })) {
    return Status::Busy("nvme region buffers are all being written; the device is too slow");
  }
  if (stopping_) return Status::Closed("nvme tier is stopping");
  std::uint32_t buffer = free_buffers_.back();
  free_buffers_.pop_back();
  auto give_back_buffer = [&]() KVTIER_REQUIRES(mu_) {
    free_buffers_.push_back(buffer);
    cv_.notify_all();
  };
  std::int64_t chosen = -1;
  std::vector<SummaryEntry> hot;
  std::vector<BlockId> dropped;
  std::uint64_t victim_seq = 0;
  for (std::uint32_t i = 0; i < devices_->region_count(); ++i) {
    if (regions_[i].state == RegionState::kFree) {
      chosen = i;
      break;
    }
  }
  if (chosen < 0) {
    std::vector<RegionReclaimPolicy::Candidate> sealed;
    for (std::uint32_t i = 0; i < devices_->region_count(); ++i) {
      const Region& r = regions_[i];
      if (r.state == RegionState::kSealed) sealed.push_back({i, r.seq, r.last_access, r.shadows_older});
    }
    if (std::optional<std::uint32_t> victim = reclaim_policy_.pick_victim(sealed)) {
      chosen = *victim;
    } else {
      give_back_buffer();
      return Status::Busy("no nvme region can be reclaimed yet (all are being written)");
    }
    victim_seq = regions_[static_cast<std::size_t>(chosen)].seq;
    lock.unlock();
    {
      MutexLock r(reclaim_mu_);
      reclaiming_ = true;
    }
    Status s = reclaim(static_cast<std::uint32_t>(chosen), &hot, &dropped);
    lock.lock();
    if (!s.ok()) {
      give_back_buffer();
      lock.unlock();
      end_reclaim();
      return s;
    }
  }
  Region& r = regions_[static_cast<std::size_t>(chosen)];
  r.state = RegionState::kOpen;
  r.seq = next_seq_++;
  r.buffer = buffers_[buffer].data();
  r.buffer_index = buffer;
  r.fill = 0;
  r.flushed = 0;
  r.summary_pages = 0;
  r.entry_count = 0;
  r.summary_on_device = true;
  r.shadows_older = false;
  r.last_access = access_clock_.fetch_add(1, std::memory_order_relaxed);
  r.entries.clear();
  lock.unlock();
  open_region_ = chosen;
  append_valueless(BlockId{}, kRegionStart);
  // Reinsertion reads the hot entries from the device before the start record overwrites the
  // first of them there.
  if (!hot.empty()) reinsert(hot, static_cast<std::uint32_t>(chosen), victim_seq, reserve);
  // Hot entries reinsertion could not keep (no room, failed verification) were dropped too.
  for (const SummaryEntry& e : hot) {
    if (!index_.lookup(block_id_of(e), false)) dropped.push_back(block_id_of(e));
  }
  write_region_start(dropped);
  if (config_.erase_removed) {
    erase_moved_copies(hot);
    if (victim_seq != 0) apply_due_erasures(std::make_pair(static_cast<std::uint32_t>(chosen), victim_seq));
  }
  end_reclaim();
  return Status::Ok();
}

void NvmeTier::end_reclaim() {
  MutexLock r(reclaim_mu_);
  reclaiming_ = false;
}

// Drops every entry of the sealed `region` from the index
// and returns those read often enough to keep in *hot. Leaves the region kReclaiming.
Status NvmeTier::reclaim(std::uint32_t region, std::vector<SummaryEntry>* hot, std::vector<BlockId>* dropped) {
  std::uint64_t seq;
  std::uint32_t summary_pages;
  std::vector<SummaryEntry> entries_in_memory;
  bool summary_in_memory = false;
  {
    MutexLock lock(mu_);
    Region& r = regions_[region];
    r.state = RegionState::kReclaiming;  // new readers are turned away
    cv_.wait(lock.native(), [&]() KVTIER_REQUIRES(mu_) { return r.readers == 0; });
    seq = r.seq;
    summary_pages = r.summary_pages;
    if (!r.summary_on_device) {
      summary_in_memory = true;
      entries_in_memory = std::move(r.entries);
      r.entries.clear();
    }
  }
  std::vector<SummaryEntry> entries = std::move(entries_in_memory);
  Status s = summary_in_memory ? Status::Ok() : read_summary(region, seq, summary_pages, &entries);
  if (!s.ok()) {
    // The summary is unreadable, so the region's entries cannot be listed: find them in the whole
    // index instead (rare, and O(index)), so none is left pointing into the reused region.
    header_mismatches_.fetch_add(1, std::memory_order_relaxed);
    index_.remove_where(
        [&](const BlockId&, const Location& loc) { return region_of(loc.page) == region && loc.seq == seq; },
        [&](const BlockId& id, const Location& loc) {
          usage_.sub(id.ns, loc.size);
          reclaimed_entries_.fetch_add(1, std::memory_order_relaxed);
          dropped->push_back(id);
        });
  }
  RegionReclaimPolicy::Reinsertion reinsertion = reclaim_policy_.reinsertion();
  for (const SummaryEntry& e : entries) {
    if (!has_value(e)) continue;  // tombstones and the start record are in no index
    BlockId id = block_id_of(e);
    std::optional<Location> removed = index_.remove_if_at(id, page_of(region, std::uint64_t{e.page_in_region} * kPageSize));
    if (!removed) continue;
    usage_.sub(id.ns, removed->size);
    reclaimed_entries_.fetch_add(1, std::memory_order_relaxed);
    if (reinsertion.keep(removed->hits, entry_footprint(removed->size))) {
      hot->push_back(e);
    } else {
      dropped->push_back(id);
    }
  }
  regions_reclaimed_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

// `region` is the freshly opened (open) region, which until it is flushed still
// holds the old generation `from_seq` on the device. Reads each hot entry from the device straight
// into the region buffer, verifies it, and re-stamps its header for the new generation.
void NvmeTier::reinsert(const std::vector<SummaryEntry>& hot, std::uint32_t region, std::uint64_t from_seq,
                        std::uint64_t reserve) {
  Region& r = open_region();
  std::vector<IoRequest> reqs(hot.size());
  std::vector<std::uint64_t> offsets(hot.size());
  std::uint64_t fill = r.fill;
  for (std::size_t i = 0; i < hot.size(); ++i) {
    const SummaryEntry& e = hot[i];
    std::uint64_t len = entry_footprint(e.value_size);
    offsets[i] = fill;
    reqs[i] = devices_->io(region, std::uint64_t{e.page_in_region} * kPageSize, {r.buffer + fill, len});
    fill += len;
  }
  Result<RingPool::Lease> ring = rings_.acquire();
  if (!ring.ok()) return;
  (void)(*ring)->run(reqs, config_.io_depth);
  for (std::size_t i = 0; i < hot.size(); ++i) {
    const SummaryEntry& e = hot[i];
    BlockId id = block_id_of(e);
    std::byte* at = r.buffer + offsets[i];
    EntryHeader h;
    std::span<const std::byte> value{at + kPageSize, e.value_size};
    if (reqs[i].result < 0 || !verify_header(at, id, e.value_size, from_seq, &h) ||
        block_checksum(value) != h.value_checksum) {
      checksum_failures_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    // Room for this entry, the writer's pending one (`reserve`) and both their summary lines.
    std::uint64_t summary = summary_pages_for(r.entries.size() + 2) * kPageSize;
    if (r.fill + entry_footprint(e.value_size) + reserve + summary > region_size_) break;
    // Entries are laid out back to back, so entry i sits at offsets[i] only if all before it were
    // kept; otherwise move it down to the current fill.
    if (offsets[i] != r.fill) std::memmove(r.buffer + r.fill, at, entry_footprint(e.value_size));
    // Re-stamp the header for the new generation, in this format (the entry may be of format 1);
    // the value is already in place. Its flags go with it: an older entry of the id that it hid
    // may still be on the device.
    std::byte* dst = r.buffer + r.fill;
    EntryHeader nh = h;
    nh.format_version = kNvmeFormatVersion;
    nh.region_seq = r.seq;
    nh.header_checksum = header_checksum(nh);
    std::memset(dst, 0, kPageSize);
    std::memcpy(dst, &nh, sizeof nh);
    std::uint64_t page = page_of(region, r.fill);
    r.entries.push_back(summary_of(id, e.value_size, static_cast<std::uint32_t>(r.fill / kPageSize),
                                   nh.flags, nh.chain_position));
    r.shadows_older = r.shadows_older || nh.flags != 0;
    r.fill += entry_footprint(e.value_size);
    // No put, removal or invalidation of the id ran since the reclaim took it out of the index:
    // each takes write_mu_, which the reclaim holds until its start record is written.
    index_.insert(id, Location{page, e.value_size, 0, r.seq});
    usage_.add(id.ns, e.value_size);
    reinserted_.fetch_add(1, std::memory_order_relaxed);
  }
}

// Writes bytes [from, to) of `region` from `buffer`, write_io_bytes per I/O, io_depth in flight.
Status NvmeTier::write_region_range(std::uint32_t region, const std::byte* buffer, std::uint64_t from,
                                    std::uint64_t to) {
  if (to <= from) return Status::Ok();
  std::vector<IoRequest> reqs;
  for (std::uint64_t off = from; off < to; off += config_.write_io_bytes) {
    std::uint64_t len = std::min<std::uint64_t>(config_.write_io_bytes, to - off);
    reqs.push_back(devices_->io(region, off, {const_cast<std::byte*>(buffer + off), len}, /*write=*/true));
  }
  Status s = rings_.run(reqs, config_.io_depth);
  if (s.ok()) bytes_written_.fetch_add(to - from, std::memory_order_relaxed);
  return s;
}

void NvmeTier::flusher_loop() {
  MutexLock lock(mu_);
  for (;;) {
    cv_.wait(lock.native(), [&]() KVTIER_REQUIRES(mu_) { return stopping_ || !flush_queue_.empty(); });
    if (flush_queue_.empty()) return;  // stopping with nothing left
    std::uint32_t idx = flush_queue_.front();
    flush_queue_.erase(flush_queue_.begin());
    flusher_busy_ = true;
    Region& r = regions_[idx];
    const std::byte* buffer = r.buffer;
    std::uint64_t summary_from = region_size_ - std::uint64_t{r.summary_pages} * kPageSize;
    // With erase_removed the gap before the summary too (zeroed by seal_open_region).
    std::uint64_t from = r.flushed, to = config_.erase_removed ? summary_from : r.fill;
    lock.unlock();
    // Entries first, then the summary that vouches for them.
    Status s = write_region_range(idx, buffer, from, to);
    if (s.ok() && from == 0) start_record_written(idx);
    if (s.ok()) s = write_region_range(idx, buffer, summary_from, region_size_);
    finish_flush(idx, s, from);
    lock.lock();
    flusher_busy_ = false;
    ++regions_written_;
    cv_.notify_all();
  }
}

// Moves a written region from memory to the device. On a failed write the entries that were not
// on the device before it (from `written_before` on) are dropped; those an earlier flush() wrote
// stay readable, and the region keeps their list in memory since its summary never reached the
// device. The failure is kept for the next flush()/close() to report.
void NvmeTier::finish_flush(std::uint32_t idx, const Status& status, std::uint64_t written_before) {
  std::vector<SummaryEntry> lost;
  MutexLock lock(mu_);
  Region& r = regions_[idx];
  if (!status.ok()) {
    count_write_failure(status);
    auto first_lost = std::find_if(r.entries.begin(), r.entries.end(), [&](const SummaryEntry& e) {
      return std::uint64_t{e.page_in_region} * kPageSize >= written_before;
    });
    lost.assign(first_lost, r.entries.end());
    r.entries.erase(first_lost, r.entries.end());
    // Through the daemon's logger (spdlog's default, which kvtierd configures), as every tier logs.
    spdlog::error("event=nvme_write_failed region={} unwritten_entries_dropped={} error=\"{}\"", idx,
                  lost.size(), status.to_string());
    // Out of the index before readers are sent to the device (below), where these pages still
    // hold whatever the region held before: another block's bytes, maybe another tenant's.
    for (const SummaryEntry& e : lost) drop_entry(block_id_of(e), page_of(idx, std::uint64_t{e.page_in_region} * kPageSize));
  }
  r.flushed = r.fill;
  r.state = RegionState::kSealed;
  r.summary_on_device = status.ok();
  // Readers that took the buffer keep it until they are done; new readers go to the device.
  r.buffer = nullptr;
  cv_.wait(lock.native(), [&]() KVTIER_REQUIRES(mu_) { return r.buffer_readers == 0; });
  free_buffers_.push_back(r.buffer_index);
  if (status.ok()) {
    r.entries.clear();
    r.entries.shrink_to_fit();
  }
  lock.unlock();
  cv_.notify_all();
}

// The open region's entries stay in its buffer too (readers use it);
// recovery finds them on the device by their page headers, as after any crash mid-region.
Status NvmeTier::write_open_region(bool* wrote) {
  *wrote = false;
  if (open_region_ < 0) return Status::Ok();
  Region& r = open_region();
  if (r.flushed == r.fill) return Status::Ok();
  KVTIER_RETURN_IF_ERROR(write_region_range(static_cast<std::uint32_t>(open_region_), r.buffer, r.flushed, r.fill));
  if (r.flushed == 0) start_record_written(static_cast<std::uint32_t>(open_region_));
  r.flushed = r.fill;
  *wrote = true;
  apply_due_erasures();
  return Status::Ok();
}

void NvmeTier::erase_entry(const Location& loc) {
  const Region& open = open_region();
  const std::uint64_t from = (loc.page % devices_->pages_per_region()) * kPageSize;
  MutexLock lock(mu_);
  pending_erasures_.push_back({region_of(loc.page), loc.seq, from, from + entry_footprint(loc.size),
                               static_cast<std::uint32_t>(open_region_), open.seq, open.fill});
}

bool NvmeTier::written_through(std::uint32_t region, std::uint64_t seq, std::uint64_t end) const {
  const Region& r = regions_[region];
  if (r.seq != seq) return true;  // reused: it was sealed and written before
  // A region being written keeps its bytes before `flushed` as they are on the device.
  return r.state == RegionState::kSealed || r.flushed >= end;
}

void NvmeTier::apply_due_erasures(std::optional<std::pair<std::uint32_t, std::uint64_t>> victim) {
  std::vector<Erasure> due;
  {
    MutexLock lock(mu_);
    if (pending_erasures_.empty()) return;
    auto is_due = [&](const Erasure& e) KVTIER_REQUIRES(mu_, write_mu_) {
      if (victim && e.region == victim->first && e.seq == victim->second) return true;
      return written_through(e.region, e.seq, e.to) &&
             written_through(e.after_region, e.after_seq, e.after_end);
    };
    std::copy_if(pending_erasures_.begin(), pending_erasures_.end(), std::back_inserter(due), is_due);
    std::erase_if(pending_erasures_, is_due);
  }
  for (const Erasure& e : due) write_zeros(e.region, e.from, e.to);
}

// A reclaim's reinsertion moved hot entries down to the front of their region: their former
// pages past the new fill are overwritten now (those before it are by the region's next write),
// so a later removal of such an entry leaves no copy behind.
void NvmeTier::erase_moved_copies(const std::vector<SummaryEntry>& moved) {
  const Region& r = open_region();
  std::uint64_t end = 0;
  for (const SummaryEntry& e : moved) {
    end = std::max(end, std::uint64_t{e.page_in_region} * kPageSize + entry_footprint(e.value_size));
  }
  if (end > r.fill) write_zeros(static_cast<std::uint32_t>(open_region_), r.fill, end);
}

void NvmeTier::write_zeros(std::uint32_t region, std::uint64_t from, std::uint64_t to) {
  std::vector<IoRequest> reqs;
  for (std::uint64_t off = from; off < to; off += zeros_.size()) {
    std::uint64_t len = std::min<std::uint64_t>(zeros_.size(), to - off);
    reqs.push_back(devices_->io(region, off, {zeros_.data(), len}, /*write=*/true));
  }
  Status s = rings_.run(reqs, config_.io_depth);
  if (s.ok()) {
    erased_bytes_.fetch_add(to - from, std::memory_order_relaxed);
    return;
  }
  // Reported to the removals waiting for a flush, as a failed write is: they were promised
  // erasure.
  spdlog::error("event=nvme_erase_failed region={} error=\"{}\"", region, s.to_string());
  MutexLock lock(mu_);
  count_write_failure(s);
}

// Only the open region's write holds write_mu_: the wait for the regions sealed before it and the
// sync let puts, demotions and other flushes go on (a durable put's sync used to stop every
// writer of the tier).
Status NvmeTier::flush(std::uint64_t since, std::uint64_t* failed_now) {
  if (closed_.load()) return Status::Closed("nvme tier is closed");
  std::uint64_t sealed_before = 0;
  Status s;
  {
    MutexLock w(write_mu_);
    bool wrote = false;
    s = write_open_region(&wrote);
    MutexLock lock(mu_);
    sealed_before = regions_queued_;
  }
  if (!s.ok()) {
    // Its entries stay in the buffer and are written by the next attempt: counted, not a
    // failure that dropped anything. The regions sealed before are waited for all the same: a
    // failure of theirs, counted later, would otherwise fall after *failed_now, and a caller
    // taking that as its next mark would never hear of it.
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    wait_for_regions_written(sealed_before);
    if (failed_now) *failed_now = failed_writes();
    return s;
  }
  wait_for_regions_written(sealed_before);
  apply_erasures_waiting();
  sync_devices();  // a failure is counted: the check below reports it
  return failures_since(since, failed_now);
}

Status NvmeTier::flush() {
  std::uint64_t failed_now = 0;
  Status s = flush(failures_reported(), &failed_now);
  mark_reported(failed_now);
  return s;
}

std::uint64_t NvmeTier::failures_reported() {
  MutexLock lock(mu_);
  return failures_reported_;
}

void NvmeTier::mark_reported(std::uint64_t failed_now) {
  MutexLock lock(mu_);
  failures_reported_ = std::max(failures_reported_, failed_now);
}

std::uint64_t NvmeTier::failed_writes() const {
  MutexLock lock(mu_);
  return failed_writes_;
}

void NvmeTier::count_write_failure(const Status& s) {
  write_errors_.fetch_add(1, std::memory_order_relaxed);
  ++failed_writes_;
  last_write_error_ = s;
}

// Bounds what a process crash loses: without it, the entries of a region that fills slowly would
// live only in memory until the region fills. The sync runs outside write_mu_ so puts go on.
// A failed write is kept for the next flush()/close() to report, as the flusher's are.
void NvmeTier::open_region_writer_loop() {
  MutexLock lock(mu_);
  while (!stopping_) {
    // cv_ is notified for many reasons: only stopping_ ends the wait before the interval.
    cv_.wait_for(lock.native(), config_.flush_interval, [&]() KVTIER_REQUIRES(mu_) { return stopping_; });
    if (stopping_) return;
    lock.unlock();
    bool wrote = false;
    Status s;
    {
      MutexLock w(write_mu_);
      if (!closed_.load()) s = write_open_region(&wrote);
    }
    if (!s.ok()) {
      write_errors_.fetch_add(1, std::memory_order_relaxed);  // written by the next attempt
    } else if (wrote) {
      sync_devices();
    }
    lock.lock();
  }
}

void NvmeTier::sync_devices() {
  sync_requests_.fetch_add(1, std::memory_order_relaxed);
  MutexLock lock(sync_mu_);
  const std::uint64_t needed = syncs_started_ + 1;  // one that starts after this call did
  while (syncs_done_ < needed) {
    if (sync_running_) {
      sync_cv_.wait(lock.native());
      continue;
    }
    sync_running_ = true;
    const std::uint64_t mine = ++syncs_started_;
    lock.unlock();
    if (sync_hook_) sync_hook_();
    syncs_.fetch_add(1, std::memory_order_relaxed);
    Status s = devices_->sync();
    if (!s.ok()) {
      MutexLock l(mu_);
      count_write_failure(s);  // before any waiter of this sync looks
    }
    lock.lock();
    sync_running_ = false;
    syncs_done_ = mine;
    sync_cv_.notify_all();
  }
}

void NvmeTier::apply_erasures_waiting() {
  {
    MutexLock lock(mu_);
    if (pending_erasures_.empty()) return;
  }
  MutexLock w(write_mu_);
  apply_due_erasures();
}

void NvmeTier::wait_for_regions_written(std::uint64_t sealed) {
  MutexLock lock(mu_);
  cv_.wait(lock.native(), [&]() KVTIER_REQUIRES(mu_) { return regions_written_ >= sealed; });
}

Status NvmeTier::failures_since(std::uint64_t since, std::uint64_t* failed_now) const {
  MutexLock lock(mu_);
  if (failed_now) *failed_now = failed_writes_;
  if (failed_writes_ <= since) return Status::Ok();
  return Status::IOError(std::to_string(failed_writes_ - since) + " write(s) of the NVMe tier "
                         "failed since; the last: " + last_write_error_.to_string());
}

Status NvmeTier::close() {
  bool was_closed = closed_.exchange(true);
  if (was_closed) return Status::Ok();
  {
    MutexLock w(write_mu_);
    if (open_region_ >= 0) seal_open_region();
  }
  std::uint64_t sealed = 0;
  {
    MutexLock lock(mu_);
    sealed = regions_queued_;
  }
  wait_for_regions_written(sealed);
  apply_erasures_waiting();
  sync_devices();
  std::uint64_t failed_now = 0;
  Status s = failures_since(failures_reported(), &failed_now);
  mark_reported(failed_now);
  if (s.ok()) s = write_checkpoint(checkpoint_path_);
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  if (open_region_writer_.joinable()) open_region_writer_.join();
  return s;
}

Status NvmeTier::invalidate(const BlockId& id, std::uint64_t* failures_before) {
  // Without a reclaim under way, an id the index lacks has nothing on the devices that recovery
  // would find: an entry enters the index only through put() (under the caller's stripe, which
  // the caller holds) or through a reclaim's reinsertion of an entry the index held when the
  // reclaim began (here it did not). During a reclaim the entry may be out of the index on its
  // way back (reinsertion) or still on the device (the region's start record not yet written):
  // remove() waits for write_mu_, which the reclaim holds until both are done.
  {
    MutexLock lock(reclaim_mu_);
    if (!reclaiming_ && dropped_unstarted_.empty() && !index_.lookup(id, false)) {
      return Status::NotFound("not on nvme");
    }
  }
  return remove(id, failures_before);
}

std::optional<std::uint32_t> NvmeTier::value_size(const BlockId& id) {
  std::optional<Location> loc = index_.lookup(id, false);
  if (!loc) return std::nullopt;
  return loc->size;
}

void NvmeTier::probe(NamespaceId ns, std::span<const Key> keys, std::span<std::uint8_t> found) {
  index_.probe(ns, keys, found);
}

Status NvmeTier::remove(const BlockId& id, std::uint64_t* failures_before) {
  if (closed_.load()) return Status::Closed("nvme tier is closed");
  // Under write_mu_ so a removal cannot fall between a region's reclaim and the reinsertion of its
  // hot entries (which would bring the block back).
  MutexLock w(write_mu_);
  std::optional<Location> removed = index_.remove(id);
  if (removed) {
    usage_.sub(id.ns, removed->size);
    removes_.fetch_add(1, std::memory_order_relaxed);
  } else if (!dropped_unstarted(id)) {
    return Status::NotFound("not on nvme");
  }
  // The entry stays on the device until its region is reused, and recovery would find it: the
  // tombstone, newer than it, tells recovery it is gone. Not charged to the write budget (a page,
  // and a removal must not be refused).
  if (closed_.load(std::memory_order_relaxed)) return Status::Closed("nvme tier is closed");
  *failures_before = failed_writes();
  KVTIER_RETURN_IF_ERROR(ensure_room(kPageSize));
  append_valueless(id, kTombstone);
  tombstones_.fetch_add(1, std::memory_order_relaxed);
  if (removed && config_.erase_removed) erase_entry(*removed);
  return Status::Ok();
}

std::optional<std::pair<int, std::uint64_t>> NvmeTier::TEST_value_extent(const BlockId& id) {
  std::optional<Location> loc = index_.lookup(id, false);
  if (!loc) return std::nullopt;
  std::uint64_t page_in_region = loc->page % devices_->pages_per_region();
  DeviceExtent ext = devices_->locate(region_of(loc->page), (page_in_region + 1) * kPageSize);
  return std::make_pair(ext.fd, ext.offset);
}

void NvmeTier::visit_counters(const CounterVisitor& v) {
  report_count(v, "nvme_hits", hits_);
  report_count(v, "nvme_misses", misses_);
  report_count(v, "nvme_inserts", inserts_);
  report_count(v, "nvme_removes", removes_);
  report_count(v, "nvme_tombstones", tombstones_);
  report_count(v, "nvme_erased_bytes", erased_bytes_);
  report_count(v, "nvme_bytes_written", bytes_written_);
  report_count(v, "nvme_bytes_read", bytes_read_);
  report_count(v, "nvme_admission_rejected", admission_rejected_);
  report_count(v, "nvme_too_large", too_large_);
  report_count(v, "nvme_checksum_failures", checksum_failures_);
  report_count(v, "nvme_header_mismatches", header_mismatches_);
  report_count(v, "nvme_direct_reads", direct_reads_);
  report_count(v, "nvme_bounce_reads", bounce_reads_);
  report_count(v, "nvme_memory_reads", memory_reads_);
  report_count(v, "nvme_raced_reads", raced_reads_);
  report_count(v, "nvme_rereads", rereads_);
  report_count(v, "nvme_regions_reclaimed", regions_reclaimed_);
  report_count(v, "nvme_reclaimed_entries", reclaimed_entries_);
  report_count(v, "nvme_reinserted", reinserted_);
  report_count(v, "nvme_write_errors", write_errors_);
  report_count(v, "nvme_syncs", syncs_);
  report_count(v, "nvme_sync_requests", sync_requests_);
  report_count(v, "nvme_read_errors", read_errors_);
  report_gauge(v, "nvme_entries", static_cast<double>(index_.size()));
  report_gauge(v, "nvme_index_bytes", static_cast<double>(index_.memory_bytes()));
  report_gauge(v, "nvme_regions", static_cast<double>(devices_->region_count()));
  report_gauge(v, "nvme_region_bytes", static_cast<double>(region_size_));
  // The write queue: regions sealed and waiting for the flusher, and the region buffers free for
  // writers. Free buffers at 0 with a queue means the device is behind and puts wait (the
  // backpressure of open_new_region).
  std::size_t queued = 0, free = 0;
  {
    MutexLock lock(mu_);
    queued = flush_queue_.size() + (flusher_busy_ ? 1 : 0);
    free = free_buffers_.size();
  }
  report_gauge(v, "nvme_write_queue_regions", static_cast<double>(queued));
  report_gauge(v, "nvme_free_write_buffers", static_cast<double>(free));
  report_gauge(v, "nvme_write_buffers", static_cast<double>(buffers_.size()));
}

}  // namespace kvtier::nvme
