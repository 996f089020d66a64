#include "nvme/region_reclaim_policy.h"

namespace kvtier::nvme {

std::optional<std::uint32_t> RegionReclaimPolicy::pick_victim(
    std::span<const Candidate> sealed) const {
  const Candidate* best = nullptr;
  for (const Candidate& c : sealed) {
    const bool earlier = best == nullptr ||
                         (order_ == ReclaimPolicy::kLru ? c.last_access < best->last_access
                                                        : c.seq < best->seq);
    if (earlier) best = &c;
  }
  if (best == nullptr) return std::nullopt;
  return best->region;
}

bool RegionReclaimPolicy::Reinsertion::keep(std::uint32_t hits, std::uint64_t footprint) {
  if (min_hits_ == 0 || hits < min_hits_ || footprint > budget_) return false;
  budget_ -= footprint;
  return true;
}

}  // namespace kvtier::nvme
