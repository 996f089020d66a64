// SipHash-1-3 of eight ids at once, one per 64-bit lane (this file alone is compiled with
// -mavx512f; see id_hash.cpp). Only called after a runtime check that the CPU has AVX-512F. The
// rounds are SipState's (id_hash.cpp) on vectors, so each lane equals id_hash_with.
#if defined(KVTIER_HAVE_AVX512_ID_HASH)
#include <immintrin.h>

#include <cstring>

#include "engine/id_hash.h"

namespace kvtier::id_hash_avx512 {
namespace {

// A 64-bit rotate of every lane. (The zero-masked form: GCC 12 warns about the undefined vector
// the plain _mm512_rol_epi64 passes through.)
template <int N>
__m512i rol(__m512i v) {
  return _mm512_maskz_rol_epi64(static_cast<__mmask8>(0xFF), v, N);
}

struct Lanes {
  __m512i v0, v1, v2, v3;

  void round() {
    v0 = _mm512_add_epi64(v0, v1);
    v1 = rol<13>(v1);
    v1 = _mm512_xor_si512(v1, v0);
    v0 = rol<32>(v0);
    v2 = _mm512_add_epi64(v2, v3);
    v3 = rol<16>(v3);
    v3 = _mm512_xor_si512(v3, v2);
    v0 = _mm512_add_epi64(v0, v3);
    v3 = rol<21>(v3);
    v3 = _mm512_xor_si512(v3, v0);
    v2 = _mm512_add_epi64(v2, v1);
    v1 = rol<17>(v1);
    v1 = _mm512_xor_si512(v1, v2);
    v2 = rol<32>(v2);
  }
  void absorb(__m512i m) {
    v3 = _mm512_xor_si512(v3, m);
    round();
    v0 = _mm512_xor_si512(v0, m);
  }
};

__m512i splat(std::uint64_t x) { return _mm512_set1_epi64(static_cast<long long>(x)); }

}  // namespace

void id_hash_8(const SipKey& k, NamespaceId ns, const Key* keys, std::uint64_t* out) {
  alignas(64) std::uint64_t m0[8], m1[8];
  for (int i = 0; i < 8; ++i) {
    std::memcpy(&m0[i], keys[i].bytes.data(), 8);
    std::memcpy(&m1[i], keys[i].bytes.data() + 8, 8);
  }
  Lanes s{splat(k[0] ^ 0x736f6d6570736575ull), splat(k[1] ^ 0x646f72616e646f6dull),
          splat(k[0] ^ 0x6c7967656e657261ull), splat(k[1] ^ 0x7465646279746573ull)};
  s.absorb(_mm512_load_si512(m0));
  s.absorb(_mm512_load_si512(m1));
  s.absorb(splat(std::uint64_t{ns} | (std::uint64_t{20} << 56)));
  s.v2 = _mm512_xor_si512(s.v2, splat(0xff));
  s.round();
  s.round();
  s.round();
  _mm512_storeu_si512(out, _mm512_xor_si512(_mm512_xor_si512(s.v0, s.v1), _mm512_xor_si512(s.v2, s.v3)));
}

}  // namespace kvtier::id_hash_avx512
#endif
