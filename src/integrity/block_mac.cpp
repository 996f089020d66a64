// BlockMac (see block_mac.h): OpenSSL 3's EVP_MAC "HMAC" with SHA-256.
#include "integrity/block_mac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <string>

#include "integrity/check.h"

namespace kvtier {
namespace {

// Fetched once per process: an implicit fetch per call takes a lock of OpenSSL's.
EVP_MAC* hmac() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  KVTIER_CHECK(mac != nullptr);
  return mac;
}

}  // namespace

BlockMac::BlockMac(std::string_view key) : keyed_(EVP_MAC_CTX_new(hmac())) {
  KVTIER_CHECK(keyed_ != nullptr);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  KVTIER_CHECK(EVP_MAC_init(keyed_, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                            params) == 1);
}

BlockMac::~BlockMac() { EVP_MAC_CTX_free(keyed_); }

BlockMac::Tag BlockMac::tag(std::initializer_list<std::span<const std::byte>> parts) const {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed_);
  KVTIER_CHECK(ctx != nullptr);
  for (std::span<const std::byte> p : parts) {
    if (!p.empty()) {
      KVTIER_CHECK(EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(p.data()), p.size()) == 1);
    }
  }
  Tag t{};
  std::size_t len = 0;
  KVTIER_CHECK(EVP_MAC_final(ctx, t.data(), &len, t.size()) == 1 && len == t.size());
  EVP_MAC_CTX_free(ctx);
  return t;
}

bool BlockMac::verify(std::initializer_list<std::span<const std::byte>> parts,
                      std::span<const std::uint8_t> expected) const {
  const Tag t = tag(parts);
  return expected.size() == t.size() && CRYPTO_memcmp(t.data(), expected.data(), t.size()) == 0;
}

}  // namespace kvtier
