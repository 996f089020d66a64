// Wire frames of the kvtier protocol: the pinned 32-byte header, its limits, and FrameReader, the
// incremental decoder shared by the daemon and clients. docs/PROTOCOL.md describes the same
// layout for people; change both together. The header is the same in every protocol version
// (kFrameVersion); what versions change is the meta of messages (meta.h, negotiated in HELLO).
//
// Frame: [FrameHeader, 32 bytes][meta, meta_len bytes][data, data_len bytes]
// Meta is small and parsed whole (src/protocol/meta.h); data is never buffered here: the reader
// tells the caller how many data bytes follow and the caller moves them straight from its input
// (or the socket) to their destination.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "kvtier/status.h"

namespace kvtier::protocol {

// The header's version byte: 1 in every protocol version, so peers of different versions can
// always frame HELLO and negotiate. A change of the header itself would be a new frame version,
// which no peer of this one could read.
inline constexpr std::uint8_t kFrameVersion = 1;

// "KVTP" (kvtier protocol) read as a little-endian u32: bytes 'K' 'V' 'T' 'P' on the wire.
inline constexpr std::uint32_t kProtocolMagic = 0x5054564bu;

inline constexpr std::size_t kFrameHeaderBytes = 32;

// Meta is held whole in memory while it is decoded, so it gets a small hard cap. 1 MiB fits a
// GET_MANY of 43,690 items, far above any useful batch.
inline constexpr std::uint32_t kMaxMetaBytes = 1u << 20;
// Data is streamed, never held; the cap bounds how long one frame can occupy a connection. A
// daemon may configure less per connection (FrameReader::create, HELLO's max_data_bytes).
inline constexpr std::uint64_t kDefaultMaxDataBytes = 1ull << 30;
// An error response's meta is its message: enough for a clear sentence, not a dump.
inline constexpr std::uint32_t kMaxErrorMessageBytes = 4096;

// flags: bit 0 marks a response; bit 1, on a PUT, PUT_MANY or PUT_MANY_SHM request only, asks
// that it be answered once its values are durable (where the daemon offers the durable_put
// capability, docs/PROTOCOL.md); every other bit is reserved and must be 0. A daemon of this
// header's first release refuses bit 1 as reserved, which is why a client sets it only where
// HELLO announced the capability.
inline constexpr std::uint16_t kFlagResponse = 0x1;
inline constexpr std::uint16_t kFlagDurable = 0x2;
inline constexpr std::uint16_t kKnownFlags = kFlagResponse | kFlagDurable;
// The flag bits protocol version `v` defines: version 1 has only kFlagResponse, so a session that
// chose it is refused bit 1 as reserved, as a daemon of version 1 refused it.
constexpr std::uint16_t known_flags(std::uint16_t v) {
  return v >= 2 ? kKnownFlags : kFlagResponse;
}

enum class Opcode : std::uint8_t {
  // Never a request. Used only by an error response to a frame whose opcode is unknown or whose
  // header could not be read at all.
  kNone = 0,
  kHello = 1,
  kPing = 2,
  kPut = 3,
  kGet = 4,
  kLookup = 5,
  kPutMany = 6,
  kGetMany = 7,
  kRemove = 8,
  kPin = 9,
  kUnpin = 10,
  kStats = 11,
  kShmRegister = 12,
  kGetManyShm = 13,
  kPutManyShm = 14,
};
inline constexpr std::uint8_t kMaxOpcode = 14;

// Which frames a stream carries: the daemon reads requests, a client reads responses.
enum class FrameKind : std::uint8_t { kRequest, kResponse };

// "GET_MANY"; "NONE" for kNone, "UNKNOWN" for a value that is not an opcode.
std::string_view opcode_name(Opcode op);
// Whether `raw` names an operation (1..kMaxOpcode; kNone does not).
bool is_known_opcode(std::uint8_t raw);
// Whether frames of `op` in direction `kind` may have data: PUT and PUT_MANY requests, GET and
// GET_MANY responses. Every other frame has data_len 0.
bool opcode_carries_data(Opcode op, FrameKind kind);
// The StatusCode a wire status value names, or nullopt when it names none. The wire carries
// exactly the codes of kvtier/status.h; adding a code there fails this file's -Wswitch build
// until the protocol (and its version) is updated to match.
std::optional<StatusCode> status_code_from_wire(std::uint32_t raw);

// The header exactly as on the wire (docs/PROTOCOL.md, "Frames"). Field offsets are pinned below;
// encode_header/decode_header write each field at its offset, little-endian.
struct FrameHeader {
  std::uint32_t magic = kProtocolMagic;
  std::uint8_t version = kFrameVersion;
  Opcode opcode = Opcode::kNone;  // set it: kNone is valid only in some error responses
  std::uint16_t flags = 0;        // kFlagResponse on responses
  std::uint64_t request_id = 0;   // chosen by the client, echoed by the response
  std::uint32_t status = 0;       // responses: a StatusCode; requests: 0
  std::uint32_t meta_len = 0;     // <= kMaxMetaBytes
  std::uint64_t data_len = 0;     // <= the reader's max_data_bytes

  bool is_response() const { return (flags & kFlagResponse) != 0; }
  friend bool operator==(const FrameHeader&, const FrameHeader&) = default;
};
static_assert(sizeof(FrameHeader) == kFrameHeaderBytes,
              "FrameHeader is pinned; bump kFrameVersion");
static_assert(offsetof(FrameHeader, magic) == 0 && offsetof(FrameHeader, version) == 4 &&
                  offsetof(FrameHeader, opcode) == 5 && offsetof(FrameHeader, flags) == 6 &&
                  offsetof(FrameHeader, request_id) == 8 && offsetof(FrameHeader, status) == 16 &&
                  offsetof(FrameHeader, meta_len) == 20 && offsetof(FrameHeader, data_len) == 24,
              "FrameHeader field offsets are pinned; bump kFrameVersion");

void encode_header(const FrameHeader& header, std::span<std::byte, kFrameHeaderBytes> out);
// Reads the fields as they are; validate_header() says whether they make sense.
FrameHeader decode_header(std::span<const std::byte, kFrameHeaderBytes> in);

// Checks everything that can be checked on the header alone, before any meta or data is read:
// magic, version, flags (reserved bits 0, response bit matching `accepts`, the durable bit on a
// put request only), opcode (known; kNone
// only in an error response), status (requests: 0; responses: a known code, and an error carries
// at most kMaxErrorMessageBytes of meta and no data), meta_len <= kMaxMetaBytes, data_len <=
// max_data_bytes, and data_len 0 for frames that carry no data. InvalidArgument names the bad
// field; TooLarge names the exceeded limit.
// Flags outside `allowed_flags` are reserved (known_flags of the stream's protocol version).
Status validate_header(const FrameHeader& header, FrameKind accepts, std::uint64_t max_data_bytes,
                       std::uint16_t allowed_flags = kKnownFlags);

// Why FrameReader refused a stream.
struct FrameError {
  Status status;  // names the violated field or limit
  // What the error response carries: the frame's opcode and request_id when its header could be
  // read, else kNone and 0 (append_error_frame in meta.h builds it).
  Opcode opcode = Opcode::kNone;
  std::uint64_t request_id = 0;
  // Whether the connection must be closed after the error response. Always true for FrameReader
  // errors in version 1: once a header fails validation the stream's framing cannot be trusted
  // (docs/PROTOCOL.md, "Errors"). Kept as a field so the daemon never hard-codes that rule.
  bool close_connection = true;
};

// What FrameReader::feed() reports. Each frame yields, in order: kHeaderReady, kMetaReady,
// kDataPending (while data bytes remain; zero times when data_len is 0), kFrameDone.
enum class ReadState : std::uint8_t {
  kNeedMore,     // the header or meta is incomplete: feed more bytes
  kHeaderReady,  // header() is complete and valid; the meta has not been read yet
  kMetaReady,    // meta() holds the whole meta
  kDataPending,  // data_remaining() data bytes follow: take_data() or consume_data() them
  kFrameDone,    // the frame is complete; the next feed() starts the next frame
  kError,        // error() says why; the reader stays in this state
};

// Incremental frame decoder for one connection: feed it bytes as they arrive, in chunks of any
// size, and it reports each frame's parts in order. It buffers at most one header and one meta
// (<= kMaxMetaBytes); data bytes are never copied: the caller moves them from its own input.
//
//   std::span<const std::byte> in = bytes_read_from_socket;
//   for (;;) switch (reader.feed(in)) {
//     case ReadState::kNeedMore:    read more; ...
//     case ReadState::kHeaderReady: reader.header() ...   (reject early, size a buffer)
//     case ReadState::kMetaReady:   decode_meta<...>(reader.meta(), ...)
//     case ReadState::kDataPending: sink(reader.take_data(in)); or recv() straight into the
//                                   destination and consume_data(n); if in is empty, read more
//     case ReadState::kFrameDone:   dispatch the request; continue with the next frame
//     case ReadState::kError:       reply with reader.error() and close
//   }
//
// Thread-safety: none; one reader per connection, used by one thread at a time.
class FrameReader {
 public:
  // A reader of `accepts` frames that refuses any frame with more than `max_data_bytes` of data.
  // InvalidArgument when max_data_bytes > kDefaultMaxDataBytes.
  static Result<FrameReader> create(FrameKind accepts,
                                    std::uint64_t max_data_bytes = kDefaultMaxDataBytes);

  // Consumes header and meta bytes from the front of `input` (advancing it) and reports the next
  // event. In the data phase it consumes nothing: data is the caller's to move (take_data or
  // consume_data). Reports an event as soon as it is known, even with `input` empty.
  ReadState feed(std::span<const std::byte>& input);

  // Valid from kHeaderReady until the next frame starts.
  const FrameHeader& header() const { return header_; }
  // Valid from kMetaReady until the next frame starts.
  std::span<const std::byte> meta() const { return meta_; }
  // Data bytes of the current frame not yet consumed.
  std::uint64_t data_remaining() const { return data_remaining_; }
  // Records that the caller moved `n` data bytes (read from its input or straight off the
  // socket). REQUIRES: the last event was kDataPending and n <= data_remaining().
  void consume_data(std::uint64_t n);
  // The data bytes of this frame at the front of `input` (up to data_remaining()): removes them
  // from `input`, consumes them and returns them for the caller to move. No copy is made.
  // REQUIRES: the last event was kDataPending.
  std::span<const std::byte> take_data(std::span<const std::byte>& input);

  // Valid after kError.
  const FrameError& error() const { return error_; }

  // The flags frames may carry from the next header on (known_flags of the stream's protocol
  // version; every flag this code knows until called).
  void allow_flags(std::uint16_t flags) { allowed_flags_ = flags; }

  // Bytes of memory the reader holds (header and meta buffers): at most kFrameHeaderBytes +
  // kMaxMetaBytes, and back under kFrameHeaderBytes + kRetainedMetaBytes once the frame after a
  // large meta starts.
  std::size_t buffered_bytes() const { return header_buf_.size() + meta_.capacity(); }
  // Meta buffer capacity kept across frames; a larger buffer is released when the next frame
  // starts, so a connection that once sent a big batch does not pin a megabyte.
  static constexpr std::size_t kRetainedMetaBytes = 64 * 1024;

 private:
  enum class Phase : std::uint8_t { kHeader, kMeta, kData, kDone, kError };

  FrameReader(FrameKind accepts, std::uint64_t max_data_bytes)
      : accepts_(accepts), max_data_bytes_(max_data_bytes) {}
  void start_frame();
  ReadState fail(Status status, Opcode opcode, std::uint64_t request_id);
  // Checks the header bytes received so far against the magic and version, so a peer that is not
  // speaking kvtier (HTTP, TLS) is refused at its first bytes rather than after 32.
  Status check_header_prefix() const;

  FrameKind accepts_;
  std::uint64_t max_data_bytes_;
  std::uint16_t allowed_flags_ = kKnownFlags;
  Phase phase_ = Phase::kHeader;
  std::size_t header_have_ = 0;
  std::array<std::byte, kFrameHeaderBytes> header_buf_{};
  FrameHeader header_;
  std::vector<std::byte> meta_;
  std::uint64_t data_remaining_ = 0;
  FrameError error_;
};

}  // namespace kvtier::protocol
