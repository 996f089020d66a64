// XXH3-64 block checksums. Debian's libxxhash is built for baseline x86-64 (SSE2: ~13 GB/s here);
// the same function compiled for AVX2 runs at ~46 GB/s, which decides whether verifying every
// NVMe read keeps up with the device. So XXH3 is compiled into kvtier twice (inline, from
// xxhash.h) and the AVX2 copy is used when the CPU has AVX2. Both give identical results.
#include "integrity/checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace kvtier {

#if defined(KVTIER_HAVE_AVX2_CHECKSUM)
namespace checksum_avx2 {
std::uint64_t xxh3_64(const void* data, std::size_t size);  // checksum_avx2.cpp
}
#endif

std::uint64_t block_checksum(std::span<const std::byte> data) {
#if defined(KVTIER_HAVE_AVX2_CHECKSUM)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return checksum_avx2::xxh3_64(data.data(), data.size());
#endif
  return XXH3_64bits(data.data(), data.size());
}

}  // namespace kvtier
