// block_checksum is XXH3-64 with seed 0 exactly as libxxhash computes it, whichever code path
// (AVX2 or baseline) this CPU takes: checksums on disk must not depend on the machine.
#include "integrity/checksum.h"

#include <xxhash.h>

#include <vector>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace kvtier {
namespace {

TEST(Checksum, MatchesLibxxhashForEverySizeClass) {
  std::vector<std::byte> data(5 * 1024 * 1024 + 17);
  kvtier::testing::fill_pattern(data, kvtier::testing::test_key(1));
  for (std::size_t size : {0ul, 1ul, 3ul, 16ul, 17ul, 128ul, 129ul, 240ul, 241ul, 1024ul, 4096ul, 65537ul,
                           1048576ul, data.size()}) {
    std::span<const std::byte> s(data.data(), size);
    EXPECT_EQ(block_checksum(s), XXH3_64bits(s.data(), s.size())) << size;
    // Unaligned starts take other code paths in the vector loops.
    if (size > 7) {
      std::span<const std::byte> u(data.data() + 7, size - 7);
      EXPECT_EQ(block_checksum(u), XXH3_64bits(u.data(), u.size())) << size;
    }
  }
}

}  // namespace
}  // namespace kvtier
