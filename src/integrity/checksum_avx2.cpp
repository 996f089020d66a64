// The AVX2 build of XXH3-64 (this file alone is compiled with -mavx2; see checksum.cpp). Only
// called after a runtime check that the CPU has AVX2.
#if defined(KVTIER_HAVE_AVX2_CHECKSUM)
#include <cstddef>
#include <cstdint>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace kvtier::checksum_avx2 {

std::uint64_t xxh3_64(const void* data, std::size_t size) { return XXH3_64bits(data, size); }

}  // namespace kvtier::checksum_avx2
#endif
