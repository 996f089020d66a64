// Typed meta of every kvtier operation, request and response, each declaring its layout once as a
// field list (meta_fields.h) from which its encoder and decoder follow.
// The layouts are the "Operations" table of docs/PROTOCOL.md; change both together, and change a
// layout only in a new protocol version (kMaxProtocolVersion, since_version). Decoders check
// layout and list counts only; value rules that need the daemon's configuration (value_len 0 or
// above max_value_bytes, region bounds) are the daemon's.
//
// Decoder errors (see MetaReader): InvalidArgument when the meta does not match its layout (the
// connection is closed, like a bad header), TooLarge when a well-formed field exceeds a limit
// (list longer than max_batch, PING payload above 1 KiB; the connection stays open).
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "kvtier/key.h"
#include "kvtier/status.h"
#include "protocol/frame.h"
#include "protocol/meta_fields.h"
#include "protocol/meta_io.h"

namespace kvtier::protocol {

// Protocol versions (docs/PROTOCOL.md, "Versions"). HELLO's request offers a range, its response
// names the version chosen, and every message after it has that version's layout:
//   1  the first.
//   2  HELLO's response ends with u64 capabilities.
inline constexpr std::uint16_t kMinProtocolVersion = 1;
inline constexpr std::uint16_t kMaxProtocolVersion = 2;

// Capabilities (HELLO's response from version 2 on): what this daemon does on this connection
// beyond what every daemon of the version does. A client tests a bit before it relies on what it
// names, and ignores bits it does not know, so adding one needs no new version.
enum Capability : std::uint64_t {
  // The *_SHM operations are served: the connection is on the Unix socket, where the memfd
  // travels with SCM_RIGHTS.
  kCapabilitySharedMemory = 1u << 0,
  // kFlagDurable is honoured on put requests: the daemon has an NVMe tier.
  kCapabilityDurablePut = 1u << 1,
};

inline constexpr std::uint32_t kMaxPingPayloadBytes = 1024;
// HELLO's token, client_name and tenant: names and secrets, never documents.
inline constexpr std::uint32_t kMaxHelloFieldBytes = 1024;
// A HELLO request's whole meta: two versions and two fields of at most kMaxHelloFieldBytes with
// their lengths fit with room to spare. Before HELLO a peer is nobody: the daemon reads no more
// of it than this (and no data).
inline constexpr std::uint32_t kMaxHelloMetaBytes = 4096;

// Every message names its frame: opcode, direction, and whether its meta holds a list (then its
// decoder takes max_batch). Its field list (meta_fields.h) is its layout; it compares by value.
#define KVTIER_PROTOCOL_MESSAGE(TYPE, OPCODE, KIND, HAS_LIST) \
  static constexpr Opcode kOpcode = Opcode::OPCODE;           \
  static constexpr FrameKind kKind = FrameKind::KIND;         \
  static constexpr bool kHasList = HAS_LIST;                  \
  friend bool operator==(const TYPE&, const TYPE&) = default

struct PutManyItem {
  Key key;
  std::uint64_t value_len = 0;
  static auto fields(auto& m) {
    return std::tuple{field("key", m.key), field("value_len", m.value_len)};
  }
  friend bool operator==(const PutManyItem&, const PutManyItem&) = default;
};
struct GetManyItem {
  Key key;
  std::uint64_t capacity = 0;  // bytes the client can receive for this value
  static auto fields(auto& m) {
    return std::tuple{field("key", m.key), field("capacity", m.capacity)};
  }
  friend bool operator==(const GetManyItem&, const GetManyItem&) = default;
};
struct ShmGetItem {
  Key key;
  std::uint64_t offset = 0;  // in the registered region
  std::uint64_t capacity = 0;
  static auto fields(auto& m) {
    return std::tuple{field("key", m.key), field("offset", m.offset),
                      field("capacity", m.capacity)};
  }
  friend bool operator==(const ShmGetItem&, const ShmGetItem&) = default;
};
struct ShmPutItem {
  Key key;
  std::uint64_t offset = 0;
  std::uint64_t value_len = 0;
  static auto fields(auto& m) {
    return std::tuple{field("key", m.key), field("offset", m.offset),
                      field("value_len", m.value_len)};
  }
  friend bool operator==(const ShmPutItem&, const ShmPutItem&) = default;
};
// One item's answer in GET_MANY(_SHM): value_len is set for kOk and kBufferTooSmall.
struct ItemResult {
  StatusCode status = StatusCode::kOk;
  std::uint64_t value_len = 0;
  static auto fields(auto& m) {
    return std::tuple{field("status", m.status), field("value_len", m.value_len)};
  }
  friend bool operator==(const ItemResult&, const ItemResult&) = default;
};

// ---- Requests ----

struct HelloRequest {
  KVTIER_PROTOCOL_MESSAGE(HelloRequest, kHello, kRequest, false);
  std::uint16_t min_version = kMinProtocolVersion;
  std::uint16_t max_version = kMaxProtocolVersion;
  std::string token;        // may be empty on the Unix socket (default tenant)
  std::string client_name;  // for logs
  // min_version <= max_version.
  Status check_decoded(const MetaReader& r) const;
  static auto fields(auto& m) {
    return std::tuple{field("min_version", m.min_version), field("max_version", m.max_version),
                      bytes_field("token", kMaxHelloFieldBytes, m.token),
                      bytes_field("client_name", kMaxHelloFieldBytes, m.client_name)};
  }
};
struct PingRequest {
  KVTIER_PROTOCOL_MESSAGE(PingRequest, kPing, kRequest, false);
  std::string payload;  // <= kMaxPingPayloadBytes
  static auto fields(auto& m) {
    return std::tuple{bytes_field("payload", kMaxPingPayloadBytes, m.payload)};
  }
};
struct PutRequest {  // data: the value, value_len bytes
  KVTIER_PROTOCOL_MESSAGE(PutRequest, kPut, kRequest, false);
  Key key;
  std::uint64_t value_len = 0;
  static auto fields(auto& m) {
    return std::tuple{field("key", m.key), field("value_len", m.value_len)};
  }
};
struct GetRequest {
  KVTIER_PROTOCOL_MESSAGE(GetRequest, kGet, kRequest, false);
  Key key;
  std::uint64_t capacity = 0;
  static auto fields(auto& m) {
    return std::tuple{field("key", m.key), field("capacity", m.capacity)};
  }
};
struct LookupRequest {
  KVTIER_PROTOCOL_MESSAGE(LookupRequest, kLookup, kRequest, true);
  std::vector<Key> keys;  // a chain, first chunk first
  static auto fields(auto& m) { return std::tuple{list_field(m.keys)}; }
};
struct PutManyRequest {  // data: the values back to back, in item order
  KVTIER_PROTOCOL_MESSAGE(PutManyRequest, kPutMany, kRequest, true);
  std::vector<PutManyItem> items;
  static auto fields(auto& m) { return std::tuple{list_field(m.items)}; }
};
struct GetManyRequest {
  KVTIER_PROTOCOL_MESSAGE(GetManyRequest, kGetMany, kRequest, true);
  std::vector<GetManyItem> items;
  static auto fields(auto& m) { return std::tuple{list_field(m.items)}; }
};
struct RemoveRequest {
  KVTIER_PROTOCOL_MESSAGE(RemoveRequest, kRemove, kRequest, false);
  Key key;
  static auto fields(auto& m) { return std::tuple{field("key", m.key)}; }
};
struct PinRequest {
  KVTIER_PROTOCOL_MESSAGE(PinRequest, kPin, kRequest, false);
  Key key;
  std::uint32_t lease_ms = 0;
  static auto fields(auto& m) {
    return std::tuple{field("key", m.key), field("lease_ms", m.lease_ms)};
  }
};
struct UnpinRequest {
  KVTIER_PROTOCOL_MESSAGE(UnpinRequest, kUnpin, kRequest, false);
  Key key;
  static auto fields(auto& m) { return std::tuple{field("key", m.key)}; }
};
struct StatsRequest {
  KVTIER_PROTOCOL_MESSAGE(StatsRequest, kStats, kRequest, false);
  static auto fields(auto&) { return std::tuple{}; }
};
struct ShmRegisterRequest {  // the memfd travels with SCM_RIGHTS on the Unix socket
  KVTIER_PROTOCOL_MESSAGE(ShmRegisterRequest, kShmRegister, kRequest, false);
  std::uint64_t size = 0;
  static auto fields(auto& m) { return std::tuple{field("size", m.size)}; }
};
struct GetManyShmRequest {
  KVTIER_PROTOCOL_MESSAGE(GetManyShmRequest, kGetManyShm, kRequest, true);
  std::uint32_t region_id = 0;
  std::vector<ShmGetItem> items;
  static auto fields(auto& m) {
    return std::tuple{field("region_id", m.region_id), list_field(m.items)};
  }
};
struct PutManyShmRequest {
  KVTIER_PROTOCOL_MESSAGE(PutManyShmRequest, kPutManyShm, kRequest, true);
  std::uint32_t region_id = 0;
  std::vector<ShmPutItem> items;
  static auto fields(auto& m) {
    return std::tuple{field("region_id", m.region_id), list_field(m.items)};
  }
};

// ---- Responses (status OK, except GetResponse which also answers buffer_too_small) ----

struct HelloResponse {
  KVTIER_PROTOCOL_MESSAGE(HelloResponse, kHello, kResponse, false);
  std::uint16_t version = kMaxProtocolVersion;  // chosen from the client's range
  std::string tenant;
  std::uint64_t max_value_bytes = 0;
  std::uint32_t max_batch = 0;
  std::uint64_t max_data_bytes = 0;
  std::uint64_t capabilities = 0;  // kCapability* bits; on the wire from version 2 on
  static auto fields(auto& m) {
    return std::tuple{field("version", m.version),
                      bytes_field("tenant", kMaxHelloFieldBytes, m.tenant),
                      field("max_value_bytes", m.max_value_bytes), field("max_batch", m.max_batch),
                      field("max_data_bytes", m.max_data_bytes),
                      since_version(2, m.version, field("capabilities", m.capabilities))};
  }
};
struct PingResponse {
  KVTIER_PROTOCOL_MESSAGE(PingResponse, kPing, kResponse, false);
  std::string payload;  // the request's payload
  static auto fields(auto& m) {
    return std::tuple{bytes_field("payload", kMaxPingPayloadBytes, m.payload)};
  }
};
struct PutResponse {
  KVTIER_PROTOCOL_MESSAGE(PutResponse, kPut, kResponse, false);
  static auto fields(auto&) { return std::tuple{}; }
};
struct GetResponse {  // data: the value (status OK); none with buffer_too_small
  KVTIER_PROTOCOL_MESSAGE(GetResponse, kGet, kResponse, false);
  std::uint64_t value_len = 0;
  static auto fields(auto& m) { return std::tuple{field("value_len", m.value_len)}; }
};
struct LookupResponse {
  KVTIER_PROTOCOL_MESSAGE(LookupResponse, kLookup, kResponse, false);
  std::uint64_t cached = 0;   // leading keys cached in some tier
  std::uint64_t in_dram = 0;  // of those, in DRAM
  std::uint64_t in_nvme = 0;  // of those, only on NVMe
  std::uint64_t in_shared = 0;  // of those, only in the shared tier
  static auto fields(auto& m) {
    return std::tuple{field("cached", m.cached), field("in_dram", m.in_dram),
                      field("in_nvme", m.in_nvme), field("in_shared", m.in_shared)};
  }
};
struct PutManyResponse {
  KVTIER_PROTOCOL_MESSAGE(PutManyResponse, kPutMany, kResponse, true);
  std::vector<StatusCode> statuses;  // one per request item
  static auto fields(auto& m) { return std::tuple{list_field(m.statuses)}; }
};
struct GetManyResponse {  // data: the values of kOk items back to back, in item order
  KVTIER_PROTOCOL_MESSAGE(GetManyResponse, kGetMany, kResponse, true);
  std::vector<ItemResult> results;  // one per request item
  static auto fields(auto& m) { return std::tuple{list_field(m.results)}; }
};
struct RemoveResponse {
  KVTIER_PROTOCOL_MESSAGE(RemoveResponse, kRemove, kResponse, false);
  static auto fields(auto&) { return std::tuple{}; }
};
struct PinResponse {
  KVTIER_PROTOCOL_MESSAGE(PinResponse, kPin, kResponse, false);
  static auto fields(auto&) { return std::tuple{}; }
};
struct UnpinResponse {
  KVTIER_PROTOCOL_MESSAGE(UnpinResponse, kUnpin, kResponse, false);
  static auto fields(auto&) { return std::tuple{}; }
};
struct StatsResponse {
  KVTIER_PROTOCOL_MESSAGE(StatsResponse, kStats, kResponse, false);
  std::string text;  // Prometheus text format
  static auto fields(auto& m) { return std::tuple{bytes_field("text", kMaxMetaBytes, m.text)}; }
};
struct ShmRegisterResponse {
  KVTIER_PROTOCOL_MESSAGE(ShmRegisterResponse, kShmRegister, kResponse, false);
  std::uint32_t region_id = 0;
  static auto fields(auto& m) { return std::tuple{field("region_id", m.region_id)}; }
};
struct GetManyShmResponse {
  KVTIER_PROTOCOL_MESSAGE(GetManyShmResponse, kGetManyShm, kResponse, true);
  std::vector<ItemResult> results;
  static auto fields(auto& m) { return std::tuple{list_field(m.results)}; }
};
struct PutManyShmResponse {
  KVTIER_PROTOCOL_MESSAGE(PutManyShmResponse, kPutManyShm, kResponse, true);
  std::vector<StatusCode> statuses;
  static auto fields(auto& m) { return std::tuple{list_field(m.statuses)}; }
};

#undef KVTIER_PROTOCOL_MESSAGE

// Every message of each direction, in opcode order: visit_meta dispatches over these lists and the
// daemon's Request variant is made from the first, so a new message is added here once.
template <typename... Ms>
struct MessageList {
  template <typename... Front>
  using Variant = std::variant<Front..., Ms...>;
};
using RequestMessages =
    MessageList<HelloRequest, PingRequest, PutRequest, GetRequest, LookupRequest, PutManyRequest,
                GetManyRequest, RemoveRequest, PinRequest, UnpinRequest, StatsRequest,
                ShmRegisterRequest, GetManyShmRequest, PutManyShmRequest>;
using ResponseMessages =
    MessageList<HelloResponse, PingResponse, PutResponse, GetResponse, LookupResponse,
                PutManyResponse, GetManyResponse, RemoveResponse, PinResponse, UnpinResponse,
                StatsResponse, ShmRegisterResponse, GetManyShmResponse, PutManyShmResponse>;

// Each list holds one message per opcode, of its direction, and each message's kHasList says
// what its field list holds.
template <FrameKind kKind, typename... Ms>
consteval bool one_message_per_opcode(MessageList<Ms...>) {
  if (!((Ms::kKind == kKind && Ms::kHasList == meta_fields::has_list<Ms>()) && ...)) return false;
  for (std::uint8_t op = 1; op <= kMaxOpcode; ++op) {
    if (((Ms::kOpcode == static_cast<Opcode>(op) ? 1 : 0) + ...) != 1) return false;
  }
  return sizeof...(Ms) == kMaxOpcode;
}
static_assert(one_message_per_opcode<FrameKind::kRequest>(RequestMessages{}));
static_assert(one_message_per_opcode<FrameKind::kResponse>(ResponseMessages{}));

// Bytes a list item takes on the wire, pinned: they are the "Operations" table's item sizes.
template <typename Item>
inline constexpr std::size_t kWireBytes = meta_fields::wire_bytes<Item>();
static_assert(kWireBytes<PutManyItem> == 24 && kWireBytes<GetManyItem> == 24);
static_assert(kWireBytes<ShmGetItem> == 32 && kWireBytes<ShmPutItem> == 32);
static_assert(kWireBytes<ItemResult> == 12 && kWireBytes<StatusCode> == 4);

template <typename M>
concept Message = requires {
  { M::kOpcode } -> std::convertible_to<Opcode>;
  M::fields(std::declval<M&>());
};

// ---- Encoding: append the meta to a MetaWriter's buffer ----

template <Message M>
void encode_meta(const M& message, MetaWriter& w) {
  meta_fields::write_fields(w, message);
}

template <Message M>
std::vector<std::byte> encode_meta(const M& message) {
  std::vector<std::byte> out;
  MetaWriter w(out);
  encode_meta(message, w);
  return out;
}

// ---- Decoding: decode_meta<T>(meta), or decode_meta<T>(meta, max_batch) for lists ----

// Reads the fields in order and refuses trailing bytes, then applies the message's own check of
// what it read (check_decoded), if it has one. decode_meta below is the way to call it.
template <Message M>
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, M* out) {
  MetaReader r(meta, M::kOpcode, M::kKind);
  KVTIER_RETURN_IF_ERROR(meta_fields::read_fields(r, *out, 0, max_batch));
  KVTIER_RETURN_IF_ERROR(r.finish());
  if constexpr (requires { out->check_decoded(r); }) return out->check_decoded(r);
  return Status::Ok();
}

// Decodes the meta of a message without a list.
template <Message T>
Result<T> decode_meta(std::span<const std::byte> meta) {
  static_assert(!T::kHasList, "this message has a list: call decode_meta<T>(meta, max_batch)");
  T out;
  KVTIER_RETURN_IF_ERROR(decode_meta_into(meta, 0, &out));
  return out;
}

// Decodes the meta of a message with a list of at most max_batch items (the daemon's limit, or
// for a client the number of items it asked about).
template <Message T>
Result<T> decode_meta(std::span<const std::byte> meta, std::uint32_t max_batch) {
  static_assert(T::kHasList, "this message has no list: call decode_meta<T>(meta)");
  T out;
  KVTIER_RETURN_IF_ERROR(decode_meta_into(meta, max_batch, &out));
  return out;
}

// ---- Data that follows the meta ----

// The data_len a frame carrying `m` must have: the sum of the items' value_len (PUT_MANY
// requests), or of the kOk items' value_len (GET_MANY responses). InvalidArgument when the sum
// overflows: hostile lengths must not wrap around to match a small data_len.
Result<std::uint64_t> data_len_of(const PutManyRequest& m);
Result<std::uint64_t> data_len_of(const GetManyResponse& m);

// ---- Error responses ----

// Whether a response's meta is an error message rather than its opcode's response meta: every
// non-OK status, except a GET answered buffer_too_small, which carries GetResponse (the size).
bool response_meta_is_message(Opcode op, StatusCode status);
// The message of an error response (UTF-8 from a well-behaved peer; treat it as untrusted text).
Result<std::string> decode_error_message(std::span<const std::byte> meta);

// ---- Whole frames: header + meta, ready to send; data_len data bytes follow from the caller ----

// Internal to append_frame: begin_frame reserves a header at the end of `out`; finish_frame fills
// it in once the meta follows it, or removes the partial frame and returns why it was refused.
std::size_t begin_frame(std::vector<std::byte>& out);
Status finish_frame(std::vector<std::byte>& out, std::size_t frame_start, Opcode op, FrameKind kind,
                    std::uint64_t request_id, StatusCode status, std::uint64_t data_len,
                    std::uint16_t flags = 0);

// Appends to `out` the frame (header + meta) carrying `message`. Refuses, appending nothing, a
// frame a reader would refuse (validate_header with kDefaultMaxDataBytes: meta above
// kMaxMetaBytes, data on an opcode without data, a status on a request, ...) and a non-OK status
// whose meta must be a message (use append_error_frame). Only GetResponse takes a non-OK status:
// kBufferTooSmall.
// `flags`: kFlagDurable or 0 (kFlagResponse follows from T).
template <typename T>
Status append_frame(std::vector<std::byte>& out, std::uint64_t request_id, const T& message,
                    std::uint64_t data_len = 0, StatusCode status = StatusCode::kOk,
                    std::uint16_t flags = 0) {
  std::size_t start = begin_frame(out);
  MetaWriter w(out);
  encode_meta(message, w);
  return finish_frame(out, start, T::kOpcode, T::kKind, request_id, status, data_len, flags);
}

// Appends the error response to a request of `op` (kNone when unknown): status error.code(),
// meta error.message() cut to kMaxErrorMessageBytes at a UTF-8 character boundary.
// InvalidArgument when `error` is OK.
Status append_error_frame(std::vector<std::byte>& out, Opcode op, std::uint64_t request_id,
                          const Status& error);

}  // namespace kvtier::protocol
