// Block checksums: XXH3-64 over the payload. Used by every tier that keeps bytes on a medium
// (NVMe entries now, shared-tier objects later); verified whenever bytes come back.
// XXH3 runs at memory speed, so verifying a block costs a fraction of reading it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace kvtier {

std::uint64_t block_checksum(std::span<const std::byte> data);

// Incremental form for data that arrives in pieces. Same result as block_checksum over the
// concatenation.
class BlockChecksummer {
 public:
  BlockChecksummer();
  ~BlockChecksummer();
  BlockChecksummer(const BlockChecksummer&) = delete;
  BlockChecksummer& operator=(const BlockChecksummer&) = delete;
  void update(std::span<const std::byte> data);
  std::uint64_t digest() const;

 private:
  void* state_;  // XXH3_state_t, kept opaque so xxhash.h stays out of this header
};

}  // namespace kvtier
