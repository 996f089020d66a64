// BlockAuth (see block_auth.h).
#include "shared/block_auth.h"

#include <openssl/sha.h>

#include <cstring>

#include "integrity/check.h"

namespace kvtier::shared {
namespace {

// "KVTA" read as a little-endian u32.
constexpr std::uint32_t kTrailerMagic = 0x4154564bu;
constexpr std::uint16_t kTrailerVersion = 1;
// The tag's domain: a tag of this kind can never be taken for one of another use of the key.
constexpr char kDomain[] = "kvtier shared block 1";

struct Trailer {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t reserved0;
  std::uint32_t key_id;
  std::uint32_t reserved1;
  std::uint8_t tag[BlockMac::kTagBytes];
};
static_assert(sizeof(Trailer) == BlockAuth::kTrailerBytes, "the trailer layout is pinned");

std::uint32_t key_id_of(const std::string& key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  ::SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  std::uint32_t id;
  std::memcpy(&id, digest, sizeof id);
  return id;
}

// The bytes that name the block in the tag: namespace, key, value size.
struct Identity {
  std::byte bytes[4 + 16 + 8];
  Identity(const BlockId& id, std::uint64_t value_size) {
    std::memcpy(bytes, &id.ns, 4);
    std::memcpy(bytes + 4, id.key.bytes.data(), 16);
    std::memcpy(bytes + 20, &value_size, 8);
  }
  std::span<const std::byte> span() const { return bytes; }
};

std::span<const std::byte> domain() {
  return {reinterpret_cast<const std::byte*>(kDomain), sizeof kDomain};  // with its NUL
}

}  // namespace

BlockAuth::BlockAuth(const std::map<NamespaceId, std::string>& keys) {
  for (const auto& [ns, key] : keys) keys_.emplace(ns, Key{std::make_unique<BlockMac>(key), key_id_of(key)});
}

void BlockAuth::seal(const BlockId& id, std::span<const std::byte> value, std::span<std::byte> trailer) const {
  const Key& k = keys_.at(id.ns);
  KVTIER_CHECK(trailer.size() == kTrailerBytes);
  Trailer t{};
  t.magic = kTrailerMagic;
  t.version = kTrailerVersion;
  t.key_id = k.key_id;
  const BlockMac::Tag tag = k.mac->tag({domain(), Identity(id, value.size()).span(), value});
  std::memcpy(t.tag, tag.data(), tag.size());
  std::memcpy(trailer.data(), &t, sizeof t);
}

bool BlockAuth::looks_sealed(std::span<const std::byte> stored) {
  if (stored.size() < kTrailerBytes) return false;
  Trailer t;
  std::memcpy(&t, stored.data() + stored.size() - kTrailerBytes, sizeof t);
  return t.magic == kTrailerMagic && t.version == kTrailerVersion;
}

BlockAuth::Verdict BlockAuth::open(const BlockId& id, std::span<const std::byte> stored) const {
  const Key& k = keys_.at(id.ns);
  if (stored.size() < kTrailerBytes) return Verdict::kUnsealed;
  const std::span<const std::byte> value = stored.first(stored.size() - kTrailerBytes);
  Trailer t;
  std::memcpy(&t, stored.data() + value.size(), sizeof t);
  if (t.magic != kTrailerMagic || t.version != kTrailerVersion) return Verdict::kUnsealed;
  if (t.key_id != k.key_id) return Verdict::kOtherKey;
  // The tag does not cover the trailer's own fields: the reserved ones must be what seal() wrote,
  // or two different stored values would open as one (found by fuzz/block_seal_fuzzer.cpp).
  if (t.reserved0 != 0 || t.reserved1 != 0) return Verdict::kBadTag;
  if (!k.mac->verify({domain(), Identity(id, value.size()).span(), value}, t.tag)) return Verdict::kBadTag;
  return Verdict::kOk;
}

}  // namespace kvtier::shared
