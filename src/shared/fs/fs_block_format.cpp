// Building and checking shared-filesystem block headers (fs_block_format.h).
#include "shared/fs/fs_block_format.h"

#include <cstring>

#include "integrity/checksum.h"

namespace kvtier::shared::fs {
namespace {

std::uint64_t header_checksum(const FsBlockHeader& h) {
  return block_checksum(
      {reinterpret_cast<const std::byte*>(&h), offsetof(FsBlockHeader, header_checksum)});
}

}  // namespace

FsBlockHeader make_block_header(const BlockId& id, std::span<const std::byte> value,
                                std::int64_t written_at_ns) {
  FsBlockHeader h{};
  h.magic = kFsBlockMagic;
  h.format_version = kFsFormatVersion;
  h.flags = 0;
  h.ns = id.ns;
  std::memcpy(h.key, id.key.bytes.data(), sizeof(h.key));
  h.value_size = value.size();
  h.value_checksum = block_checksum(value);
  h.written_at_ns = written_at_ns;
  h.header_checksum = header_checksum(h);
  return h;
}

const char* header_mismatch(const FsBlockHeader& h, const BlockId& id, std::uint64_t file_bytes) {
  if (h.magic != kFsBlockMagic) return "bad magic";
  if (h.format_version != kFsFormatVersion) return "unknown format version";
  if (h.header_checksum != header_checksum(h)) return "header checksum mismatch";
  if (h.ns != id.ns) return "namespace mismatch";
  if (std::memcmp(h.key, id.key.bytes.data(), sizeof(h.key)) != 0) return "key mismatch";
  // Compared without overflow: value_size comes from the file and may be anything.
  if (file_bytes < kFsHeaderBytes || file_bytes - kFsHeaderBytes != h.value_size) {
    return "file length does not match the header";
  }
  return nullptr;
}

}  // namespace kvtier::shared::fs
