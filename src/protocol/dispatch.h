// visit_meta: decodes any frame's meta into its typed message (meta.h) by the header's opcode and
// direction, and hands it to a visitor. One switch for the daemon's request dispatch, a client's
// response handling and the fuzzers, so no opcode can be forgotten in one of them.
#pragma once

#include <cstdint>
#include <span>
#include <string>

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
}  // namespace detail

// Decodes `meta` as the message `header` announces and calls visitor(T&) with it: a request type,
// a response type, or ErrorMessage for an error response. REQUIRES: `header` passed
// validate_header. Returns the decoder's error (meta.h) without calling the visitor.
template <typename Visitor>
Status visit_meta(const FrameHeader& header, std::span<const std::byte> meta,
                  std::uint32_t max_batch, Visitor&& visitor) {
  using detail::visit_as;
  if (!header.is_response()) {
    switch (header.opcode) {
      case Opcode::kHello:
        return visit_as<HelloRequest>(meta, max_batch, visitor);
      case Opcode::kPing:
        return visit_as<PingRequest>(meta, max_batch, visitor);
      case Opcode::kPut:
        return visit_as<PutRequest>(meta, max_batch, visitor);
      case Opcode::kGet:
        return visit_as<GetRequest>(meta, max_batch, visitor);
      case Opcode::kLookup:
        return visit_as<LookupRequest>(meta, max_batch, visitor);
      case Opcode::kPutMany:
        return visit_as<PutManyRequest>(meta, max_batch, visitor);
      case Opcode::kGetMany:
        return visit_as<GetManyRequest>(meta, max_batch, visitor);
      case Opcode::kRemove:
        return visit_as<RemoveRequest>(meta, max_batch, visitor);
      case Opcode::kPin:
        return visit_as<PinRequest>(meta, max_batch, visitor);
      case Opcode::kUnpin:
        return visit_as<UnpinRequest>(meta, max_batch, visitor);
      case Opcode::kStats:
        return visit_as<StatsRequest>(meta, max_batch, visitor);
      case Opcode::kShmRegister:
        return visit_as<ShmRegisterRequest>(meta, max_batch, visitor);
      case Opcode::kGetManyShm:
        return visit_as<GetManyShmRequest>(meta, max_batch, visitor);
      case Opcode::kPutManyShm:
        return visit_as<PutManyShmRequest>(meta, max_batch, visitor);
      case Opcode::kNone:
        break;
    }
    return Status::InvalidArgument("visit_meta: a request without an opcode");
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
  switch (header.opcode) {
    case Opcode::kHello:
      return visit_as<HelloResponse>(meta, max_batch, visitor);
    case Opcode::kPing:
      return visit_as<PingResponse>(meta, max_batch, visitor);
    case Opcode::kPut:
      return visit_as<PutResponse>(meta, max_batch, visitor);
    case Opcode::kGet:
      return visit_as<GetResponse>(meta, max_batch, visitor);
    case Opcode::kLookup:
      return visit_as<LookupResponse>(meta, max_batch, visitor);
    case Opcode::kPutMany:
      return visit_as<PutManyResponse>(meta, max_batch, visitor);
    case Opcode::kGetMany:
      return visit_as<GetManyResponse>(meta, max_batch, visitor);
    case Opcode::kRemove:
      return visit_as<RemoveResponse>(meta, max_batch, visitor);
    case Opcode::kPin:
      return visit_as<PinResponse>(meta, max_batch, visitor);
    case Opcode::kUnpin:
      return visit_as<UnpinResponse>(meta, max_batch, visitor);
    case Opcode::kStats:
      return visit_as<StatsResponse>(meta, max_batch, visitor);
    case Opcode::kShmRegister:
      return visit_as<ShmRegisterResponse>(meta, max_batch, visitor);
    case Opcode::kGetManyShm:
      return visit_as<GetManyShmResponse>(meta, max_batch, visitor);
    case Opcode::kPutManyShm:
      return visit_as<PutManyShmResponse>(meta, max_batch, visitor);
    case Opcode::kNone:
      break;
  }
  return Status::InvalidArgument("visit_meta: an OK response without an opcode");
}

}  // namespace kvtier::protocol
