// id_hash: SipHash as its authors define it, the id-specialised and batch forms agree with it, and
// placement spreads ids that differ only in namespace or in one key byte.
#include "engine/id_hash.h"

#include <cstring>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace kvtier {
namespace {

std::vector<std::byte> bytes_0_to(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i);
  return v;
}

// The SipHash paper's test vector (key 00..0f, message 00..0e) for SipHash-2-4, and the 64-bit
// vectors of its reference implementation (vectors.h) for empty and 8-byte messages.
TEST(IdHash, SipHash24MatchesTheReferenceVectors) {
  SipKey key;
  const std::vector<std::byte> kb = bytes_0_to(16);
  std::memcpy(key.data(), kb.data(), 16);
  EXPECT_EQ((siphash<2, 4>(key, bytes_0_to(15))), 0xa129ca6149be45e5ull);
  EXPECT_EQ((siphash<2, 4>(key, bytes_0_to(0))), 0x726fdb47dd0e0e31ull);
  EXPECT_EQ((siphash<2, 4>(key, bytes_0_to(8))), 0x93f5f5799a932462ull);
}

Key random_key(std::mt19937_64& rng) {
  Key k;
  const std::uint64_t a = rng(), b = rng();
  std::memcpy(k.bytes.data(), &a, 8);
  std::memcpy(k.bytes.data() + 8, &b, 8);
  return k;
}

// id_hash is SipHash-1-3 of the 20 bytes key || ns (little-endian), and the batch form (eight
// lanes at a time where the CPU has AVX-512, including a ragged tail) gives the same values.
TEST(IdHash, SpecialisedAndBatchFormsAreSipHash13OfKeyAndNamespace) {
  std::mt19937_64 rng(5);
  const SipKey key{rng(), rng()};
  for (int i = 0; i < 200; ++i) {
    const BlockId id{static_cast<NamespaceId>(rng()), random_key(rng)};
    std::byte msg[20];
    std::memcpy(msg, id.key.bytes.data(), 16);
    for (int b = 0; b < 4; ++b) msg[16 + b] = static_cast<std::byte>(id.ns >> (8 * b));
    ASSERT_EQ(id_hash_with(key, id), (siphash<1, 3>(key, msg)));
  }
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 16u, 37u, 4096u}) {
    std::vector<Key> keys(n);
    for (Key& k : keys) k = random_key(rng);
    const NamespaceId ns = static_cast<NamespaceId>(rng());
    std::vector<std::uint64_t> out(n + 1, 42);
    id_hash_many(ns, keys, out);
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], id_hash(BlockId{ns, keys[i]})) << n << " " << i;
    EXPECT_EQ(out[n], 42u) << "wrote past the keys";
  }
}

// The process key is drawn at random (two processes place differently; here: it is not zero and
// not the fixed test key) and stays fixed.
TEST(IdHash, ProcessKeyIsRandomAndStable) {
  const SipKey a = id_hash_key(), b = id_hash_key();
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a[0] == 0 && a[1] == 0);
  const BlockId id{7, Key{}};
  EXPECT_EQ(id_hash(id), id_hash(id));
}

// Ids that differ in one namespace bit or one key bit land far apart (about half the bits flip).
TEST(IdHash, OneBitOfNamespaceOrKeyFlipsAboutHalfTheHash) {
  std::mt19937_64 rng(9);
  int bits = 0, trials = 0;
  for (int i = 0; i < 100; ++i) {
    const BlockId id{static_cast<NamespaceId>(rng()), random_key(rng)};
    const std::uint64_t h = id_hash(id);
    BlockId other = id;
    other.ns ^= 1u << (i % 32);
    bits += __builtin_popcountll(h ^ id_hash(other));
    other = id;
    other.key.bytes[i % 16] ^= static_cast<std::uint8_t>(1u << (i % 8));
    bits += __builtin_popcountll(h ^ id_hash(other));
    trials += 2;
  }
  EXPECT_GT(bits, trials * 28);
  EXPECT_LT(bits, trials * 36);
}

}  // namespace
}  // namespace kvtier
