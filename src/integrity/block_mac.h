// BlockMac: HMAC-SHA256 (OpenSSL) with a secret key, over a sequence of byte strings. What
// proves that a block was written by a holder of the key, where a checksum only proves that the
// bytes are what some writer wrote (the shared tier's per-tenant block keys: src/shared/block_auth.h).
//
// Thread-safety: const methods may be called concurrently (each call works on its own copy of the
// keyed context).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

typedef struct evp_mac_ctx_st EVP_MAC_CTX;

namespace kvtier {

class BlockMac {
 public:
  static constexpr std::size_t kTagBytes = 32;
  using Tag = std::array<std::uint8_t, kTagBytes>;

  // key: any length (HMAC hashes a key longer than a block); the caller sets the minimum.
  explicit BlockMac(std::string_view key);
  ~BlockMac();
  BlockMac(const BlockMac&) = delete;
  BlockMac& operator=(const BlockMac&) = delete;

  // The tag of the concatenation of `parts`.
  Tag tag(std::initializer_list<std::span<const std::byte>> parts) const;
  // Whether `expected` is the tag of `parts`, compared in constant time.
  bool verify(std::initializer_list<std::span<const std::byte>> parts, std::span<const std::uint8_t> expected) const;

 private:
  EVP_MAC_CTX* keyed_;  // initialized with the key; duplicated for each tag
};

}  // namespace kvtier
