// libFuzzer target for values kept in Redis (src/shared/redis/redis_value_format.cpp): GET
// replies from a server anyone with access may write to. Input: a byte flip (3 bytes), then bytes.
// Promises: (1) verify_value of the rest of the input, taken as a stored value, is an error or
// exactly the bytes after its 64-byte header; (2) a value written by make_value_header verifies
// as itself; (3) with one byte flipped anywhere in header or payload it never verifies.
#include <cstring>
#include <vector>

#include "fuzz_check.h"
#include "shared/redis/redis_value_format.h"

namespace {

using kvtier::shared::redis::RedisValueHeader;

std::vector<std::byte> stored_value(const kvtier::BlockId& id, std::span<const std::byte> payload) {
  RedisValueHeader h = kvtier::shared::redis::make_value_header(id, payload);
  std::vector<std::byte> out(sizeof(h) + payload.size());
  std::memcpy(out.data(), &h, sizeof(h));
  if (!payload.empty()) std::memcpy(out.data() + sizeof(h), payload.data(), payload.size());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const kvtier::fuzz::ByteFlip flip = kvtier::fuzz::take_byte_flip(data, size);
  const kvtier::BlockId id = kvtier::fuzz::fixed_block_id(3);
  std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);

  auto raw = kvtier::shared::redis::verify_value(id, input);
  if (raw.ok()) {
    FUZZ_EXPECT(raw.value().data() == input.data() + sizeof(RedisValueHeader) &&
                    raw.value().size() == input.size() - sizeof(RedisValueHeader),
                "accepted, but the payload is not the bytes after the header");
  }

  std::vector<std::byte> stored = stored_value(id, input);
  auto good = kvtier::shared::redis::verify_value(id, stored);
  FUZZ_EXPECT(good.ok(), "a value as written is refused: " + good.status().message());
  FUZZ_EXPECT(good.value().size() == input.size() &&
                  (input.empty() || std::memcmp(good.value().data(), input.data(), input.size()) == 0),
              "a value as written verifies to other bytes");

  const std::size_t where = flip.where % stored.size();
  stored[where] ^= std::byte{flip.mask};
  FUZZ_EXPECT(!kvtier::shared::redis::verify_value(id, stored).ok(),
              "a value with byte " + std::to_string(where) + " flipped verifies");
  return 0;
}
