// libFuzzer target for shared-filesystem block files (src/shared/fs/fs_block_format.cpp): files
// on a filesystem other hosts write too. Input: a byte flip (3 bytes), then a value.
// Promises: (1) a block written by make_block_header is accepted as itself; (2) the same block
// with one byte flipped anywhere in its header or value is never accepted (header_mismatch, or
// the value checksum the reader compares after it); (3) the input's first 64 bytes read as a
// header, against any file length, give a verdict without crashing.
#include <cstring>
#include <vector>

#include "fuzz_check.h"
#include "integrity/checksum.h"
#include "shared/fs/fs_block_format.h"

namespace {

using kvtier::shared::fs::FsBlockHeader;
using kvtier::shared::fs::kFsHeaderBytes;

bool accepted(const FsBlockHeader& h, const kvtier::BlockId& id, std::span<const std::byte> value) {
  return kvtier::shared::fs::header_mismatch(h, id, kFsHeaderBytes + value.size()) == nullptr &&
         kvtier::block_checksum(value) == h.value_checksum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const kvtier::fuzz::ByteFlip flip = kvtier::fuzz::take_byte_flip(data, size);
  const kvtier::BlockId id = kvtier::fuzz::fixed_block_id(7);
  std::vector<std::byte> value(reinterpret_cast<const std::byte*>(data),
                               reinterpret_cast<const std::byte*>(data) + size);

  FsBlockHeader h = kvtier::shared::fs::make_block_header(id, value, 1234567890);
  FUZZ_EXPECT(accepted(h, id, value), "a block as written is refused");

  const std::size_t where = flip.where % (sizeof(FsBlockHeader) + value.size());
  FsBlockHeader bad = h;
  std::vector<std::byte> bad_value = value;
  if (where < sizeof(FsBlockHeader)) {
    reinterpret_cast<std::uint8_t*>(&bad)[where] ^= flip.mask;
  } else {
    bad_value[where - sizeof(FsBlockHeader)] ^= std::byte{flip.mask};
  }
  FUZZ_EXPECT(!accepted(bad, id, bad_value),
              "a block with byte " + std::to_string(where) + " flipped is accepted");

  if (size >= sizeof(FsBlockHeader) + 8) {
    FsBlockHeader raw;
    std::memcpy(&raw, data, sizeof(raw));
    std::uint64_t file_bytes;
    std::memcpy(&file_bytes, data + sizeof(raw), sizeof(file_bytes));
    (void)kvtier::shared::fs::header_mismatch(raw, id, file_bytes);
  }
  return 0;
}
