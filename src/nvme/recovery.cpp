// NvmeTier warm restart. After close() the index and region table are in a checkpoint file that
// open() loads and then deletes (so a later crash can never load a stale one). Without a usable
// checkpoint the index is rebuilt from the devices: a sealed region's summary lists its entries;
// a region that was being filled at the crash is read in full and its entries are verified one
// by one (header checksum, generation, value checksum), torn ones dropped, and it is then sealed.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "integrity/checksum.h"
#include "nvme/nvme_tier.h"
#include "posix/durable_file.h"
#include "posix/unique_fd.h"
#include "sync/mutex.h"

namespace kvtier::nvme {
namespace {

static_assert(std::endian::native == std::endian::little, "checkpoint and device formats are little-endian");

// "KVTCKPT1" as a little-endian u64.
constexpr std::uint64_t kCheckpointMagic = 0x3154504b4354564bull;
// 1 (until 727dc88): also per-namespace usage, and an index image of 48-bit tags. 2: usage is
// recounted from the index at load. 3 (NVMe format 2): a region's flags; a checkpoint of version 2
// is still loaded, every region taken to shadow older records.
constexpr std::uint32_t kCheckpointVersion = 3;
constexpr std::uint32_t kOldestCheckpointVersion = 2;
// CheckpointRegion::flags.
constexpr std::uint8_t kCheckpointShadowsOlder = 1;

// One region's line in the checkpoint.
struct CheckpointRegion {
  std::uint8_t sealed;
  std::uint8_t flags;  // version 3; 0 in version 2
  std::uint8_t reserved[2];
  std::uint32_t summary_pages;
  std::uint32_t entry_count;
  std::uint32_t reserved2;
  std::uint64_t seq;
  std::uint64_t last_access;
};
static_assert(sizeof(CheckpointRegion) == 32);

class ByteWriter {
 public:
  template <typename T>
  void put(const T& v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void put_bytes(std::span<const std::byte> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  std::vector<std::byte>& bytes() { return bytes_; }

 private:
  std::vector<std::byte> bytes_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> b) : bytes_(b) {}
  template <typename T>
  bool get(T* v) {
    if (bytes_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool get_bytes(std::size_t n, std::span<const std::byte>* out) {
    if (bytes_.size() - pos_ < n) return false;
    *out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::span<const std::byte> bytes_;
  std::size_t pos_ = 0;
};

bool parse_header(const std::byte* page, std::uint64_t format_id, EntryHeader* h) {
  return decode_entry_header(page, h) && h->format_id == format_id;
}

bool parse_trailer(const std::byte* region_end, std::uint64_t format_id, SummaryTrailer* t) {
  std::memcpy(t, region_end - sizeof *t, sizeof *t);
  return t->magic == kSummaryMagic && t->format_version >= kOldestReadableFormat &&
         t->format_version <= kNvmeFormatVersion && t->trailer_checksum == trailer_checksum(*t) &&
         t->format_id == format_id;
}

bool all_zero_page(const std::byte* page) {
  for (std::size_t i = 0; i < kPageSize; ++i) {
    if (page[i] != std::byte{0}) return false;
  }
  return true;
}

// The newest generation among the valid entry headers on any page of a region image; 0 if none.
std::uint64_t newest_generation(const std::byte* region, std::uint64_t region_size, std::uint64_t format_id) {
  std::uint64_t newest = 0;
  for (std::uint64_t off = 0; off + kPageSize <= region_size; off += kPageSize) {
    EntryHeader h;
    if (parse_header(region + off, format_id, &h)) newest = std::max(newest, h.region_seq);
  }
  return newest;
}

}  // namespace

Status NvmeTier::recover(const std::string& checkpoint_path) {
  auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  const bool have_checkpoint =
      std::filesystem::symlink_status(checkpoint_path, ec).type() != std::filesystem::file_type::not_found;
  // Used or not, a checkpoint describes the devices as they were at close(); from now on they
  // change, so it must not survive into a later crash. Only a file is removed: anything else
  // where it belongs stops the start, named (kvtier does not delete what it did not write).
  auto remove_checkpoint = [&]() -> Status {
    if (::unlink(checkpoint_path.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno("cannot remove " + checkpoint_path + " (where the NVMe tier keeps its "
                               "index checkpoint; move away what is there)", errno);
    }
    return sync_parent_dir(checkpoint_path);
  };
  if (devices_->freshly_formatted()) {
    recovery_.mode = RecoveryMode::kFresh;
    return have_checkpoint ? remove_checkpoint() : Status::Ok();
  }
  Status s = !have_checkpoint ? Status::NotFound("no checkpoint (unclean shutdown)")
             : devices_->needs_scan()
                 ? Status::Corruption("a device is shorter than when the checkpoint was written")
                 : load_checkpoint(checkpoint_path);
  if (have_checkpoint) KVTIER_RETURN_IF_ERROR(remove_checkpoint());
  if (s.ok()) {
    recovery_.mode = RecoveryMode::kCheckpoint;
  } else {
    if (have_checkpoint) {
      spdlog::warn("event=nvme_checkpoint_unused path=\"{}\" reason=\"{}\" recovery=scan",
                   checkpoint_path, s.to_string());
    }
    recovery_.checkpoint_note = s.to_string();
    index_.clear();
    usage_.clear();
    {
      MutexLock lock(mu_);
      for (Region& r : regions_) r = Region{};
    }
    recovery_.mode = RecoveryMode::kScan;
    KVTIER_RETURN_IF_ERROR(scan_regions());
  }
  recovery_.entries = index_.size();
  recovery_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return Status::Ok();
}

Status NvmeTier::write_checkpoint(const std::string& path) {
  ByteWriter w;
  w.put(kCheckpointMagic);
  w.put(kCheckpointVersion);
  w.put(devices_->region_count());
  w.put(devices_->format_id());
  w.put(region_size_);
  {
    MutexLock lock(mu_);
    w.put(next_seq_);
    w.put(access_clock_.load());
    for (const Region& r : regions_) {
      CheckpointRegion c{};
      // A region whose summary write failed is recorded sealed with no summary (0 pages): what
      // it wrote before the failure stays readable, its reclaim finds its entries in the index
      // (the fallback for an unreadable summary), and it is taken to hide older records. Recorded
      // free, it would be reused first, and its start record would end tombstones it wrote
      // while the entries they hide were still on older regions (found by the audit).
      c.sealed = r.state == RegionState::kSealed ? 1 : 0;
      c.flags = r.shadows_older || !r.summary_on_device ? kCheckpointShadowsOlder : 0;
      c.summary_pages = r.summary_on_device ? r.summary_pages : 0;
      c.entry_count = r.entry_count;
      c.seq = c.sealed ? r.seq : 0;
      c.last_access = r.last_access;
      w.put(c);
    }
  }
  std::vector<std::byte> image = index_.serialize();
  w.put(static_cast<std::uint64_t>(image.size()));
  w.put_bytes(image);
  w.put(block_checksum(w.bytes()));

  return replace_file_durably(path, w.bytes(), 0600);
}

Status NvmeTier::load_checkpoint(const std::string& path) {
  // Bounded by what a checkpoint of this geometry can hold: its table and an index line (well
  // under 64 bytes) for every page of the devices.
  const std::size_t most = (std::size_t{devices_->region_count()} * devices_->pages_per_region() + 1) * 64;
  Result<std::vector<std::byte>> raw = read_regular_file(path, most);
  if (!raw.ok()) return raw.status();
  std::span<const std::byte> all(*raw);
  if (all.size() < sizeof(std::uint64_t)) return Status::Corruption("checkpoint truncated");
  std::span<const std::byte> body = all.first(all.size() - sizeof(std::uint64_t));
  std::uint64_t stored;
  std::memcpy(&stored, all.data() + body.size(), sizeof stored);
  if (stored != block_checksum(body)) return Status::Corruption("checkpoint checksum mismatch");

  ByteReader r(body);
  std::uint64_t magic, format_id, region_size, next_seq, clock;
  std::uint32_t version, region_count;
  if (!r.get(&magic) || !r.get(&version) || !r.get(&region_count) || !r.get(&format_id) ||
      !r.get(&region_size) || !r.get(&next_seq) || !r.get(&clock)) {
    return Status::Corruption("checkpoint header truncated");
  }
  if (magic != kCheckpointMagic || version < kOldestCheckpointVersion || version > kCheckpointVersion) {
    return Status::Corruption("not a checkpoint of a version this build reads");
  }
  if (format_id != devices_->format_id() || region_count != devices_->region_count() || region_size != region_size_) {
    return Status::InvalidArgument("checkpoint belongs to another device set or geometry");
  }
  std::vector<Region> regions(region_count);
  for (Region& reg : regions) {
    CheckpointRegion c;
    if (!r.get(&c)) return Status::Corruption("checkpoint region table truncated");
    if (c.sealed) {
      reg.state = RegionState::kSealed;
      reg.seq = c.seq;
      reg.summary_pages = c.summary_pages;
      reg.entry_count = c.entry_count;
      reg.fill = region_size_;
      reg.flushed = region_size_;
      reg.shadows_older = version < 3 || (c.flags & kCheckpointShadowsOlder) != 0;
    }
    reg.last_access = c.last_access;
  }
  std::uint64_t image_size;
  std::span<const std::byte> image;
  if (!r.get(&image_size) || !r.get_bytes(image_size, &image)) return Status::Corruption("checkpoint index truncated");
  KVTIER_RETURN_IF_ERROR(index_.restore(image));
  // Only entries of a sealed region, of the generation it holds, are kept (any other region is
  // reused as free, and its entries must not survive into that).
  index_.remove_where(
      [&](const BlockId&, const Location& loc) {
        const std::uint32_t region = region_of(loc.page);
        return region >= regions.size() || regions[region].state != RegionState::kSealed ||
               regions[region].seq != loc.seq || !entry_fits(loc.page % devices_->pages_per_region(), loc.size);
      },
      [](const BlockId&, const Location&) {});
  usage_.clear();
  index_.visit([&](const BlockId& id, const Location& loc) { usage_.add(id.ns, loc.size); });
  MutexLock lock(mu_);
  regions_ = std::move(regions);
  next_seq_ = next_seq;
  access_clock_.store(clock);
  return Status::Ok();
}

Status NvmeTier::read_summary(std::uint32_t region, std::uint64_t seq, std::uint32_t summary_pages,
                              std::vector<SummaryEntry>* entries) {
  std::uint64_t max_pages = region_size_ / kPageSize;
  if (summary_pages == 0 || summary_pages > max_pages) return Status::Corruption("bad summary size");
  AlignedBuffer buf(std::uint64_t{summary_pages} * kPageSize);
  IoRequest q = devices_->io(region, region_size_ - buf.size(), {buf.data(), buf.size()});
  KVTIER_RETURN_IF_ERROR(rings_.run({&q, 1}, 1));
  return parse_summary(region, seq, summary_pages, buf.data(), entries);
}

// Checks a summary read into `buf` (its summary_pages pages, ending with the trailer) and copies
// out its entries.
Status NvmeTier::parse_summary(std::uint32_t region, std::uint64_t seq, std::uint32_t summary_pages,
                               const std::byte* buf, std::vector<SummaryEntry>* entries) const {
  const std::uint64_t size = std::uint64_t{summary_pages} * kPageSize;
  SummaryTrailer t;
  if (!parse_trailer(buf + size, devices_->format_id(), &t) || t.region_seq != seq ||
      t.summary_pages != summary_pages ||
      summary_pages_for(t.entry_count, summary_entry_bytes(t.format_version)) != summary_pages) {
    return Status::Corruption("region " + std::to_string(region) + " summary does not verify");
  }
  const std::size_t entry_bytes = summary_entry_bytes(t.format_version);
  const std::size_t bytes = std::size_t{t.entry_count} * entry_bytes;
  if (block_checksum({buf, bytes}) != t.entries_checksum) {
    return Status::Corruption("region " + std::to_string(region) + " summary entries do not verify");
  }
  entries->assign(t.entry_count, SummaryEntry{});
  if (entry_bytes == sizeof(SummaryEntry)) {
    if (bytes) std::memcpy(entries->data(), buf, bytes);
  } else {
    // Format 1: the fields up to page_in_region are format 2's. Its entries were not marked, so
    // each is taken to hide an older entry of its id (as decode_entry_header takes its headers).
    for (std::size_t i = 0; i < entries->size(); ++i) {
      std::memcpy(&(*entries)[i], buf + i * entry_bytes, offsetof(SummaryEntry, flags));
      (*entries)[i].flags = kShadowsOlder;
    }
  }
  // Checksums prove the summary is what its writer wrote, not that the writer was right: a
  // record must lie inside the region, before the summary itself.
  for (const SummaryEntry& e : *entries) {
    if (!record_fits(e, size)) {
      entries->clear();
      return Status::Corruption("region " + std::to_string(region) + " summary lists an entry outside the region");
    }
  }
  return Status::Ok();
}

// Memory for the scan is bounded whatever the device: regions are taken kScanWindow at a time
// (their first and last pages, 8 KiB each), and the summaries of a window's sealed regions are
// read at most kSummaryBatchBytes at a time. (One buffer for every region would be 8 KiB per
// region: 32 GiB for 4 TB of 1 MiB regions.)
namespace {
constexpr std::uint32_t kScanWindow = 2048;
constexpr std::uint64_t kSummaryBatchBytes = 64 * kMiB;
}  // namespace

Status NvmeTier::scan_regions() {
  const std::uint32_t n = devices_->region_count();
  AlignedBuffer ends(std::uint64_t{2} * std::min(n, kScanWindow) * kPageSize);
  if (ends.empty()) return Status::NoSpace("nvme recovery: cannot allocate its scan buffer");
  // A region neither sealed nor free (damaged, or being filled at the crash) is read in full into
  // a write buffer; none is in use before the flusher starts.
  std::byte* scratch = buffers_[0].data();
  std::vector<ScannedRegion> found;
  for (std::uint32_t lo = 0; lo < n; lo += kScanWindow) {
    const std::uint32_t hi = std::min(n, lo + kScanWindow);
    KVTIER_RETURN_IF_ERROR(read_region_ends(lo, hi, ends.data()));
    std::vector<bool> done(hi - lo);
    KVTIER_RETURN_IF_ERROR(read_sealed_summaries(lo, hi, ends.data(), done, found));
    for (std::uint32_t i = lo; i < hi; ++i) {
      if (done[i - lo]) continue;
      const std::byte* end_pages = ends.data() + 2 * std::uint64_t{i - lo} * kPageSize;
      KVTIER_RETURN_IF_ERROR(scan_unsealed_region(i, end_pages, scratch, found));
    }
  }
  index_scanned_regions(found);
  return devices_->sync();
}

// Phase 1: the first and last pages of regions [lo, hi), two per region from `ends` on.
Status NvmeTier::read_region_ends(std::uint32_t lo, std::uint32_t hi, std::byte* ends) {
  std::vector<IoRequest> reqs(2 * std::size_t{hi - lo});
  for (std::uint32_t i = lo; i < hi; ++i) {
    std::byte* pages = ends + 2 * std::uint64_t{i - lo} * kPageSize;
    reqs[2 * (i - lo)] = devices_->io(i, 0, {pages, kPageSize});
    reqs[2 * (i - lo) + 1] = devices_->io(i, region_size_ - kPageSize, {pages + kPageSize, kPageSize});
  }
  return rings_.run(reqs, std::max<unsigned>(config_.io_depth, 16));
}

// Phase 2: the regions of [lo, hi) whose first entry and summary trailer agree are sealed; their
// summaries are read in batches, and each that parses is found and marked done.
Status NvmeTier::read_sealed_summaries(std::uint32_t lo, std::uint32_t hi, const std::byte* ends,
                                       std::vector<bool>& done, std::vector<ScannedRegion>& found) {
  const std::uint64_t format_id = devices_->format_id();
  std::vector<std::uint32_t> sealed;
  std::vector<SummaryTrailer> trailers;
  for (std::uint32_t i = lo; i < hi; ++i) {
    const std::byte* pages = ends + 2 * std::uint64_t{i - lo} * kPageSize;
    EntryHeader h0;
    SummaryTrailer t;
    if (parse_header(pages, format_id, &h0) && parse_trailer(pages + 2 * kPageSize, format_id, &t) &&
        t.region_seq == h0.region_seq && t.summary_pages > 0 && t.summary_pages <= region_size_ / kPageSize) {
      sealed.push_back(i);
      trailers.push_back(t);
    }
  }
  for (std::size_t first = 0; first < sealed.size();) {
    std::size_t last = first;
    std::uint64_t pages = 0;
    while (last < sealed.size() &&
           (last == first || (pages + trailers[last].summary_pages) * kPageSize <= kSummaryBatchBytes)) {
      pages += trailers[last].summary_pages;
      ++last;
    }
    AlignedBuffer summaries(pages * kPageSize);
    if (summaries.empty()) return Status::NoSpace("nvme recovery: cannot allocate a summary buffer");
    std::vector<IoRequest> sreqs(last - first);
    std::uint64_t at = 0;
    for (std::size_t k = first; k < last; ++k) {
      std::uint64_t bytes = std::uint64_t{trailers[k].summary_pages} * kPageSize;
      sreqs[k - first] = devices_->io(sealed[k], region_size_ - bytes, {summaries.data() + at, bytes});
      at += bytes;
    }
    {
      Result<RingPool::Lease> ring = rings_.acquire();
      if (!ring.ok()) return ring.status();
      (void)(*ring)->run(sreqs, std::max<unsigned>(config_.io_depth, 16));
    }
    at = 0;
    for (std::size_t k = first; k < last; ++k) {
      const SummaryTrailer& t = trailers[k];
      ScannedRegion f{sealed[k], t.region_seq, {}, t.summary_pages};
      if (sreqs[k - first].result >= 0 &&
          parse_summary(sealed[k], t.region_seq, t.summary_pages, summaries.data() + at, &f.entries).ok()) {
        done[sealed[k] - lo] = true;
        found.push_back(std::move(f));
      }
      at += std::uint64_t{t.summary_pages} * kPageSize;
    }
    first = last;
  }
  return Status::Ok();
}

// Phase 3, for a region phase 2 did not find: free, sealed but with a summary that only a single
// read finds, or being filled at the crash or damaged, then read whole, its entries walked and
// the region sealed with a new summary.
Status NvmeTier::scan_unsealed_region(std::uint32_t i, const std::byte* end_pages,
                                      std::byte* scratch, std::vector<ScannedRegion>& found) {
  const std::uint64_t format_id = devices_->format_id();
  EntryHeader h0;
  SummaryTrailer t;
  const bool head_ok = parse_header(end_pages, format_id, &h0);
  const bool trailer_ok = parse_trailer(end_pages + 2 * kPageSize, format_id, &t);
  ScannedRegion f{i, 0, {}, 0};
  // A summary vouches for a sealed region when the first entry is of its generation. (With the
  // first page damaged, the region is read in full below to see whether a newer generation
  // started there.)
  if (trailer_ok && head_ok && t.region_seq == h0.region_seq &&
      read_summary(i, t.region_seq, t.summary_pages, &f.entries).ok()) {
    f.seq = t.region_seq;
    f.summary_pages = t.summary_pages;
    found.push_back(std::move(f));
    return Status::Ok();
  }
  if (!head_ok && !trailer_ok && all_zero_page(end_pages)) return Status::Ok();  // never written: free
  // Being filled at the crash, or damaged: read it all and walk its entries.
  ++recovery_.regions_scanned;
  IoRequest q = devices_->io(i, 0, {scratch, region_size_});
  KVTIER_RETURN_IF_ERROR(rings_.run({&q, 1}, 1));
  f.seq = head_ok ? h0.region_seq : newest_generation(scratch, region_size_, format_id);
  if (!head_ok && trailer_ok && f.seq <= t.region_seq &&
      read_summary(i, t.region_seq, t.summary_pages, &f.entries).ok()) {
    // Only the first page is damaged: the summary still describes the newest generation here.
    f.seq = t.region_seq;
    f.summary_pages = t.summary_pages;
    found.push_back(std::move(f));
    return Status::Ok();
  }
  if (f.seq == 0) return Status::Ok();
  walk_region(scratch, f.seq, &f.entries);
  // Seal it so it can be reclaimed like any other: its summary goes after the last entry.
  write_summary_into(scratch, f.entries, f.seq, &f.summary_pages);
  const std::uint64_t summary_from = region_size_ - std::uint64_t{f.summary_pages} * kPageSize;
  if (config_.erase_removed) {
    // Written whole, as the writer seals a region: what is not a record of this generation (what
    // the previous one left, torn entries) becomes zeros.
    zero_all_but_records(scratch, f.entries, summary_from);
    KVTIER_RETURN_IF_ERROR(write_region_range(i, scratch, 0, region_size_));
  } else {
    KVTIER_RETURN_IF_ERROR(write_region_range(i, scratch, summary_from, region_size_));
  }
  found.push_back(std::move(f));
  return Status::Ok();
}

// Phase 4: the region table and the index from what was found, in the order the records were
// written (generation, then page), so a block put again later ends up pointing at its newest copy
// and a tombstone erases the entries before it.
void NvmeTier::index_scanned_regions(std::vector<ScannedRegion>& found) {
  std::sort(found.begin(), found.end(),
            [](const ScannedRegion& a, const ScannedRegion& b) { return a.seq < b.seq; });
  std::uint64_t max_seq = 0;
  MutexLock lock(mu_);  // uncontended: start() runs the scan before the tier's threads
  for (const ScannedRegion& f : found) {
    Region& r = regions_[f.region];
    r.state = RegionState::kSealed;
    r.seq = f.seq;
    r.summary_pages = f.summary_pages;
    r.entry_count = static_cast<std::uint32_t>(f.entries.size());
    r.last_access = f.seq;
    r.fill = r.flushed = region_size_;
    r.shadows_older = false;
    max_seq = std::max(max_seq, f.seq);
    for (const SummaryEntry& e : f.entries) {
      r.shadows_older = r.shadows_older || (e.flags & (kTombstone | kShadowsOlder)) != 0;
      if (e.flags & kRegionStart) continue;
      BlockId id = block_id_of(e);
      if (e.flags & kTombstone) {
        if (std::optional<Location> gone = index_.remove(id)) usage_.sub(id.ns, gone->size);
        continue;
      }
      std::uint64_t page = page_of(f.region, std::uint64_t{e.page_in_region} * kPageSize);
      std::optional<Location> old = index_.insert(id, Location{page, e.value_size, 0, f.seq});
      if (old) usage_.sub(id.ns, old->size);
      usage_.add(id.ns, e.value_size);
    }
  }
  next_seq_ = max_seq + 1;
  access_clock_.store(max_seq + 1);
}

void NvmeTier::zero_all_but_records(std::byte* region, const std::vector<SummaryEntry>& records,
                                    std::uint64_t end) const {
  std::uint64_t at = 0;  // records are in page order
  for (const SummaryEntry& e : records) {
    const std::uint64_t begin = std::uint64_t{e.page_in_region} * kPageSize;
    if (begin > at) std::memset(region + at, 0, begin - at);
    at = std::max(at, begin + entry_footprint(e.value_size));
  }
  if (end > at) std::memset(region + at, 0, end - at);
}

// Collects the entries of generation `seq` in a region image. A page that does not hold a valid
// header of that generation is skipped, so one damaged entry does not hide the entries after it;
// an entry whose value does not verify (a torn write) is dropped and counted.
void NvmeTier::walk_region(const std::byte* region, std::uint64_t seq, std::vector<SummaryEntry>* entries) {
  const std::uint64_t format_id = devices_->format_id();
  std::uint64_t off = 0;
  while (off + kPageSize <= region_size_) {
    EntryHeader h;
    std::uint64_t footprint = 0;
    if (parse_header(region + off, format_id, &h) && h.region_seq == seq) footprint = entry_footprint(h.value_size);
    if (footprint == 0 || off + footprint > region_size_) {
      off += kPageSize;
      continue;
    }
    // A record without a value is whole when its header verifies.
    if (h.value_size == 0 || block_checksum({region + off + kPageSize, h.value_size}) == h.value_checksum) {
      BlockId id{h.ns, {}};
      std::memcpy(id.key.bytes.data(), h.key, 16);
      entries->push_back(summary_of(id, h.value_size, static_cast<std::uint32_t>(off / kPageSize),
                                    h.flags, h.chain_position));
    } else {
      ++recovery_.torn_entries;
    }
    off += footprint;
  }
  // The summary written next must fit after the last entry (it always did when the writer was
  // alive; damage could have shifted what the walk found).
  auto end_of_last = [&] {
    const SummaryEntry& e = entries->back();
    return std::uint64_t{e.page_in_region} * kPageSize + entry_footprint(e.value_size);
  };
  while (!entries->empty() && end_of_last() + summary_pages_for(entries->size()) * kPageSize > region_size_) {
    entries->pop_back();
  }
}

}  // namespace kvtier::nvme
