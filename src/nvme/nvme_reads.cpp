// NvmeTier's read path: a read holds its entry's region, reads the header page and the value
// (from the region buffer while the region is in memory, else from the device with O_DIRECT into
// the caller's buffer when it is aligned), verifies both, and answers; a mismatch drops the entry
// and is a miss. Index queries that read nothing (contains, location) are here too.
#include "nvme/nvme_tier.h"

#include <cstring>
#include <optional>
#include <vector>

#include "integrity/check.h"
#include "integrity/checksum.h"
#include "sync/mutex.h"

namespace kvtier::nvme {
namespace {

// A read with nothing to serve: NotFound, counted a miss when it is a client's (ReadFor).
std::nullopt_t answer_read_miss(std::atomic<std::uint64_t>& misses, bool counted, GetResult& res,
                                std::string why) {
  if (counted) misses.fetch_add(1, std::memory_order_relaxed);
  res.status = Status::NotFound(std::move(why));
  return std::nullopt;
}

std::nullopt_t answer_buffer_too_small(GetResult& res, std::uint32_t size, std::size_t room) {
  res.status = Status::BufferTooSmall("value is " + std::to_string(size) + " bytes, buffer " +
                                      std::to_string(room));
  res.size = size;
  return std::nullopt;
}

}  // namespace

std::optional<NvmeTier::RegionHold> NvmeTier::hold_region(std::uint32_t region) {
  MutexLock lock(mu_);
  Region& r = regions_[region];
  if (r.state == RegionState::kFree || r.state == RegionState::kReclaiming) return std::nullopt;
  ++r.readers;
  if (r.buffer) ++r.buffer_readers;
  r.last_access = access_clock_.fetch_add(1, std::memory_order_relaxed);
  return RegionHold{region, r.seq, r.buffer};
}

void NvmeTier::release_region(const RegionHold& hold) {
  bool wake;
  {
    MutexLock lock(mu_);
    Region& r = regions_[hold.region];
    --r.readers;
    if (hold.buffer) --r.buffer_readers;
    wake = r.readers == 0 || (hold.buffer && r.buffer_readers == 0);
  }
  if (wake) cv_.notify_all();
}

bool NvmeTier::verify_header(const std::byte* page, const BlockId& id, std::uint32_t size,
                             std::uint64_t seq, EntryHeader* h) const {
  return decode_entry_header(page, h) && h->format_id == devices_->format_id() &&
         h->region_seq == seq && (h->flags & (kTombstone | kRegionStart)) == 0 && h->ns == id.ns &&
         h->value_size == size && std::memcmp(h->key, id.key.bytes.data(), 16) == 0;
}

void NvmeTier::drop_entry(const BlockId& id, std::uint64_t page) {
  std::optional<Location> removed = index_.remove_if_at(id, page);
  if (removed) usage_.sub(id.ns, removed->size);
}

// One block of a get_many batch on its way through the read path.
struct NvmeTier::ReadPlan {
  static constexpr std::size_t kUnread = ~std::size_t{0};  // `request` of a read never issued
  std::size_t item = 0;
  BlockId id;
  Location loc;
  RegionHold hold;
  std::size_t request = 0;       // index into the batch's IoRequests
  std::byte* header_page = nullptr;
  std::byte* tail_page = nullptr;  // last partial page of the value, when read separately
  std::uint64_t direct_bytes = 0;  // value bytes read straight into dst
  AlignedBuffer bounce;            // whole value, when dst is not aligned
  bool counted = true;             // a client's read: counts a hit or a miss (ReadFor)
  bool reread = false;             // the checksum over dst failed: read again into own memory
};

GetResult NvmeTier::get(const BlockId& id, std::span<std::byte> dst, engine::ReadFor why) {
  GetItem item{id.key, dst};
  GetResult out;
  get_many(id.ns, {&item, 1}, {&out, 1}, why);
  return out;
}

// The first step of a read: the item's location, checked, and its region held; nullopt with
// `res` answered (a miss, a buffer too small, an entry dropped as damaged) when there is nothing
// to read.
std::optional<NvmeTier::ReadPlan> NvmeTier::plan_read(NamespaceId ns, const GetItem& item,
                                                      bool counted, GetResult& res) {
  BlockId id{ns, item.key};
  res = GetResult{};
  std::optional<Location> loc = index_.lookup(id, /*count_hit=*/counted);
  if (!loc) return answer_read_miss(misses_, counted, res, "not on nvme");
  if (item.dst.size() < loc->size) return answer_buffer_too_small(res, loc->size, item.dst.size());
  // Locations come from summaries and checkpoints on disk: one that lies outside the devices
  // or runs past its region's end was damaged before its checksum was taken (a bug, a stale
  // file). It is dropped like an entry whose header does not match.
  if (region_of(loc->page) >= devices_->region_count() || !entry_fits(loc->page % devices_->pages_per_region(), loc->size)) {
    header_mismatches_.fetch_add(1, std::memory_order_relaxed);
    drop_entry(id, loc->page);
    return answer_read_miss(misses_, counted, res, "nvme index entry outside its region");
  }
  std::optional<RegionHold> hold = hold_region(region_of(loc->page));
  // The region may have been reclaimed between the index lookup and the hold.
  std::optional<Location> again = hold ? index_.lookup(id, false) : std::nullopt;
  if (!again || again->page != loc->page) {
    if (hold) release_region(*hold);
    raced_reads_.fetch_add(1, std::memory_order_relaxed);
    return answer_read_miss(misses_, counted, res, "reclaimed while reading");
  }
  if (again->seq != hold->seq) {
    // The entry names a generation the region no longer holds: whatever is there now belongs
    // to another entry. Refused before any byte is read.
    release_region(*hold);
    header_mismatches_.fetch_add(1, std::memory_order_relaxed);
    drop_entry(id, again->page);
    return answer_read_miss(misses_, counted, res, "nvme index entry of a reused region");
  }
  if (again->size > item.dst.size()) {  // re-put with another size since the first lookup
    release_region(*hold);
    return answer_buffer_too_small(res, again->size, item.dst.size());
  }
  ReadPlan p;
  p.id = id;
  p.loc = *again;
  p.hold = *hold;
  p.counted = counted;
  return p;
}

void NvmeTier::get_many(NamespaceId ns, std::span<const GetItem> items, std::span<GetResult> out,
                        engine::ReadFor why) {
  KVTIER_CHECK(out.size() >= items.size());
  const bool counted = why == engine::ReadFor::kClient;
  std::vector<ReadPlan> plans;
  plans.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (std::optional<ReadPlan> p = plan_read(ns, items[i], counted, out[i])) {
      p->item = i;
      plans.push_back(std::move(*p));
    }
  }

  // Blocks still in a region buffer are copied from memory; the rest become device reads.
  std::size_t disk = 0;
  for (const ReadPlan& p : plans) disk += p.hold.buffer ? 0 : 1;
  AlignedBuffer pages(disk ? 2 * disk * kPageSize : kPageSize);
  std::vector<IoRequest> reqs;
  reqs.reserve(disk);
  std::size_t next_page = 0;
  // No memory for the read's own pages: a miss this time, and the entry stays (nothing was judged).
  auto unread = [&](ReadPlan& p, const char* why) {
    p.request = ReadPlan::kUnread;
    release_region(p.hold);
    answer_read_miss(misses_, p.counted, out[p.item], why);
  };
  for (ReadPlan& p : plans) {
    if (p.hold.buffer) continue;
    if (pages.empty()) {
      unread(p, "no memory for an nvme read");
      continue;
    }
    std::span<std::byte> dst = items[p.item].dst;
    std::uint64_t page_in_region = p.loc.page % devices_->pages_per_region();
    p.header_page = pages.data() + (next_page++) * kPageSize;
    IoRequest q = devices_->io(p.hold.region, page_in_region * kPageSize, {p.header_page, kPageSize});
    if (is_page_aligned(dst.data())) {
      p.direct_bytes = p.loc.size / kPageSize * kPageSize;
      if (p.direct_bytes) q.iov[q.iov_count++] = {dst.data(), p.direct_bytes};
      if (p.direct_bytes < p.loc.size) {
        p.tail_page = pages.data() + (next_page++) * kPageSize;
        q.iov[q.iov_count++] = {p.tail_page, kPageSize};
      }
      direct_reads_.fetch_add(1, std::memory_order_relaxed);
    } else {
      p.bounce = AlignedBuffer(p.loc.size);
      if (p.bounce.empty()) {
        unread(p, "no memory for an nvme bounce buffer");
        continue;
      }
      q.iov[q.iov_count++] = {p.bounce.data(), p.bounce.size()};
      bounce_reads_.fetch_add(1, std::memory_order_relaxed);
    }
    p.request = reqs.size();
    reqs.push_back(q);
  }
  // Blocks in memory are answered now; device reads are verified as each completes, while the
  // rest of the batch is still in flight.
  std::vector<std::size_t> plan_of_request(reqs.size());
  for (std::size_t k = 0; k < plans.size(); ++k) {
    if (plans[k].hold.buffer) {
      finish_read(plans[k], items[plans[k].item].dst, nullptr, out[plans[k].item]);
    } else if (plans[k].request != ReadPlan::kUnread) {
      plan_of_request[plans[k].request] = k;
    }
  }
  if (reqs.empty()) return;
  (void)rings_.run(reqs, config_.io_depth, [&](std::size_t r) {
    ReadPlan& p = plans[plan_of_request[r]];
    finish_read(p, items[p.item].dst, &reqs[r], out[p.item]);
  });
  for (ReadPlan& p : plans) {
    if (p.reread) reread_into_own_memory(p, items[p.item].dst, out[p.item]);
  }
}

// A value read straight into the caller's buffer did not match its checksum. That buffer may be a
// client's shared memory, written by the client meanwhile, so the entry is not judged by it: the
// entry is read again into memory the tier owns and judged there. Only then is it dropped (or
// served from that copy). Rare; one I/O at a time.
void NvmeTier::reread_into_own_memory(ReadPlan& p, std::span<std::byte> dst, GetResult& res) {
  rereads_.fetch_add(1, std::memory_order_relaxed);
  AlignedBuffer copy(entry_footprint(p.loc.size));
  bool ok = false;
  EntryHeader h;
  if (!copy.empty()) {
    IoRequest q = devices_->io(p.hold.region, (p.loc.page % devices_->pages_per_region()) * kPageSize,
                               {copy.data(), copy.size()});
    (void)rings_.run({&q, 1}, 1);
    if (q.result < 0) {
      // The device failed, not the entry: a miss this time, the entry stays.
      read_errors_.fetch_add(1, std::memory_order_relaxed);
      release_region(p.hold);
      answer_read_miss(misses_, p.counted, res, "nvme read failed");
      return;
    }
    ok = verify_header(copy.data(), p.id, p.loc.size, p.hold.seq, &h) &&
         block_checksum({copy.data() + kPageSize, p.loc.size}) == h.value_checksum;
  }
  release_region(p.hold);
  if (copy.empty()) {
    // No memory to judge it in: a miss, and the entry stays.
    answer_read_miss(misses_, p.counted, res, "no memory to verify an nvme read");
    return;
  }
  if (!ok) {
    answer_failed_verification(p, &checksum_failures_, res);
    return;
  }
  std::memcpy(dst.data(), copy.data() + kPageSize, p.loc.size);
  if (p.counted) hits_.fetch_add(1, std::memory_order_relaxed);
  res.status = Status::Ok();
  res.size = p.loc.size;
  res.tier = Tier::kNvme;
}

// Verifies one read (from the region buffer when `req` is null, else from the device) and
// answers it; releases its region.
void NvmeTier::finish_read(ReadPlan& p, std::span<std::byte> dst, const IoRequest* req, GetResult& res) {
  EntryHeader h;
  bool ok;
  std::atomic<std::uint64_t>* failed_check = nullptr;  // the counter of the check that failed
  if (!req) {
    const std::byte* at = p.hold.buffer + (p.loc.page % devices_->pages_per_region()) * kPageSize;
    ok = verify_header(at, p.id, p.loc.size, p.hold.seq, &h);
    // The buffer is this process's own memory, written by put(): no checksum to verify.
    if (ok) std::memcpy(dst.data(), at + kPageSize, p.loc.size);
    memory_reads_.fetch_add(1, std::memory_order_relaxed);
  } else if (req->result < 0) {
    // The device or the system failed, not the entry: a miss this time, the entry stays.
    read_errors_.fetch_add(1, std::memory_order_relaxed);
    release_region(p.hold);
    answer_read_miss(misses_, p.counted, res,
                     "nvme read failed: " + std::string(std::strerror(static_cast<int>(-req->result))));
    return;
  } else {
    ok = verify_header(p.header_page, p.id, p.loc.size, p.hold.seq, &h);
    if (!ok) failed_check = &header_mismatches_;
    bytes_read_.fetch_add(p.loc.size, std::memory_order_relaxed);
    if (ok && !p.bounce.empty()) {
      // The bounce buffer is the tier's own: verified before a byte reaches dst.
      if (block_checksum({p.bounce.data(), p.loc.size}) != h.value_checksum) {
        failed_check = &checksum_failures_;
        ok = false;
      } else {
        std::memcpy(dst.data(), p.bounce.data(), p.loc.size);
      }
    } else if (ok) {
      if (p.tail_page) std::memcpy(dst.data() + p.direct_bytes, p.tail_page, p.loc.size - p.direct_bytes);
      if (block_checksum({dst.data(), p.loc.size}) != h.value_checksum) {
        p.reread = true;  // judged again from the tier's own memory; the hold stays
        return;
      }
    }
  }
  release_region(p.hold);
  if (!ok) {
    answer_failed_verification(p, failed_check, res);
    return;
  }
  if (p.counted) hits_.fetch_add(1, std::memory_order_relaxed);
  res.status = Status::Ok();
  res.size = p.loc.size;
  res.tier = Tier::kNvme;
}

bool NvmeTier::removed_while_read(const ReadPlan& p) {
  std::optional<Location> now = index_.lookup(p.id, false);
  return !now || now->page != p.loc.page || now->seq != p.loc.seq;
}

// Never hands out bytes that did not verify. Unless the entry was removed while it was read (its
// pages may have been overwritten: a race, not damage), the failed check is counted and the
// entry forgotten, so it is not tried again.
void NvmeTier::answer_failed_verification(const ReadPlan& p, std::atomic<std::uint64_t>* failed_check,
                                          GetResult& res) {
  if (removed_while_read(p)) {
    raced_reads_.fetch_add(1, std::memory_order_relaxed);
    answer_read_miss(misses_, p.counted, res, "removed while reading");
    return;
  }
  if (failed_check) failed_check->fetch_add(1, std::memory_order_relaxed);
  drop_entry(p.id, p.loc.page);
  answer_read_miss(misses_, p.counted, res, "nvme entry failed verification");
}

bool NvmeTier::contains(const BlockId& id) { return index_.lookup(id, false).has_value(); }

std::optional<Location> NvmeTier::location(const BlockId& id) { return index_.lookup(id, false); }

}  // namespace kvtier::nvme
