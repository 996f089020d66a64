// BlockAuth: the seal of a shared-tier block verifies under its namespace's key only, for exactly
// the bytes, namespace and key it was made for.
#include "shared/block_auth.h"

#include <gtest/gtest.h>

#include <vector>

#include "support/test_support.h"

namespace kvtier::shared::block_auth_test {
namespace {

using kvtier::testing::pattern;
using kvtier::testing::test_key;

// The value followed by its seal, as a backend stores it.
std::vector<std::byte> sealed(const BlockAuth& auth, const BlockId& id, std::vector<std::byte> value) {
  const std::size_t n = value.size();
  value.resize(n + BlockAuth::kTrailerBytes);
  auth.seal(id, std::span(value).first(n), std::span(value).subspan(n));
  return value;
}

TEST(BlockAuth, ASealVerifiesForItsBlockAndKeyOnly) {
  const BlockAuth ours({{7, std::string(32, 'k')}, {8, std::string(40, 'm')}});
  const BlockAuth theirs({{7, std::string(32, 'x')}});
  const BlockId id{7, test_key(1)};
  EXPECT_EQ(ours.overhead(7), BlockAuth::kTrailerBytes);
  EXPECT_EQ(ours.overhead(9), 0u) << "a namespace without a key is not sealed";
  const std::vector<std::byte> stored = sealed(ours, id, pattern(test_key(1), 5000));
  EXPECT_EQ(ours.open(id, stored), BlockAuth::Verdict::kOk);
  // Sealed under another key (a node with the same tenant name and its own key).
  EXPECT_EQ(ours.open(id, sealed(theirs, id, pattern(test_key(1), 5000))), BlockAuth::Verdict::kOtherKey);
  EXPECT_EQ(theirs.open(id, stored), BlockAuth::Verdict::kOtherKey);
  // No seal at all (a node without a key), also when the value is shorter than a seal.
  EXPECT_EQ(ours.open(id, pattern(test_key(1), 5000)), BlockAuth::Verdict::kUnsealed);
  EXPECT_EQ(ours.open(id, pattern(test_key(1), 10)), BlockAuth::Verdict::kUnsealed);
  // One flipped bit anywhere in the value, a block moved to another key or namespace of the same
  // key, or a value cut short: the tag does not verify.
  std::vector<std::byte> flipped = stored;
  flipped[4321] ^= std::byte{1};
  EXPECT_EQ(ours.open(id, flipped), BlockAuth::Verdict::kBadTag);
  EXPECT_EQ(ours.open(BlockId{7, test_key(2)}, stored), BlockAuth::Verdict::kBadTag);
  const BlockAuth same_key_two_namespaces({{7, std::string(32, 'k')}, {3, std::string(32, 'k')}});
  EXPECT_EQ(same_key_two_namespaces.open(BlockId{3, test_key(1)}, stored), BlockAuth::Verdict::kBadTag);
  // The trailer's reserved bytes are not under the tag: any other value of them is refused.
  for (std::size_t at : {stored.size() - 42, stored.size() - 36}) {
    std::vector<std::byte> reserved = stored;
    reserved[at] ^= std::byte{1};
    EXPECT_EQ(ours.open(id, reserved), BlockAuth::Verdict::kBadTag) << "reserved byte " << at;
  }
  std::vector<std::byte> cut(stored.begin() + 1, stored.end());
  EXPECT_EQ(ours.open(id, cut), BlockAuth::Verdict::kBadTag);
  // An empty value is sealed too.
  EXPECT_EQ(ours.open(id, sealed(ours, id, {})), BlockAuth::Verdict::kOk);
}

}  // namespace
}  // namespace kvtier::shared::block_auth_test
