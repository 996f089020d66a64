// Text as bytes: the std::string payloads (an encoded index, an XML body) given to APIs that take
// byte spans. The span views the string's buffer: it lives as long as the string, unchanged.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace kvtier {

inline std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

}  // namespace kvtier
