// What every fuzz target needs: the input as text, and a failed promise reported and aborted on
// (libFuzzer saves the input that did it as a crash artifact).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kvtier/key.h"

namespace kvtier::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A fixed block id for targets that check a format against the block it claims to hold.
inline kvtier::BlockId fixed_block_id(std::uint32_t ns) {
  kvtier::BlockId id;
  id.ns = ns;
  for (std::size_t i = 0; i < id.key.bytes.size(); ++i) id.key.bytes[i] = static_cast<std::uint8_t>(i * 37 + ns);
  return id;
}

[[noreturn]] inline void broken_promise(const char* target, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", target, what.c_str());
  std::abort();
}

}  // namespace kvtier::fuzz

// Aborts (so libFuzzer records the input) when `cond` is false.
#define FUZZ_EXPECT(cond, what)                                              \
  do {                                                                       \
    if (!(cond)) ::kvtier::fuzz::broken_promise(__FILE__, std::string(what)); \
  } while (0)

namespace kvtier::fuzz {

// A one-byte corruption read off the front of an input: where (modulo the bytes it may hit) and
// which bits to flip (never none). Consumes 3 bytes; the caller checks size >= 3.
struct ByteFlip {
  std::size_t where;
  std::uint8_t mask;
};
inline ByteFlip take_byte_flip(const std::uint8_t*& data, std::size_t& size) {
  ByteFlip f{static_cast<std::size_t>(data[0] | (data[1] << 8)), static_cast<std::uint8_t>(data[2] | 1)};
  if ((data[2] & 0xfe) != 0) f.mask = data[2];
  data += 3;
  size -= 3;
  return f;
}

}  // namespace kvtier::fuzz
