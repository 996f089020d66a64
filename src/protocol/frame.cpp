// Frame header codec, header validation and the incremental FrameReader (see frame.h).
#include "protocol/frame.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <string>

#include "integrity/check.h"
#include "coding/little_endian.h"

namespace kvtier::protocol {
namespace {

// The opcode table: one row per opcode, indexed by its value (row 0 is not an opcode).
struct OpcodeInfo {
  std::string_view name;
  bool request_data;   // requests may carry data
  bool response_data;  // responses may carry data
};
constexpr std::array<OpcodeInfo, kMaxOpcode + 1> kOpcodes = {{
    {"NONE", false, false},
    {"HELLO", false, false},
    {"PING", false, false},
    {"PUT", true, false},
    {"GET", false, true},
    {"LOOKUP", false, false},
    {"PUT_MANY", true, false},
    {"GET_MANY", false, true},
    {"REMOVE", false, false},
    {"PIN", false, false},
    {"UNPIN", false, false},
    {"STATS", false, false},
    {"SHM_REGISTER", false, false},
    {"GET_MANY_SHM", false, false},
    {"PUT_MANY_SHM", false, false},
}};

std::string hex(std::uint64_t v, int digits) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(v));
  return buf;
}

// "PUT request", "GET response": how messages name the frame they are about.
std::string frame_name(const FrameHeader& h) {
  std::string s(opcode_name(h.opcode));
  s += h.is_response() ? " response" : " request";
  return s;
}

Status invalid(const std::string& what) { return Status::InvalidArgument("frame header: " + what); }
Status too_large(const std::string& what) { return Status::TooLarge("frame header: " + what); }

Status unsupported_version(unsigned version) {
  return invalid("version " + std::to_string(version) + " is not supported (this build speaks " +
                 std::to_string(kFrameVersion) + ")");
}

}  // namespace

std::string_view opcode_name(Opcode op) {
  auto raw = static_cast<std::uint8_t>(op);
  return raw <= kMaxOpcode ? kOpcodes[raw].name : "UNKNOWN";
}

bool is_known_opcode(std::uint8_t raw) { return raw >= 1 && raw <= kMaxOpcode; }

bool opcode_carries_data(Opcode op, FrameKind kind) {
  auto raw = static_cast<std::uint8_t>(op);
  if (!is_known_opcode(raw)) return false;
  return kind == FrameKind::kRequest ? kOpcodes[raw].request_data : kOpcodes[raw].response_data;
}

std::optional<StatusCode> status_code_from_wire(std::uint32_t raw) {
  if (raw > 0xff) return std::nullopt;
  auto code = static_cast<StatusCode>(raw);
  // No default: a new StatusCode is a compile error (-Wswitch -Werror) until it is added here,
  // which is a protocol change (docs/PROTOCOL.md, kFrameVersion).
  switch (code) {
    case StatusCode::kOk:
    case StatusCode::kNotFound:
    case StatusCode::kInvalidArgument:
    case StatusCode::kBufferTooSmall:
    case StatusCode::kNoSpace:
    case StatusCode::kBusy:
    case StatusCode::kCorruption:
    case StatusCode::kIOError:
    case StatusCode::kTooLarge:
    case StatusCode::kClosed:
    case StatusCode::kRejected:
      return code;
  }
  return std::nullopt;
}

void encode_header(const FrameHeader& h, std::span<std::byte, kFrameHeaderBytes> out) {
  std::byte* p = out.data();
  store_le(p + offsetof(FrameHeader, magic), h.magic);
  store_le(p + offsetof(FrameHeader, version), h.version);
  store_le(p + offsetof(FrameHeader, opcode), static_cast<std::uint8_t>(h.opcode));
  store_le(p + offsetof(FrameHeader, flags), h.flags);
  store_le(p + offsetof(FrameHeader, request_id), h.request_id);
  store_le(p + offsetof(FrameHeader, status), h.status);
  store_le(p + offsetof(FrameHeader, meta_len), h.meta_len);
  store_le(p + offsetof(FrameHeader, data_len), h.data_len);
}

FrameHeader decode_header(std::span<const std::byte, kFrameHeaderBytes> in) {
  const std::byte* p = in.data();
  FrameHeader h;
  h.magic = load_le<std::uint32_t>(p + offsetof(FrameHeader, magic));
  h.version = load_le<std::uint8_t>(p + offsetof(FrameHeader, version));
  h.opcode = static_cast<Opcode>(load_le<std::uint8_t>(p + offsetof(FrameHeader, opcode)));
  h.flags = load_le<std::uint16_t>(p + offsetof(FrameHeader, flags));
  h.request_id = load_le<std::uint64_t>(p + offsetof(FrameHeader, request_id));
  h.status = load_le<std::uint32_t>(p + offsetof(FrameHeader, status));
  h.meta_len = load_le<std::uint32_t>(p + offsetof(FrameHeader, meta_len));
  h.data_len = load_le<std::uint64_t>(p + offsetof(FrameHeader, data_len));
  return h;
}

Status validate_header(const FrameHeader& h, FrameKind accepts, std::uint64_t max_data_bytes,
                       std::uint16_t allowed_flags) {
  if (h.magic != kProtocolMagic) {
    return invalid("magic " + hex(h.magic, 8) + " is not " + hex(kProtocolMagic, 8) + " ('KVTP')");
  }
  if (h.version != kFrameVersion) return unsupported_version(h.version);
  if ((h.flags & ~allowed_flags) != 0) {
    return invalid("reserved flag bits " + hex(h.flags & ~allowed_flags, 4) + " are set");
  }
  if (h.is_response() != (accepts == FrameKind::kResponse)) {
    return invalid(h.is_response() ? "flags mark a response, but this stream carries requests"
                                   : "flags mark a request, but this stream carries responses");
  }
  // kNone names no operation; only the error reply to an unreadable frame may carry it.
  bool none_allowed = h.opcode == Opcode::kNone && h.is_response() && h.status != 0;
  if (!is_known_opcode(static_cast<std::uint8_t>(h.opcode)) && !none_allowed) {
    return invalid("unknown opcode " + std::to_string(static_cast<unsigned>(h.opcode)));
  }
  const std::string name = frame_name(h);
  const bool is_put = h.opcode == Opcode::kPut || h.opcode == Opcode::kPutMany ||
                      h.opcode == Opcode::kPutManyShm;
  if ((h.flags & kFlagDurable) != 0 && (h.is_response() || !is_put)) {
    return invalid(name + " has the durable flag, which only a put request may carry");
  }
  if (!h.is_response() && h.status != 0) {
    return invalid(name + " has status " + std::to_string(h.status) + "; requests carry 0");
  }
  if (h.is_response() && !status_code_from_wire(h.status)) {
    return invalid(name + " status " + std::to_string(h.status) + " is not a status code");
  }
  if (h.meta_len > kMaxMetaBytes) {
    return too_large(name + " meta_len " + std::to_string(h.meta_len) + " exceeds kMaxMetaBytes (" +
                     std::to_string(kMaxMetaBytes) + ")");
  }
  if (h.data_len > max_data_bytes) {
    return too_large(name + " data_len " + std::to_string(h.data_len) +
                     " exceeds max_data_bytes (" + std::to_string(max_data_bytes) + ")");
  }
  if (h.data_len != 0 && !opcode_carries_data(h.opcode, accepts)) {
    return invalid(name + " carries no data, but data_len is " + std::to_string(h.data_len));
  }
  if (h.is_response() && h.status != 0) {
    if (h.data_len != 0) {
      return invalid(name + " with status " + std::to_string(h.status) + " has data_len " +
                     std::to_string(h.data_len) + "; errors carry no data");
    }
    if (h.meta_len > kMaxErrorMessageBytes) {
      return too_large(name + " with status " + std::to_string(h.status) + " has meta_len " +
                       std::to_string(h.meta_len) + ", above kMaxErrorMessageBytes (" +
                       std::to_string(kMaxErrorMessageBytes) + ")");
    }
  }
  return Status::Ok();
}

Result<FrameReader> FrameReader::create(FrameKind accepts, std::uint64_t max_data_bytes) {
  if (max_data_bytes > kDefaultMaxDataBytes) {
    return Status::InvalidArgument("FrameReader: max_data_bytes " + std::to_string(max_data_bytes) +
                                   " exceeds kDefaultMaxDataBytes (" +
                                   std::to_string(kDefaultMaxDataBytes) + ")");
  }
  return FrameReader(accepts, max_data_bytes);
}

void FrameReader::start_frame() {
  header_have_ = 0;
  header_ = FrameHeader{};
  meta_.clear();
  if (meta_.capacity() > kRetainedMetaBytes) std::vector<std::byte>().swap(meta_);
  data_remaining_ = 0;
  phase_ = Phase::kHeader;
}

ReadState FrameReader::fail(Status status, Opcode opcode, std::uint64_t request_id) {
  error_ = FrameError{std::move(status), opcode, request_id, /*close_connection=*/true};
  phase_ = Phase::kError;
  return ReadState::kError;
}

Status FrameReader::check_header_prefix() const {
  std::array<std::byte, 4> magic;
  store_le(magic.data(), kProtocolMagic);
  std::size_t n = std::min<std::size_t>(header_have_, magic.size());
  if (std::memcmp(header_buf_.data(), magic.data(), n) != 0) {
    std::string got;
    for (std::size_t i = 0; i < n; ++i) {
      got += hex(std::to_integer<unsigned>(header_buf_[i]), 2).substr(2);
      if (i + 1 < n) got += ' ';
    }
    return invalid("magic bytes " + got + " do not match 'KVTP' (" + hex(kProtocolMagic, 8) + ")");
  }
  auto version_at = offsetof(FrameHeader, version);
  if (header_have_ > version_at &&
      std::to_integer<std::uint8_t>(header_buf_[version_at]) != kFrameVersion) {
    return unsupported_version(std::to_integer<unsigned>(header_buf_[version_at]));
  }
  return Status::Ok();
}

ReadState FrameReader::feed(std::span<const std::byte>& input) {
  switch (phase_) {
    case Phase::kError:
      return ReadState::kError;
    case Phase::kDone:
      start_frame();
      [[fallthrough]];
    case Phase::kHeader: {
      std::size_t n = std::min(input.size(), kFrameHeaderBytes - header_have_);
      if (n > 0) std::memcpy(header_buf_.data() + header_have_, input.data(), n);
      header_have_ += n;
      input = input.subspan(n);
      if (Status s = check_header_prefix(); !s.ok()) return fail(std::move(s), Opcode::kNone, 0);
      if (header_have_ < kFrameHeaderBytes) return ReadState::kNeedMore;
      header_ = decode_header(header_buf_);
      if (Status s = validate_header(header_, accepts_, max_data_bytes_, allowed_flags_); !s.ok()) {
        // Past the magic and version check the header layout is known, so the id is real; the
        // opcode is echoed only when it names an operation.
        bool known = is_known_opcode(static_cast<std::uint8_t>(header_.opcode));
        return fail(std::move(s), known ? header_.opcode : Opcode::kNone, header_.request_id);
      }
      data_remaining_ = header_.data_len;
      phase_ = Phase::kMeta;
      return ReadState::kHeaderReady;
    }
    case Phase::kMeta: {
      std::size_t n = std::min<std::size_t>(input.size(), header_.meta_len - meta_.size());
      std::size_t need = meta_.size() + n;
      if (need > meta_.capacity()) {
        // Grow by doubling, but never past meta_len: memory follows the bytes actually received
        // (a peer cannot make us allocate 1 MiB by sending a header and stalling), and never
        // exceeds kMaxMetaBytes.
        meta_.reserve(
            std::min<std::size_t>(header_.meta_len, std::max(need, 2 * meta_.capacity())));
      }
      meta_.insert(meta_.end(), input.begin(), input.begin() + static_cast<std::ptrdiff_t>(n));
      input = input.subspan(n);
      if (meta_.size() < header_.meta_len) return ReadState::kNeedMore;
      phase_ = Phase::kData;
      return ReadState::kMetaReady;
    }
    case Phase::kData:
      if (data_remaining_ > 0) return ReadState::kDataPending;
      phase_ = Phase::kDone;
      return ReadState::kFrameDone;
  }
  return ReadState::kError;  // unreachable: every phase returns above
}

void FrameReader::consume_data(std::uint64_t n) {
  KVTIER_CHECK(phase_ == Phase::kData && n <= data_remaining_);
  data_remaining_ -= n;
}

std::span<const std::byte> FrameReader::take_data(std::span<const std::byte>& input) {
  KVTIER_CHECK(phase_ == Phase::kData);
  auto n = static_cast<std::size_t>(std::min<std::uint64_t>(input.size(), data_remaining_));
  std::span<const std::byte> out = input.first(n);
  input = input.subspan(n);
  data_remaining_ -= n;
  return out;
}

}  // namespace kvtier::protocol
