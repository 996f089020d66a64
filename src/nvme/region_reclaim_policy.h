// RegionReclaimPolicy: when the NVMe tier needs a region and none is free, which sealed region is
// reclaimed, and which of its entries are written again (reinserted) instead of dropped. The
// tier's reclaim policy in the sense of CacheLib Navy's (FIFO or LRU over regions, hits-based
// reinsertion), kept apart from the tier's region table, I/O and index so it can be read, tested
// and replaced alone.
//
// Thread-safety: const after construction; a Reinsertion belongs to one reclaim.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "kvtier/config.h"

namespace kvtier::nvme {

class RegionReclaimPolicy {
 public:
  // Reads config.reclaim, config.reinsert_min_hits and config.region_size.
  explicit RegionReclaimPolicy(const NvmeConfig& config)
      : order_(config.reclaim),
        reinsert_min_hits_(config.reinsert_min_hits),
        region_size_(config.region_size) {}

  // A sealed region the tier could reclaim.
  struct Candidate {
    std::uint32_t region = 0;
    std::uint64_t seq = 0;          // its generation: lower was sealed earlier
    std::uint64_t last_access = 0;  // a tick of the tier's access clock at its last read
    // It holds records that hide older records of their ids (tombstones, replacing entries).
    bool shadows_older = false;
  };
  // FIFO: the oldest generation; LRU: the least recently read among the oldest and the regions
  // that hide nothing. nullopt when there is none.
  //
  // Why LRU passes over a region that hides older records: once it is reused, recovery after a
  // crash would find those older records (a removed block, a replaced version) in the regions
  // still holding them, and serve them. The oldest region is always safe: nothing older is left.
  // A workload that removes or replaces blocks therefore gets LRU among its other regions and
  // FIFO among these (docs/NVME_FORMAT.md, "Removals and replacements").
  std::optional<std::uint32_t> pick_victim(std::span<const Candidate> sealed) const;

  // The entries of one reclaimed region to write again, decided one at a time in the region's
  // order: each read at least reinsert_min_hits times since written, while they fill at most
  // half of the new region (the rest stays for new puts). reinsert_min_hits 0: none.
  class Reinsertion {
   public:
    // Whether to reinsert an entry with `hits` reads and `footprint` bytes on the device.
    bool keep(std::uint32_t hits, std::uint64_t footprint);

   private:
    friend class RegionReclaimPolicy;
    Reinsertion(std::uint32_t min_hits, std::uint64_t budget) : min_hits_(min_hits), budget_(budget) {}
    std::uint32_t min_hits_;
    std::uint64_t budget_;  // bytes still to fill
  };
  Reinsertion reinsertion() const { return Reinsertion(reinsert_min_hits_, region_size_ / 2); }

 private:
  ReclaimPolicy order_;
  std::uint32_t reinsert_min_hits_;
  std::uint64_t region_size_;
};

}  // namespace kvtier::nvme
