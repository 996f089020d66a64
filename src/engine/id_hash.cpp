// SipHash-1-3 for index placement (see id_hash.h).
#include "engine/id_hash.h"

#include <sys/random.h>

#include <bit>
#include <cerrno>
#include <cstring>

#include "coding/little_endian.h"
#include "integrity/check.h"

namespace kvtier {
namespace {

struct SipState {
  std::uint64_t v0, v1, v2, v3;

  explicit SipState(const SipKey& k)
      : v0(k[0] ^ 0x736f6d6570736575ull),
        v1(k[1] ^ 0x646f72616e646f6dull),
        v2(k[0] ^ 0x6c7967656e657261ull),
        v3(k[1] ^ 0x7465646279746573ull) {}

  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }

  template <int C>
  void absorb(std::uint64_t m) {
    v3 ^= m;
    for (int i = 0; i < C; ++i) round();
    v0 ^= m;
  }

  template <int D>
  std::uint64_t finish() {
    v2 ^= 0xff;
    for (int i = 0; i < D; ++i) round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

// A SipHash word: n (<= 8) bytes, little-endian.
template <typename Byte>
std::uint64_t word(const Byte* p, std::size_t n) {
  return load_le_n(reinterpret_cast<const std::byte*>(p), n);
}

SipKey draw_key() {
  SipKey k{};
  std::size_t got = 0;
  auto* out = reinterpret_cast<unsigned char*>(k.data());
  while (got < sizeof k) {
    ssize_t n = ::getrandom(out + got, sizeof k - got, 0);
    if (n < 0 && errno == EINTR) continue;
    // No randomness means no flooding resistance; better to stop than to run with a known key.
    KVTIER_CHECK(n > 0);
    got += static_cast<std::size_t>(n);
  }
  return k;
}

}  // namespace

template <int C, int D>
std::uint64_t siphash(const SipKey& key, std::span<const std::byte> message) {
  SipState s(key);
  const std::size_t n = message.size();
  std::size_t off = 0;
  for (; off + 8 <= n; off += 8) s.absorb<C>(word(message.data() + off, 8));
  const std::uint64_t last = word(message.data() + off, n - off) | (std::uint64_t{n & 0xff} << 56);
  s.absorb<C>(last);
  return s.finish<D>();
}

template std::uint64_t siphash<1, 3>(const SipKey&, std::span<const std::byte>);
template std::uint64_t siphash<2, 4>(const SipKey&, std::span<const std::byte>);

const SipKey& id_hash_key() {
  static const SipKey key = draw_key();
  return key;
}

std::uint64_t id_hash_with(const SipKey& key, const BlockId& id) {
  SipState s(key);
  s.absorb<1>(word(id.key.bytes.data(), 8));
  s.absorb<1>(word(id.key.bytes.data() + 8, 8));
  // The last block: the 4 bytes of ns, then the message length (20) in the top byte.
  s.absorb<1>(std::uint64_t{id.ns} | (std::uint64_t{20} << 56));
  return s.finish<3>();
}

#if defined(KVTIER_HAVE_AVX512_ID_HASH)
namespace id_hash_avx512 {
void id_hash_8(const SipKey& key, NamespaceId ns, const Key* keys, std::uint64_t* out);  // id_hash_avx512.cpp
}
#endif

void id_hash_many(NamespaceId ns, std::span<const Key> keys, std::span<std::uint64_t> out) {
  KVTIER_CHECK(out.size() >= keys.size());
  const SipKey& k = id_hash_key();
  std::size_t i = 0;
#if defined(KVTIER_HAVE_AVX512_ID_HASH)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) {
    for (; i + 8 <= keys.size(); i += 8) {
      id_hash_avx512::id_hash_8(k, ns, keys.data() + i, out.data() + i);
    }
  }
#endif
  for (; i < keys.size(); ++i) out[i] = id_hash_with(k, BlockId{ns, keys[i]});
}

}  // namespace kvtier
