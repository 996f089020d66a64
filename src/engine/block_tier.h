// BlockTier: what every local tier answers, in one shape, so the Store reads, probes, removes and
// accounts through a list of tiers in order (DRAM, then NVMe) instead of knowing each one. A tier
// knows no other tier: what goes down or up between them (demotion of DRAM's victims, promotion
// of hits, write-back at flush) is the Store's policy, written against each tier's own write
// operations (DRAM's reservations and departures, NVMe's invalidation), which is why put is not
// here. The shared tier is reached through the same questions but answers them with a deadline
// and its own outbox (src/shared/shared_tier.h).
//
// Thread-safety: every method of every tier may be called concurrently from any thread.
#pragma once

#include <cstdint>
#include <span>

#include "kvtier/key.h"
#include "kvtier/status.h"
#include "kvtier/types.h"

namespace kvtier::engine {

// Who reads: a client's read counts a hit or a miss and tells the tier's eviction policy the block
// was used; the store reading a block for itself (to upload it to the shared tier) does neither, so
// an upload cannot make a block look hot. Bytes read and integrity failures count either way.
enum class ReadFor : std::uint8_t { kClient, kStoreInternal };

class BlockTier {
 public:
  virtual ~BlockTier() = default;

  // The tier a hit is attributed to (GetResult::tier, PrefixMatch).
  virtual Tier kind() const = 0;

  // out[i] answers items[i]: OK with the value copied into items[i].dst and tier = kind();
  // NotFound; BufferTooSmall with the value's size; or an error. A block that fails verification
  // is a counted NotFound, never wrong bytes. REQUIRES: out.size() >= items.size().
  virtual void get_many(NamespaceId ns, std::span<const GetItem> items, std::span<GetResult> out,
                        ReadFor why) = 0;
  // Presence, counting nothing.
  virtual bool contains(const BlockId& id) = 0;
  // found[i] = 1 when (ns, keys[i]) is present, else 0; counts nothing.
  virtual void probe(NamespaceId ns, std::span<const Key> keys, std::span<std::uint8_t> found) = 0;
  // NotFound when the tier did not hold the block.
  virtual Status remove(const BlockId& id) = 0;
  virtual NamespaceUsage namespace_usage(NamespaceId ns) = 0;
  // The tier's counters, each prefixed with its name ("dram_", "nvme_").
  virtual void visit_counters(const CounterVisitor& visitor) = 0;
};

}  // namespace kvtier::engine
