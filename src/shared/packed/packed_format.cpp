// Encoding and checking the packed shared tier's records and indexes (packed_format.h).
#include "shared/packed/packed_format.h"

#include <charconv>
#include <cstring>

#include "integrity/checksum.h"

namespace kvtier::shared::packed {
namespace {

std::string hex16(std::uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = kHex[v & 0xF];
  return out;
}

std::optional<std::uint64_t> parse_hex16(std::string_view s) {
  if (s.size() != 16) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  for (char c : s) {
    if (c >= 'A' && c <= 'F') return std::nullopt;  // one spelling per name
  }
  return v;
}

std::uint64_t header_checksum(const PackedRecordHeader& h) {
  return block_checksum(
      {reinterpret_cast<const std::byte*>(&h), offsetof(PackedRecordHeader, header_checksum)});
}

}  // namespace

std::string segment_name(std::uint64_t writer, std::uint64_t segment) {
  return std::string(kSegmentPrefix) + hex16(writer) + "/" + hex16(segment) + ".seg";
}

std::string index_name(std::uint64_t published_ms, std::uint64_t writer, std::uint64_t segment) {
  return std::string(kIndexPrefix) + hex16(published_ms) + "-" + hex16(writer) + "-" +
         hex16(segment) + ".idx";
}

std::string index_name_floor(std::uint64_t published_ms) {
  return std::string(kIndexPrefix) + hex16(published_ms);
}

std::optional<IndexNameParts> parse_index_name(std::string_view name) {
  // idx/ + 16 + '-' + 16 + '-' + 16 + .idx
  if (!name.starts_with(kIndexPrefix)) return std::nullopt;
  name.remove_prefix(kIndexPrefix.size());
  if (name.size() != 16 * 3 + 2 + 4 || name[16] != '-' || name[33] != '-' ||
      name.substr(50) != ".idx") {
    return std::nullopt;
  }
  auto published = parse_hex16(name.substr(0, 16));
  auto writer = parse_hex16(name.substr(17, 16));
  auto segment = parse_hex16(name.substr(34, 16));
  if (!published || !writer || !segment) return std::nullopt;
  return IndexNameParts{*published, *writer, *segment};
}

PackedRecordHeader make_record_header(const BlockId& id, std::span<const std::byte> value,
                                      std::uint64_t stamp) {
  PackedRecordHeader h{};
  h.magic = kRecordMagic;
  h.format_version = kPackedFormatVersion;
  h.ns = id.ns;
  std::memcpy(h.key, id.key.bytes.data(), sizeof(h.key));
  h.value_bytes = value.size();
  h.value_checksum = block_checksum(value);
  h.stamp = stamp;
  h.header_checksum = header_checksum(h);
  return h;
}

const char* record_mismatch(std::span<const std::byte> record, const PackedIndexEntry& entry) {
  if (record.size() < sizeof(PackedRecordHeader)) return "record shorter than its header";
  PackedRecordHeader h;
  std::memcpy(&h, record.data(), sizeof(h));
  if (h.magic != kRecordMagic) return "bad record magic";
  if (h.format_version != kPackedFormatVersion) return "unknown record format version";
  if (h.header_checksum != header_checksum(h)) return "record header checksum mismatch";
  if (h.ns != entry.ns) return "namespace mismatch";
  if (std::memcmp(h.key, entry.key, sizeof(h.key)) != 0) return "key mismatch";
  if (h.stamp != entry.stamp) return "stamp mismatch";
  if (record.size() - sizeof(h) != h.value_bytes) return "record length does not match its header";
  if (h.value_checksum != entry.value_checksum) return "checksum differs from the index";
  if (block_checksum(record.subspan(sizeof(h))) != h.value_checksum) return "value checksum mismatch";
  return nullptr;
}

std::string encode_index(const SegmentIndex& index) {
  PackedIndexHeader h{};
  h.magic = kIndexMagic;
  h.format_version = kPackedFormatVersion;
  h.entry_bytes = sizeof(PackedIndexEntry);
  h.entry_count = static_cast<std::uint32_t>(index.entries.size());
  h.writer = index.writer;
  h.segment = index.segment;
  h.segment_bytes = index.segment_bytes;
  h.published_ms = index.published_ms;
  std::string out(sizeof(h) + index.entries.size() * sizeof(PackedIndexEntry) + 8, '\0');
  std::memcpy(out.data(), &h, sizeof(h));
  if (!index.entries.empty()) {
    std::memcpy(out.data() + sizeof(h), index.entries.data(),
                index.entries.size() * sizeof(PackedIndexEntry));
  }
  const std::uint64_t sum =
      block_checksum(std::as_bytes(std::span(out.data(), out.size() - 8)));
  std::memcpy(out.data() + out.size() - 8, &sum, 8);
  return out;
}

Result<SegmentIndex> decode_index(std::string_view bytes) {
  if (bytes.size() < sizeof(PackedIndexHeader) + 8) return Status::Corruption("index too short");
  PackedIndexHeader h;
  std::memcpy(&h, bytes.data(), sizeof(h));
  if (h.magic != kIndexMagic) return Status::Corruption("bad index magic");
  if (h.format_version != kPackedFormatVersion) {
    return Status::Corruption("index format version " + std::to_string(h.format_version) +
                              " (this kvtier reads " + std::to_string(kPackedFormatVersion) + ")");
  }
  if (h.entry_bytes != sizeof(PackedIndexEntry)) return Status::Corruption("bad index entry size");
  if (h.segment_bytes > kMaxSegmentBytes) return Status::Corruption("segment size out of range");
  // Compared without overflow: entry_count comes from the store and may be anything.
  const std::size_t body = bytes.size() - sizeof(h) - 8;
  if (body % sizeof(PackedIndexEntry) != 0 || body / sizeof(PackedIndexEntry) != h.entry_count) {
    return Status::Corruption("index length does not match its entry count");
  }
  std::uint64_t sum;
  std::memcpy(&sum, bytes.data() + bytes.size() - 8, 8);
  if (sum != block_checksum(std::as_bytes(std::span(bytes.data(), bytes.size() - 8)))) {
    return Status::Corruption("index checksum mismatch");
  }
  SegmentIndex index{h.writer, h.segment, h.segment_bytes, h.published_ms, {}};
  index.entries.resize(h.entry_count);
  if (h.entry_count != 0) std::memcpy(index.entries.data(), bytes.data() + sizeof(h), body);
  for (const PackedIndexEntry& e : index.entries) {
    const bool removed = (e.flags & kEntryRemoved) != 0;
    if ((e.flags & ~kEntryRemoved) != 0) return Status::Corruption("unknown index entry flags");
    if (!removed && (e.record_bytes < sizeof(PackedRecordHeader) || e.record_bytes > kMaxRecordBytes ||
                     e.offset > h.segment_bytes || e.record_bytes > h.segment_bytes - e.offset)) {
      return Status::Corruption("an index entry points outside its segment");
    }
  }
  return index;
}

BlockId entry_id(const PackedIndexEntry& e) {
  BlockId id;
  id.ns = e.ns;
  std::memcpy(id.key.bytes.data(), e.key, sizeof(e.key));
  return id;
}

}  // namespace kvtier::shared::packed
