// libFuzzer target for the seals of shared-tier blocks (src/shared/block_auth.cpp): values read
// from a medium anyone with access may write to. Input: a byte flip (3 bytes), then bytes.
// Promises: (1) the rest of the input, taken as a stored value, is accepted under the key only
// when it is exactly what seal() makes of its value part (no forgery), and looks_sealed agrees
// with every verdict but "unsealed"; (2) a value sealed here opens as itself; (3) with one byte
// flipped anywhere, value or seal, it never opens; (4) neither another secret key nor another
// block key opens it.
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "shared/block_auth.h"

namespace {

using kvtier::shared::BlockAuth;

const BlockAuth& auth() {
  static const BlockAuth a({{3, std::string(32, 'k')}});
  return a;
}
const BlockAuth& other() {
  static const BlockAuth a({{3, std::string(32, 'o')}});
  return a;
}

std::vector<std::byte> sealed(const BlockAuth& a, const kvtier::BlockId& id, std::span<const std::byte> value) {
  std::vector<std::byte> out(value.begin(), value.end());
  out.resize(value.size() + BlockAuth::kTrailerBytes);
  a.seal(id, value, std::span(out).subspan(value.size()));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const kvtier::fuzz::ByteFlip flip = kvtier::fuzz::take_byte_flip(data, size);
  const kvtier::BlockId id = kvtier::fuzz::fixed_block_id(3);
  std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);

  const BlockAuth::Verdict v = auth().open(id, input);
  if (v == BlockAuth::Verdict::kOk) {
    const std::span<const std::byte> value = input.first(input.size() - BlockAuth::kTrailerBytes);
    const std::vector<std::byte> expected = sealed(auth(), id, value);
    FUZZ_EXPECT(std::memcmp(expected.data(), input.data(), input.size()) == 0,
                "a stored value opened that seal() did not make");
  }
  if (v != BlockAuth::Verdict::kUnsealed) {
    FUZZ_EXPECT(BlockAuth::looks_sealed(input), "judged sealed, but looks_sealed says no");
  }

  std::vector<std::byte> good = sealed(auth(), id, input);
  FUZZ_EXPECT(auth().open(id, good) == BlockAuth::Verdict::kOk, "a sealed value does not open");
  FUZZ_EXPECT(BlockAuth::looks_sealed(good), "a sealed value does not look sealed");
  FUZZ_EXPECT(other().open(id, good) == BlockAuth::Verdict::kOtherKey, "another key opened it");
  kvtier::BlockId moved = id;
  moved.key.bytes[0] ^= 1;
  FUZZ_EXPECT(auth().open(moved, good) != BlockAuth::Verdict::kOk, "it opened for another key");
  good[flip.where % good.size()] ^= std::byte{flip.mask};
  FUZZ_EXPECT(auth().open(id, good) != BlockAuth::Verdict::kOk, "a flipped byte went unnoticed");
  return 0;
}
