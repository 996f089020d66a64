#include "nvme/region_reclaim_policy.h"

namespace kvtier::nvme {

std::optional<std::uint32_t> RegionReclaimPolicy::pick_victim(
    std::span<const Candidate> sealed) const {
  const Candidate* oldest = nullptr;
  for (const Candidate& c : sealed) {
    if (oldest == nullptr || c.seq < oldest->seq) oldest = &c;
  }
  if (oldest == nullptr || order_ == ReclaimPolicy::kFifo) {
    return oldest ? std::optional<std::uint32_t>(oldest->region) : std::nullopt;
  }
  const Candidate* best = oldest;
  for (const Candidate& c : sealed) {
    if (!c.shadows_older && c.last_access < best->last_access) best = &c;
  }
  return best->region;
}

bool RegionReclaimPolicy::Reinsertion::keep(std::uint32_t hits, std::uint64_t footprint) {
  if (min_hits_ == 0 || hits < min_hits_ || footprint > budget_) return false;
  budget_ -= footprint;
  return true;
}

}  // namespace kvtier::nvme
