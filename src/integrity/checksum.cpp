// XXH3-64 block checksums.
#include "integrity/checksum.h"

#include <xxhash.h>

namespace kvtier {

std::uint64_t block_checksum(std::span<const std::byte> data) {
  return XXH3_64bits(data.data(), data.size());
}

BlockChecksummer::BlockChecksummer() : state_(XXH3_createState()) {
  XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_));
}

BlockChecksummer::~BlockChecksummer() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }

void BlockChecksummer::update(std::span<const std::byte> data) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), data.data(), data.size());
}

std::uint64_t BlockChecksummer::digest() const {
  return XXH3_64bits_digest(static_cast<XXH3_state_t*>(state_));
}

}  // namespace kvtier
