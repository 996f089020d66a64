// Base64 (RFC 4648, with padding), through OpenSSL: Azure's account keys and Shared Key
// signatures, and the block ids of an Azure block list, are written in it.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kvtier {

std::string base64_encode(std::span<const std::byte> bytes);
inline std::string base64_encode(std::string_view text) {
  return base64_encode(std::as_bytes(std::span(text.data(), text.size())));
}

// The decoded bytes; nullopt when `text` is not base64 (a character outside the alphabet, a
// length that is not a multiple of 4, padding anywhere but at the end).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kvtier
