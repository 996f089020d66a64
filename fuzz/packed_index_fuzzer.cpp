// libFuzzer target for the packed shared tier's indexes and records
// (src/shared/packed/packed_format.cpp): objects in a bucket anyone with write access may change.
// Input: a byte flip (3 bytes), then bytes.
// Promises: (1) decode_index of the rest is an error, or an index whose every put entry lies
// inside its segment with sizes under the format's bounds, and which encodes back to exactly the
// input; (2) record_mismatch of the rest, taken as a record for a fixed entry, never accepts a
// record that is not exactly what make_record_header and the value make; (3) an index as
// written decodes, and with one byte flipped never does.
#include <cstring>
#include <vector>

#include "fuzz_check.h"
#include "shared/packed/packed_format.h"

namespace {

namespace packed = kvtier::shared::packed;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const kvtier::fuzz::ByteFlip flip = kvtier::fuzz::take_byte_flip(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto index = packed::decode_index(text);
  if (index.ok()) {
    for (const packed::PackedIndexEntry& e : index->entries) {
      if ((e.flags & packed::kEntryRemoved) != 0) continue;
      FUZZ_EXPECT(e.record_bytes >= sizeof(packed::PackedRecordHeader) &&
                      e.record_bytes <= packed::kMaxRecordBytes &&
                      e.offset <= index->segment_bytes &&
                      e.record_bytes <= index->segment_bytes - e.offset,
                  "an accepted entry points outside its segment or past the bounds");
    }
    FUZZ_EXPECT(packed::encode_index(*index) == text, "an accepted index does not re-encode");
  }

  // The input as a record for an entry made from the input's own value bytes.
  const kvtier::BlockId id = kvtier::fuzz::fixed_block_id(5);
  const std::span<const std::byte> value(reinterpret_cast<const std::byte*>(data), size);
  const packed::PackedRecordHeader h = packed::make_record_header(id, value, 42);
  packed::PackedIndexEntry entry{};
  entry.ns = id.ns;
  std::memcpy(entry.key, id.key.bytes.data(), sizeof(entry.key));
  entry.record_bytes = sizeof(h) + size;
  entry.value_checksum = h.value_checksum;
  entry.stamp = 42;
  std::vector<std::byte> record(sizeof(h) + size);
  std::memcpy(record.data(), &h, sizeof(h));
  std::memcpy(record.data() + sizeof(h), data, size);
  FUZZ_EXPECT(packed::record_mismatch(record, entry) == nullptr, "a record as written is refused");
  if (packed::record_mismatch(value, entry) == nullptr) {
    FUZZ_EXPECT(value.size() == record.size() &&
                    std::memcmp(value.data(), record.data(), record.size()) == 0,
                "a record other than the one written was accepted");
  }
  std::vector<std::byte> damaged = record;
  damaged[flip.where % damaged.size()] ^= static_cast<std::byte>(flip.mask);
  FUZZ_EXPECT(packed::record_mismatch(damaged, entry) != nullptr, "a flipped record was accepted");

  packed::SegmentIndex written{7, 9, entry.record_bytes, 1234, {entry}};
  const std::string bytes = packed::encode_index(written);
  FUZZ_EXPECT(packed::decode_index(bytes).ok(), "an index as written is refused");
  std::string flipped = bytes;
  flipped[flip.where % flipped.size()] ^= static_cast<char>(flip.mask);
  FUZZ_EXPECT(!packed::decode_index(flipped).ok(), "a flipped index was accepted");
  return 0;
}
