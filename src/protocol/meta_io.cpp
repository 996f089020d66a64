// Bounds-checked meta primitives (see meta_io.h).
#include "protocol/meta_io.h"

#include <cstring>
#include <string>
#include <type_traits>

namespace kvtier::protocol {

// keys() copies key arrays as bytes: a Key must be exactly its 16 bytes.
static_assert(sizeof(Key) == kKeyBytes && std::is_trivially_copyable_v<Key>);

void MetaWriter::keys(std::span<const Key> ks) {
  std::size_t at = out_.size();
  out_.resize(at + ks.size_bytes());
  if (!ks.empty()) std::memcpy(out_.data() + at, ks.data(), ks.size_bytes());
}

void MetaWriter::bytes(std::string_view b) {
  integer(static_cast<std::uint32_t>(b.size()));
  const auto* p = reinterpret_cast<const std::byte*>(b.data());
  out_.insert(out_.end(), p, p + b.size());
}

std::string MetaReader::what() const {
  return std::string(opcode_name(op_)) +
         (kind_ == FrameKind::kRequest ? " request meta: " : " response meta: ");
}

Status MetaReader::invalid(const std::string& message) const {
  return Status::InvalidArgument(what() + message);
}

Status MetaReader::too_large(const std::string& message) const {
  return Status::TooLarge(what() + message);
}

Status MetaReader::need(std::string_view field, std::size_t n) const {
  if (remaining() >= n) return Status::Ok();
  return invalid(std::string(field) + " needs " + std::to_string(n) + " bytes, " +
                 std::to_string(remaining()) + " left");
}

Status MetaReader::keys(std::string_view field, std::span<Key> out) {
  KVTIER_RETURN_IF_ERROR(need(field, out.size_bytes()));
  if (!out.empty()) std::memcpy(out.data(), in_.data() + pos_, out.size_bytes());
  pos_ += out.size_bytes();
  return Status::Ok();
}

Status MetaReader::bytes(std::string_view field, std::size_t max_len, std::string* out) {
  std::uint32_t len = 0;
  KVTIER_RETURN_IF_ERROR(integer(field, &len));
  if (len > remaining()) {
    return invalid(std::string(field) + " of " + std::to_string(len) + " bytes, " +
                   std::to_string(remaining()) + " left");
  }
  if (len > max_len) {
    return too_large(std::string(field) + " of " + std::to_string(len) +
                     " bytes exceeds its limit of " + std::to_string(max_len));
  }
  out->assign(reinterpret_cast<const char*>(in_.data() + pos_), len);
  pos_ += len;
  return Status::Ok();
}

Status MetaReader::list_count(std::string_view field, std::size_t item_bytes,
                              std::uint32_t max_batch, std::uint32_t* count) {
  std::uint32_t n = 0;
  KVTIER_RETURN_IF_ERROR(integer(field, &n));
  // n < 2^32 and item_bytes is a small wire constant, so the product fits in 64 bits.
  std::uint64_t bytes_needed = static_cast<std::uint64_t>(n) * item_bytes;
  if (bytes_needed > remaining()) {
    return invalid(std::string(field) + " of " + std::to_string(n) + " items needs " +
                   std::to_string(bytes_needed) + " bytes, " + std::to_string(remaining()) +
                   " left");
  }
  if (n > max_batch) {
    return too_large(std::string(field) + " of " + std::to_string(n) +
                     " items exceeds max_batch (" + std::to_string(max_batch) + ")");
  }
  *count = n;
  return Status::Ok();
}

Status MetaReader::finish() const {
  if (remaining() == 0) return Status::Ok();
  return invalid(std::to_string(remaining()) + " trailing bytes after the last field");
}

}  // namespace kvtier::protocol
