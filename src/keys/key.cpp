// Block keys: namespace keys and chained chunk keys, SHA-256 truncated to 128 bits.
// The byte layouts are specified in docs/KEYS.md and pinned by tests/keys/vectors.json, which an
// independent Python implementation (tests/keys/reference_keys.py) generated and re-checks.
#include "kvtier/key.h"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "integrity/check.h"

namespace kvtier {
namespace {

// Domain separation for namespace keys: 12 ASCII bytes, no NUL. Bump "v1" only together with a
// new docs/KEYS.md section and new vectors: every stored block becomes unreachable.
constexpr char kNamespaceDomain[] = "kvtier/ns/v1";
constexpr std::size_t kNamespaceDomainSize = sizeof(kNamespaceDomain) - 1;
static_assert(kNamespaceDomainSize == 12);

// Longest model_id, kv_dtype or extra accepted by ModelLayout::validate().
constexpr std::size_t kMaxLayoutStringBytes = 1024;

// Tokens converted to little-endian per batch on big-endian hosts (little-endian hosts hash the
// caller's array directly).
constexpr std::size_t kTokenBatch = 256;

constexpr char kHexDigits[] = "0123456789abcdef";

// SHA-256 fetched once per process: an implicit fetch on every EVP_DigestInit_ex costs a locked
// lookup in OpenSSL 3's method store. Never freed (lives as long as the process).
const EVP_MD* sha256() {
  static const EVP_MD* md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

// One SHA-256 computation; the context is reused across digests.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { KVTIER_CHECK(ctx_ != nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void begin() { KVTIER_CHECK(EVP_DigestInit_ex2(ctx_, sha256(), nullptr) == 1); }
  void update(const void* data, std::size_t size) {
    if (size != 0) KVTIER_CHECK(EVP_DigestUpdate(ctx_, data, size) == 1);
  }
  void update_u32(std::uint32_t v) {
    std::uint8_t le[4] = {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8),
                          static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 24)};
    update(le, sizeof(le));
  }
  // (u32 LE byte length, bytes). REQUIRES: s.size() fits in u32 (validate() caps it at 1024).
  void update_string(std::string_view s) {
    update_u32(static_cast<std::uint32_t>(s.size()));
    update(s.data(), s.size());
  }
  // Each token as u32 little-endian.
  void update_tokens(std::span<const std::uint32_t> tokens) {
    if constexpr (std::endian::native == std::endian::little) {
      update(tokens.data(), tokens.size_bytes());
    } else {
      std::uint8_t buf[kTokenBatch * 4];
      for (std::size_t i = 0; i < tokens.size(); i += kTokenBatch) {
        const std::size_t n = std::min(kTokenBatch, tokens.size() - i);
        for (std::size_t j = 0; j < n; ++j) {
          const std::uint32_t t = tokens[i + j];
          buf[4 * j] = static_cast<std::uint8_t>(t);
          buf[4 * j + 1] = static_cast<std::uint8_t>(t >> 8);
          buf[4 * j + 2] = static_cast<std::uint8_t>(t >> 16);
          buf[4 * j + 3] = static_cast<std::uint8_t>(t >> 24);
        }
        update(buf, 4 * n);
      }
    }
  }
  // The first 16 bytes of the digest.
  Key finish() {
    std::uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    KVTIER_CHECK(EVP_DigestFinal_ex(ctx_, digest, &size) == 1);
    KVTIER_CHECK(size == 32);
    Key key;
    std::memcpy(key.bytes.data(), digest, key.bytes.size());
    return key;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status check_positive(std::string_view field, std::uint32_t value) {
  if (value > 0) return Status::Ok();
  return Status::InvalidArgument("ModelLayout." + std::string(field) +
                                 " = 0 is invalid: must be > 0");
}

Status check_string(std::string_view field, const std::string& value, bool may_be_empty) {
  if (!may_be_empty && value.empty()) {
    return Status::InvalidArgument("ModelLayout." + std::string(field) +
                                   " is empty: it is required");
  }
  if (value.size() > kMaxLayoutStringBytes) {
    return Status::InvalidArgument("ModelLayout." + std::string(field) + " is " +
                                   std::to_string(value.size()) + " bytes long: at most " +
                                   std::to_string(kMaxLayoutStringBytes) + " allowed");
  }
  return Status::Ok();
}

}  // namespace

std::uint64_t Key::word0() const { return load_le64(bytes.data()); }
std::uint64_t Key::word1() const { return load_le64(bytes.data() + 8); }

std::string Key::hex() const {
  std::string out(2 * bytes.size(), '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kHexDigits[bytes[i] & 0xF];
  }
  return out;
}

Result<Key> Key::from_hex(std::string_view hex) {
  Key key;
  if (hex.size() != 2 * key.bytes.size()) {
    return Status::InvalidArgument("key must be 32 hex digits, got " + std::to_string(hex.size()) +
                                   " characters");
  }
  for (std::size_t i = 0; i < key.bytes.size(); ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      const std::size_t pos = hi < 0 ? 2 * i : 2 * i + 1;
      return Status::InvalidArgument("key has a non-hex character at position " +
                                     std::to_string(pos) + " of \"" + std::string(hex) + "\"");
    }
    key.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return key;
}

Status ModelLayout::validate() const {
  KVTIER_RETURN_IF_ERROR(check_string("model_id", model_id, /*may_be_empty=*/false));
  KVTIER_RETURN_IF_ERROR(check_string("kv_dtype", kv_dtype, /*may_be_empty=*/false));
  KVTIER_RETURN_IF_ERROR(check_string("extra", extra, /*may_be_empty=*/true));
  KVTIER_RETURN_IF_ERROR(check_positive("num_layers", num_layers));
  KVTIER_RETURN_IF_ERROR(check_positive("num_kv_heads", num_kv_heads));
  KVTIER_RETURN_IF_ERROR(check_positive("head_dim", head_dim));
  KVTIER_RETURN_IF_ERROR(check_positive("tp_world_size", tp_world_size));
  KVTIER_RETURN_IF_ERROR(check_positive("chunk_tokens", chunk_tokens));
  if (tp_rank >= tp_world_size) {
    return Status::InvalidArgument("ModelLayout.tp_rank = " + std::to_string(tp_rank) +
                                   " is invalid: must be in [0, tp_world_size - 1] = [0, " +
                                   std::to_string(tp_world_size - 1) + "]");
  }
  return Status::Ok();
}

Result<Key> namespace_key(const ModelLayout& layout) {
  KVTIER_RETURN_IF_ERROR(layout.validate());
  Sha256 h;
  h.begin();
  h.update(kNamespaceDomain, kNamespaceDomainSize);
  h.update_string(layout.model_id);
  h.update_string(layout.kv_dtype);
  h.update_u32(layout.num_layers);
  h.update_u32(layout.num_kv_heads);
  h.update_u32(layout.head_dim);
  h.update_u32(layout.tp_rank);
  h.update_u32(layout.tp_world_size);
  h.update_u32(layout.chunk_tokens);
  h.update_u32(layout.layout_version);
  h.update_string(layout.extra);
  return h.finish();
}

Key chain_key(const Key& previous, std::span<const std::uint32_t> tokens) {
  Sha256 h;
  h.begin();
  h.update(previous.bytes.data(), previous.bytes.size());
  h.update_tokens(tokens);
  return h.finish();
}

std::vector<Key> chunk_keys(const Key& ns_key, std::span<const std::uint32_t> tokens,
                            std::uint32_t chunk_tokens) {
  KVTIER_CHECK(chunk_tokens > 0);
  const std::size_t chunks = tokens.size() / chunk_tokens;
  std::vector<Key> keys;
  keys.reserve(chunks);
  if (chunks == 0) return keys;
  Sha256 h;
  const Key* previous = &ns_key;
  for (std::size_t i = 0; i < chunks; ++i) {
    h.begin();
    h.update(previous->bytes.data(), previous->bytes.size());
    h.update_tokens(tokens.subspan(i * chunk_tokens, chunk_tokens));
    keys.push_back(h.finish());
    previous = &keys.back();  // no reallocation: capacity was reserved
  }
  return keys;
}

}  // namespace kvtier
