// What the field lists of meta.h do not say (HELLO's version range), the data length of list
// messages, error responses and whole-frame builders.
#include "protocol/meta.h"

#include <string>

namespace kvtier::protocol {
namespace {

std::string frame_name(Opcode op, FrameKind kind) {
  return std::string(opcode_name(op)) + (kind == FrameKind::kRequest ? " request" : " response");
}

// Fills in the header reserved by begin_frame, or removes the partial frame.
Status seal_frame(std::vector<std::byte>& out, std::size_t start, Opcode op, FrameKind kind,
                  std::uint64_t request_id, StatusCode status, std::uint64_t data_len,
                  std::uint16_t flags = 0) {
  std::size_t meta_len = out.size() - start - kFrameHeaderBytes;
  if (meta_len > kMaxMetaBytes) {
    out.resize(start);
    return Status::TooLarge("frame: " + frame_name(op, kind) + " meta of " +
                            std::to_string(meta_len) + " bytes exceeds kMaxMetaBytes (" +
                            std::to_string(kMaxMetaBytes) + ")");
  }
  FrameHeader h;
  h.opcode = op;
  h.flags = flags | (kind == FrameKind::kResponse ? kFlagResponse : 0);
  h.request_id = request_id;
  h.status = static_cast<std::uint32_t>(status);
  h.meta_len = static_cast<std::uint32_t>(meta_len);
  h.data_len = data_len;
  // The sender applies the reader's checks, so it never emits a frame its peer must refuse.
  if (Status s = validate_header(h, kind, kDefaultMaxDataBytes); !s.ok()) {
    out.resize(start);
    return s;
  }
  encode_header(h, std::span<std::byte, kFrameHeaderBytes>(out.data() + start, kFrameHeaderBytes));
  return Status::Ok();
}

}  // namespace

Status HelloRequest::check_decoded(const MetaReader& r) const {
  if (min_version <= max_version) return Status::Ok();
  return r.invalid("min_version " + std::to_string(min_version) + " > max_version " +
                   std::to_string(max_version));
}

// ---- Data that follows the meta ----

namespace {
Status add_checked(std::uint64_t* total, std::uint64_t v, const char* what) {
  if (v > ~std::uint64_t{0} - *total) {
    return Status::InvalidArgument(std::string(what) + ": value lengths add up to more than 2^64");
  }
  *total += v;
  return Status::Ok();
}
}  // namespace

Result<std::uint64_t> data_len_of(const PutManyRequest& m) {
  std::uint64_t total = 0;
  for (const PutManyItem& i : m.items) {
    KVTIER_RETURN_IF_ERROR(add_checked(&total, i.value_len, "PUT_MANY request"));
  }
  return total;
}

Result<std::uint64_t> data_len_of(const GetManyResponse& m) {
  std::uint64_t total = 0;
  for (const ItemResult& r : m.results) {
    if (r.status != StatusCode::kOk) continue;
    KVTIER_RETURN_IF_ERROR(add_checked(&total, r.value_len, "GET_MANY response"));
  }
  return total;
}

// ---- Error responses ----

bool response_meta_is_message(Opcode op, StatusCode status) {
  if (status == StatusCode::kOk) return false;
  // A GET that was too small for the value still learns the value's size, so it can retry.
  return !(op == Opcode::kGet && status == StatusCode::kBufferTooSmall);
}

Result<std::string> decode_error_message(std::span<const std::byte> meta) {
  if (meta.size() > kMaxErrorMessageBytes) {
    return Status::TooLarge("error response meta: message of " + std::to_string(meta.size()) +
                            " bytes exceeds kMaxErrorMessageBytes (" +
                            std::to_string(kMaxErrorMessageBytes) + ")");
  }
  return std::string(reinterpret_cast<const char*>(meta.data()), meta.size());
}

// ---- Whole frames ----

std::size_t begin_frame(std::vector<std::byte>& out) {
  std::size_t start = out.size();
  out.resize(start + kFrameHeaderBytes);
  return start;
}

Status finish_frame(std::vector<std::byte>& out, std::size_t frame_start, Opcode op, FrameKind kind,
                    std::uint64_t request_id, StatusCode status, std::uint64_t data_len,
                    std::uint16_t flags) {
  if (kind == FrameKind::kResponse && response_meta_is_message(op, status)) {
    out.resize(frame_start);
    return Status::InvalidArgument("frame: a " + frame_name(op, kind) + " with status " +
                                   std::string(status_code_name(status)) +
                                   " carries a message; use append_error_frame");
  }
  return seal_frame(out, frame_start, op, kind, request_id, status, data_len, flags);
}

Status append_error_frame(std::vector<std::byte>& out, Opcode op, std::uint64_t request_id,
                          const Status& error) {
  if (error.ok()) return Status::InvalidArgument("frame: an error response needs a non-OK status");
  if (!response_meta_is_message(op, error.code())) {
    return Status::InvalidArgument("frame: a " + frame_name(op, FrameKind::kResponse) +
                                   " with status " + std::string(status_code_name(error.code())) +
                                   " carries its response meta; use append_frame");
  }
  std::string_view message = error.message();
  if (message.size() > kMaxErrorMessageBytes) {
    // Cut before the character that straddles the limit: back up over continuation bytes
    // (10xxxxxx) to that character's first byte and drop it too.
    std::size_t cut = kMaxErrorMessageBytes;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
    message = message.substr(0, cut);
  }
  std::size_t start = begin_frame(out);
  const auto* p = reinterpret_cast<const std::byte*>(message.data());
  out.insert(out.end(), p, p + message.size());
  return seal_frame(out, start, op, FrameKind::kResponse, request_id, error.code(), 0);
}

}  // namespace kvtier::protocol
