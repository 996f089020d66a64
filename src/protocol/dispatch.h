// visit_meta: decodes any frame's meta into its typed message (meta.h) by the header's opcode and
// direction, and hands it to a visitor. One dispatch, over meta.h's message lists, serves the
// daemon's requests, a client's responses and the fuzzers, so no opcode can be forgotten in one.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocol/frame.h"
#include "protocol/meta.h"

namespace kvtier::protocol {

// The meta of an error response (response_meta_is_message).
struct ErrorMessage {
  std::string text;
  friend bool operator==(const ErrorMessage&, const ErrorMessage&) = default;
};

namespace detail {
template <typename T, typename Visitor>
Status visit_as(std::span<const std::byte> meta, std::uint32_t max_batch, Visitor& visitor) {
  T message;
  KVTIER_RETURN_IF_ERROR(decode_meta_into(meta, max_batch, &message));
  visitor(message);
  return Status::Ok();
}

// Decodes `meta` as the message of `op` in the list; `missing` when no message has that opcode.
template <typename... Ms, typename Visitor>
Status visit_in(MessageList<Ms...>, Opcode op, std::span<const std::byte> meta,
                std::uint32_t max_batch, Visitor& visitor, std::string_view missing) {
  Status s;
  const bool found =
      ((Ms::kOpcode == op && (s = visit_as<Ms>(meta, max_batch, visitor), true)) || ...);
  return found ? s : Status::InvalidArgument(std::string(missing));
}
}  // namespace detail

// Decodes `meta` as the message `header` announces and calls visitor(T&) with it: a request type,
// a response type, or ErrorMessage for an error response. REQUIRES: `header` passed
// validate_header. Returns the decoder's error (meta.h) without calling the visitor.
template <typename Visitor>
Status visit_meta(const FrameHeader& header, std::span<const std::byte> meta,
                  std::uint32_t max_batch, Visitor&& visitor) {
  if (!header.is_response()) {
    return detail::visit_in(RequestMessages{}, header.opcode, meta, max_batch, visitor,
                            "visit_meta: a request without an opcode");
  }
  std::optional<StatusCode> status = status_code_from_wire(header.status);
  if (!status) return Status::InvalidArgument("visit_meta: response status is not a status code");
  if (response_meta_is_message(header.opcode, *status)) {
    Result<std::string> text = decode_error_message(meta);
    if (!text.ok()) return text.status();
    ErrorMessage message{std::move(text).value()};
    visitor(message);
    return Status::Ok();
  }
  return detail::visit_in(ResponseMessages{}, header.opcode, meta, max_batch, visitor,
                          "visit_meta: an OK response without an opcode");
}

}  // namespace kvtier::protocol
