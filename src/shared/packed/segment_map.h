// SegmentMap: what one node knows of the packed shared tier, built from the indexes it has read:
// for each block the winning entry (the greatest (stamp, writer) any index gave it: a put's
// location, or a tombstone), and for each segment its size and how many of its bytes are still
// the winning copy of a block (its live bytes; the rest is garbage for compaction).
//
// Invariants:
// - A block's entry never goes back to a smaller (stamp, writer): applying indexes in any order,
//   any number of times, leaves the same map (a tombstone hides older puts wherever they are).
//   The order is packed_format.h's: (stamp, origin), then the later-published index.
// - live_bytes of a segment = the record_bytes of the winning puts that point into it.
// - At most max_entries blocks are held; past it, entries for new blocks are dropped (counted):
//   the memory is bounded whatever the store holds.
//
// Thread-safety: every method may be called concurrently (readers share a lock; apply and forget
// take it alone).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "shared/packed/packed_format.h"
#include "sync/mutex.h"

namespace kvtier::shared::packed {

struct SegmentKey {
  std::uint64_t writer = 0;
  std::uint64_t segment = 0;
  friend bool operator==(const SegmentKey&, const SegmentKey&) = default;
};

struct SegmentKeyHash {
  std::size_t operator()(const SegmentKey& k) const {
    return static_cast<std::size_t>(k.writer * 0x9E3779B97F4A7C15ull ^ k.segment);
  }
};

struct SegmentStats {
  SegmentKey key;
  std::string index_name;         // the index object that described it
  std::uint64_t bytes = 0;        // the segment object's size
  std::uint64_t live_bytes = 0;
  std::uint64_t newest_stamp = 0;
  std::uint64_t entries = 0;      // entries its index had (puts and tombstones)
  std::uint64_t published_ms = 0; // from its index
  bool complete = true;           // false: some of its entries were dropped for room
};

// A block's winning entry, with the segment it is in.
struct Located {
  PackedIndexEntry entry;
  SegmentKey segment;
};

class SegmentMap {
 public:
  explicit SegmentMap(std::size_t max_entries) : max_entries_(max_entries) {}

  // Applies every entry of `index` (named `index_name`). Returns how many entries won.
  std::size_t apply(const SegmentIndex& index, const std::string& index_name);
  // The block's winning entry, if any (a tombstone too: the caller decides).
  std::optional<Located> find(const BlockId& id) const;
  // Forgets a segment that is gone (deleted, or its object missing): its puts lose their place
  // (the blocks are absent until another index names them); tombstones it held stay, so nothing
  // older comes back.
  void forget_segment(const SegmentKey& segment);
  // Drops every entry (puts and tombstones) with a stamp below `stamp`: blocks past the tier's
  // maximum age are absent whatever the indexes say, and so are puts a dropped tombstone hid.
  // Entries below `stamp` in indexes applied later are ignored too. Returns how many entries went.
  std::size_t drop_older_than(std::uint64_t stamp);
  // Whether the map has read this segment's index.
  bool knows(const SegmentKey& segment) const;

  std::vector<SegmentStats> segments() const;
  // The winning entries in `segment` (puts and tombstones).
  std::vector<PackedIndexEntry> entries_in(const SegmentKey& segment) const;

  std::size_t size() const;
  std::uint64_t dropped_for_room() const;

 private:
  struct Slot {
    PackedIndexEntry entry;
    std::uint32_t segment;  // index into segments_ (kNoSegment: a tombstone whose segment is gone)
  };
  static constexpr std::uint32_t kNoSegment = 0xFFFFFFFFu;

  bool wins(const PackedIndexEntry& e, std::uint64_t published_ms, const Slot& old) const
      KVTIER_REQUIRES_SHARED(mu_);
  std::uint32_t segment_slot(const SegmentIndex& index, const std::string& index_name)
      KVTIER_REQUIRES(mu_);

  const std::size_t max_entries_;
  mutable SharedMutex mu_;
  std::unordered_map<BlockId, Slot, KeyHash> blocks_ KVTIER_GUARDED_BY(mu_);
  std::vector<SegmentStats> segments_ KVTIER_GUARDED_BY(mu_);  // slots of forgotten ones reused
  std::vector<std::uint32_t> free_slots_ KVTIER_GUARDED_BY(mu_);
  std::unordered_map<SegmentKey, std::uint32_t, SegmentKeyHash> segment_slots_ KVTIER_GUARDED_BY(mu_);
  std::uint64_t dropped_for_room_ KVTIER_GUARDED_BY(mu_) = 0;
  std::uint64_t min_stamp_ KVTIER_GUARDED_BY(mu_) = 0;  // entries below it are not applied
};

}  // namespace kvtier::shared::packed
