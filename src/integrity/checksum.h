// Block checksums: XXH3-64 (seed 0) over the payload. Used by every tier that keeps bytes on a
// medium (NVMe entries now, shared-tier objects later); verified whenever bytes come back.
// XXH3 runs at memory speed, so verifying a block costs a fraction of reading it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace kvtier {

// Same value on every machine and build: the AVX2 and baseline code paths compute one function.
std::uint64_t block_checksum(std::span<const std::byte> data);

}  // namespace kvtier
