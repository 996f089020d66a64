// SegmentMap (see segment_map.h).
#include "shared/packed/segment_map.h"

namespace kvtier::shared::packed {

bool SegmentMap::wins(const PackedIndexEntry& e, std::uint64_t published_ms,
                      const Slot& old) const {
  if (e.stamp != old.entry.stamp) return e.stamp > old.entry.stamp;
  if (e.origin != old.entry.origin) return e.origin > old.entry.origin;
  // One write in two places: the later publication (a compaction's copy) holds it.
  return old.segment == kNoSegment || published_ms >= segments_[old.segment].published_ms;
}

std::uint32_t SegmentMap::segment_slot(const SegmentIndex& index, const std::string& index_name) {
  const SegmentKey key{index.writer, index.segment};
  if (auto it = segment_slots_.find(key); it != segment_slots_.end()) return it->second;
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(segments_.size());
    segments_.emplace_back();
  }
  segments_[slot] = SegmentStats{key,   index_name, index.segment_bytes, 0, 0, index.entries.size(),
                                 index.published_ms, true};
  segment_slots_.emplace(key, slot);
  return slot;
}

std::size_t SegmentMap::apply(const SegmentIndex& index, const std::string& index_name) {
  WriterLock lock(mu_);
  const std::uint32_t seg = segment_slot(index, index_name);
  std::size_t won = 0;
  for (const PackedIndexEntry& e : index.entries) {
    SegmentStats& stats = segments_[seg];
    stats.newest_stamp = std::max(stats.newest_stamp, e.stamp);
    if (e.stamp < min_stamp_) continue;
    const BlockId id = entry_id(e);
    auto it = blocks_.find(id);
    if (it == blocks_.end()) {
      if (blocks_.size() >= max_entries_) {
        ++dropped_for_room_;
        stats.complete = false;  // its live bytes are now unknown: never compacted or deleted
        continue;
      }
      it = blocks_.emplace(id, Slot{e, seg}).first;
    } else {
      Slot& old = it->second;
      if (!wins(e, index.published_ms, old)) continue;
      if ((old.entry.flags & kEntryRemoved) == 0 && old.segment != kNoSegment) {
        segments_[old.segment].live_bytes -= old.entry.record_bytes;
      }
      old = Slot{e, seg};
    }
    if ((e.flags & kEntryRemoved) == 0) segments_[seg].live_bytes += e.record_bytes;
    ++won;
  }
  return won;
}

std::optional<Located> SegmentMap::find(const BlockId& id) const {
  ReaderLock lock(mu_);
  auto it = blocks_.find(id);
  if (it == blocks_.end()) return std::nullopt;
  const Slot& s = it->second;
  const SegmentKey seg = s.segment == kNoSegment ? SegmentKey{} : segments_[s.segment].key;
  return Located{s.entry, seg};
}

void SegmentMap::forget_segment(const SegmentKey& segment) {
  WriterLock lock(mu_);
  auto it = segment_slots_.find(segment);
  if (it == segment_slots_.end()) return;
  const std::uint32_t slot = it->second;
  for (auto b = blocks_.begin(); b != blocks_.end();) {
    Slot& s = b->second;
    if (s.segment != slot) {
      ++b;
    } else if ((s.entry.flags & kEntryRemoved) != 0) {
      s.segment = kNoSegment;  // the tombstone stays: nothing older may come back
      ++b;
    } else {
      b = blocks_.erase(b);
    }
  }
  segment_slots_.erase(it);
  segments_[slot] = SegmentStats{};
  free_slots_.push_back(slot);
}

std::size_t SegmentMap::drop_older_than(std::uint64_t stamp) {
  WriterLock lock(mu_);
  min_stamp_ = std::max(min_stamp_, stamp);
  std::size_t dropped = 0;
  for (auto b = blocks_.begin(); b != blocks_.end();) {
    const Slot& s = b->second;
    if (s.entry.stamp >= stamp) {
      ++b;
      continue;
    }
    if ((s.entry.flags & kEntryRemoved) == 0 && s.segment != kNoSegment) {
      segments_[s.segment].live_bytes -= s.entry.record_bytes;
    }
    b = blocks_.erase(b);
    ++dropped;
  }
  return dropped;
}

bool SegmentMap::knows(const SegmentKey& segment) const {
  ReaderLock lock(mu_);
  return segment_slots_.count(segment) != 0;
}

std::vector<SegmentStats> SegmentMap::segments() const {
  ReaderLock lock(mu_);
  std::vector<SegmentStats> out;
  for (const auto& [key, slot] : segment_slots_) out.push_back(segments_[slot]);
  return out;
}

std::vector<PackedIndexEntry> SegmentMap::entries_in(const SegmentKey& segment) const {
  ReaderLock lock(mu_);
  std::vector<PackedIndexEntry> out;
  auto it = segment_slots_.find(segment);
  if (it == segment_slots_.end()) return out;
  for (const auto& [id, s] : blocks_) {
    if (s.segment == it->second) out.push_back(s.entry);
  }
  return out;
}

std::size_t SegmentMap::size() const {
  ReaderLock lock(mu_);
  return blocks_.size();
}

std::uint64_t SegmentMap::dropped_for_room() const {
  ReaderLock lock(mu_);
  return dropped_for_room_;
}

}  // namespace kvtier::shared::packed
