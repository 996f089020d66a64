// Typed meta of every kvtier operation, request and response, with their encoders and decoders.
// The layouts are the "Operations" table of docs/PROTOCOL.md; change both together and bump
// kProtocolVersion. Decoders check layout and list counts only; value rules that need the
// daemon's configuration (value_len 0 or above max_value_bytes, region bounds) are the daemon's.
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
#include <vector>

#include "kvtier/key.h"
#include "kvtier/status.h"
#include "protocol/frame.h"
#include "protocol/meta_io.h"

namespace kvtier::protocol {

inline constexpr std::uint32_t kMaxPingPayloadBytes = 1024;
// HELLO's token, client_name and tenant: names and secrets, never documents.
inline constexpr std::uint32_t kMaxHelloFieldBytes = 1024;
// A HELLO request's whole meta: two versions and two fields of at most kMaxHelloFieldBytes with
// their lengths fit with room to spare. Before HELLO a peer is nobody: the daemon reads no more
// of it than this (and no data).
inline constexpr std::uint32_t kMaxHelloMetaBytes = 4096;

// Wire sizes of list items, used to check a count against the bytes left before allocating.
inline constexpr std::size_t kKeyValueLenBytes = kKeyBytes + 8;       // (key, u64)
inline constexpr std::size_t kKeyOffsetLenBytes = kKeyBytes + 8 + 8;  // (key, u64, u64)
inline constexpr std::size_t kItemStatusBytes = 4;                    // u32 status
inline constexpr std::size_t kItemResultBytes = 4 + 8;                // (u32 status, u64 value_len)

// Every message names its frame: opcode, direction, and whether its meta holds a list (then its
// decoder takes max_batch).
#define KVTIER_PROTOCOL_MESSAGE(OPCODE, KIND, HAS_LIST) \
  static constexpr Opcode kOpcode = Opcode::OPCODE;     \
  static constexpr FrameKind kKind = FrameKind::KIND;   \
  static constexpr bool kHasList = HAS_LIST

struct PutManyItem {
  Key key;
  std::uint64_t value_len = 0;
  friend bool operator==(const PutManyItem&, const PutManyItem&) = default;
};
struct GetManyItem {
  Key key;
  std::uint64_t capacity = 0;  // bytes the client can receive for this value
  friend bool operator==(const GetManyItem&, const GetManyItem&) = default;
};
struct ShmGetItem {
  Key key;
  std::uint64_t offset = 0;  // in the registered region
  std::uint64_t capacity = 0;
  friend bool operator==(const ShmGetItem&, const ShmGetItem&) = default;
};
struct ShmPutItem {
  Key key;
  std::uint64_t offset = 0;
  std::uint64_t value_len = 0;
  friend bool operator==(const ShmPutItem&, const ShmPutItem&) = default;
};
// One item's answer in GET_MANY(_SHM): value_len is set for kOk and kBufferTooSmall.
struct ItemResult {
  StatusCode status = StatusCode::kOk;
  std::uint64_t value_len = 0;
  friend bool operator==(const ItemResult&, const ItemResult&) = default;
};

// ---- Requests ----

struct HelloRequest {
  KVTIER_PROTOCOL_MESSAGE(kHello, kRequest, false);
  std::uint16_t min_version = kProtocolVersion;
  std::uint16_t max_version = kProtocolVersion;
  std::string token;        // may be empty on the Unix socket (default tenant)
  std::string client_name;  // for logs
  friend bool operator==(const HelloRequest&, const HelloRequest&) = default;
};
struct PingRequest {
  KVTIER_PROTOCOL_MESSAGE(kPing, kRequest, false);
  std::string payload;  // <= kMaxPingPayloadBytes
  friend bool operator==(const PingRequest&, const PingRequest&) = default;
};
struct PutRequest {  // data: the value, value_len bytes
  KVTIER_PROTOCOL_MESSAGE(kPut, kRequest, false);
  Key key;
  std::uint64_t value_len = 0;
  friend bool operator==(const PutRequest&, const PutRequest&) = default;
};
struct GetRequest {
  KVTIER_PROTOCOL_MESSAGE(kGet, kRequest, false);
  Key key;
  std::uint64_t capacity = 0;
  friend bool operator==(const GetRequest&, const GetRequest&) = default;
};
struct LookupRequest {
  KVTIER_PROTOCOL_MESSAGE(kLookup, kRequest, true);
  std::vector<Key> keys;  // a chain, first chunk first
  friend bool operator==(const LookupRequest&, const LookupRequest&) = default;
};
struct PutManyRequest {  // data: the values back to back, in item order
  KVTIER_PROTOCOL_MESSAGE(kPutMany, kRequest, true);
  std::vector<PutManyItem> items;
  friend bool operator==(const PutManyRequest&, const PutManyRequest&) = default;
};
struct GetManyRequest {
  KVTIER_PROTOCOL_MESSAGE(kGetMany, kRequest, true);
  std::vector<GetManyItem> items;
  friend bool operator==(const GetManyRequest&, const GetManyRequest&) = default;
};
struct RemoveRequest {
  KVTIER_PROTOCOL_MESSAGE(kRemove, kRequest, false);
  Key key;
  friend bool operator==(const RemoveRequest&, const RemoveRequest&) = default;
};
struct PinRequest {
  KVTIER_PROTOCOL_MESSAGE(kPin, kRequest, false);
  Key key;
  std::uint32_t lease_ms = 0;
  friend bool operator==(const PinRequest&, const PinRequest&) = default;
};
struct UnpinRequest {
  KVTIER_PROTOCOL_MESSAGE(kUnpin, kRequest, false);
  Key key;
  friend bool operator==(const UnpinRequest&, const UnpinRequest&) = default;
};
struct StatsRequest {
  KVTIER_PROTOCOL_MESSAGE(kStats, kRequest, false);
  friend bool operator==(const StatsRequest&, const StatsRequest&) = default;
};
struct ShmRegisterRequest {  // the memfd travels with SCM_RIGHTS on the Unix socket
  KVTIER_PROTOCOL_MESSAGE(kShmRegister, kRequest, false);
  std::uint64_t size = 0;
  friend bool operator==(const ShmRegisterRequest&, const ShmRegisterRequest&) = default;
};
struct GetManyShmRequest {
  KVTIER_PROTOCOL_MESSAGE(kGetManyShm, kRequest, true);
  std::uint32_t region_id = 0;
  std::vector<ShmGetItem> items;
  friend bool operator==(const GetManyShmRequest&, const GetManyShmRequest&) = default;
};
struct PutManyShmRequest {
  KVTIER_PROTOCOL_MESSAGE(kPutManyShm, kRequest, true);
  std::uint32_t region_id = 0;
  std::vector<ShmPutItem> items;
  friend bool operator==(const PutManyShmRequest&, const PutManyShmRequest&) = default;
};

// ---- Responses (status OK, except GetResponse which also answers buffer_too_small) ----

struct HelloResponse {
  KVTIER_PROTOCOL_MESSAGE(kHello, kResponse, false);
  std::uint16_t version = kProtocolVersion;  // chosen from the client's range
  std::string tenant;
  std::uint64_t max_value_bytes = 0;
  std::uint32_t max_batch = 0;
  std::uint64_t max_data_bytes = 0;
  friend bool operator==(const HelloResponse&, const HelloResponse&) = default;
};
struct PingResponse {
  KVTIER_PROTOCOL_MESSAGE(kPing, kResponse, false);
  std::string payload;  // the request's payload
  friend bool operator==(const PingResponse&, const PingResponse&) = default;
};
struct PutResponse {
  KVTIER_PROTOCOL_MESSAGE(kPut, kResponse, false);
  friend bool operator==(const PutResponse&, const PutResponse&) = default;
};
struct GetResponse {  // data: the value (status OK); none with buffer_too_small
  KVTIER_PROTOCOL_MESSAGE(kGet, kResponse, false);
  std::uint64_t value_len = 0;
  friend bool operator==(const GetResponse&, const GetResponse&) = default;
};
struct LookupResponse {
  KVTIER_PROTOCOL_MESSAGE(kLookup, kResponse, false);
  std::uint64_t cached = 0;   // leading keys cached in some tier
  std::uint64_t in_dram = 0;  // of those, in DRAM
  std::uint64_t in_nvme = 0;  // of those, only on NVMe
  std::uint64_t in_shared = 0;  // of those, only in the shared tier
  friend bool operator==(const LookupResponse&, const LookupResponse&) = default;
};
struct PutManyResponse {
  KVTIER_PROTOCOL_MESSAGE(kPutMany, kResponse, true);
  std::vector<StatusCode> statuses;  // one per request item
  friend bool operator==(const PutManyResponse&, const PutManyResponse&) = default;
};
struct GetManyResponse {  // data: the values of kOk items back to back, in item order
  KVTIER_PROTOCOL_MESSAGE(kGetMany, kResponse, true);
  std::vector<ItemResult> results;  // one per request item
  friend bool operator==(const GetManyResponse&, const GetManyResponse&) = default;
};
struct RemoveResponse {
  KVTIER_PROTOCOL_MESSAGE(kRemove, kResponse, false);
  friend bool operator==(const RemoveResponse&, const RemoveResponse&) = default;
};
struct PinResponse {
  KVTIER_PROTOCOL_MESSAGE(kPin, kResponse, false);
  friend bool operator==(const PinResponse&, const PinResponse&) = default;
};
struct UnpinResponse {
  KVTIER_PROTOCOL_MESSAGE(kUnpin, kResponse, false);
  friend bool operator==(const UnpinResponse&, const UnpinResponse&) = default;
};
struct StatsResponse {
  KVTIER_PROTOCOL_MESSAGE(kStats, kResponse, false);
  std::string text;  // Prometheus text format
  friend bool operator==(const StatsResponse&, const StatsResponse&) = default;
};
struct ShmRegisterResponse {
  KVTIER_PROTOCOL_MESSAGE(kShmRegister, kResponse, false);
  std::uint32_t region_id = 0;
  friend bool operator==(const ShmRegisterResponse&, const ShmRegisterResponse&) = default;
};
struct GetManyShmResponse {
  KVTIER_PROTOCOL_MESSAGE(kGetManyShm, kResponse, true);
  std::vector<ItemResult> results;
  friend bool operator==(const GetManyShmResponse&, const GetManyShmResponse&) = default;
};
struct PutManyShmResponse {
  KVTIER_PROTOCOL_MESSAGE(kPutManyShm, kResponse, true);
  std::vector<StatusCode> statuses;
  friend bool operator==(const PutManyShmResponse&, const PutManyShmResponse&) = default;
};

#undef KVTIER_PROTOCOL_MESSAGE

// ---- Encoding: append the meta to a MetaWriter's buffer ----

void encode_meta(const HelloRequest& m, MetaWriter& w);
void encode_meta(const PingRequest& m, MetaWriter& w);
void encode_meta(const PutRequest& m, MetaWriter& w);
void encode_meta(const GetRequest& m, MetaWriter& w);
void encode_meta(const LookupRequest& m, MetaWriter& w);
void encode_meta(const PutManyRequest& m, MetaWriter& w);
void encode_meta(const GetManyRequest& m, MetaWriter& w);
void encode_meta(const RemoveRequest& m, MetaWriter& w);
void encode_meta(const PinRequest& m, MetaWriter& w);
void encode_meta(const UnpinRequest& m, MetaWriter& w);
void encode_meta(const StatsRequest& m, MetaWriter& w);
void encode_meta(const ShmRegisterRequest& m, MetaWriter& w);
void encode_meta(const GetManyShmRequest& m, MetaWriter& w);
void encode_meta(const PutManyShmRequest& m, MetaWriter& w);
void encode_meta(const HelloResponse& m, MetaWriter& w);
void encode_meta(const PingResponse& m, MetaWriter& w);
void encode_meta(const PutResponse& m, MetaWriter& w);
void encode_meta(const GetResponse& m, MetaWriter& w);
void encode_meta(const LookupResponse& m, MetaWriter& w);
void encode_meta(const PutManyResponse& m, MetaWriter& w);
void encode_meta(const GetManyResponse& m, MetaWriter& w);
void encode_meta(const RemoveResponse& m, MetaWriter& w);
void encode_meta(const PinResponse& m, MetaWriter& w);
void encode_meta(const UnpinResponse& m, MetaWriter& w);
void encode_meta(const StatsResponse& m, MetaWriter& w);
void encode_meta(const ShmRegisterResponse& m, MetaWriter& w);
void encode_meta(const GetManyShmResponse& m, MetaWriter& w);
void encode_meta(const PutManyShmResponse& m, MetaWriter& w);

template <typename T>
std::vector<std::byte> encode_meta(const T& message) {
  std::vector<std::byte> out;
  MetaWriter w(out);
  encode_meta(message, w);
  return out;
}

// ---- Decoding: decode_meta<T>(meta), or decode_meta<T>(meta, max_batch) for lists ----

// One overload per message; decode_meta below is the way to call them.
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, HelloRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PingRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PutRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, GetRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, LookupRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PutManyRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, GetManyRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, RemoveRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PinRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, UnpinRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, StatsRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, ShmRegisterRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, GetManyShmRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PutManyShmRequest* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, HelloResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PingResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PutResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, GetResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, LookupResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PutManyResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, GetManyResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, RemoveResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PinResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, UnpinResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, StatsResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, ShmRegisterResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, GetManyShmResponse* out);
Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PutManyShmResponse* out);

// Decodes the meta of a message without a list.
template <typename T>
Result<T> decode_meta(std::span<const std::byte> meta) {
  static_assert(!T::kHasList, "this message has a list: call decode_meta<T>(meta, max_batch)");
  T out;
  Status s = decode_meta_into(meta, 0, &out);
  if (!s.ok()) return s;
  return out;
}

// Decodes the meta of a message with a list of at most max_batch items (the daemon's limit, or
// for a client the number of items it asked about).
template <typename T>
Result<T> decode_meta(std::span<const std::byte> meta, std::uint32_t max_batch) {
  static_assert(T::kHasList, "this message has no list: call decode_meta<T>(meta)");
  T out;
  Status s = decode_meta_into(meta, max_batch, &out);
  if (!s.ok()) return s;
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
                    std::uint64_t request_id, StatusCode status, std::uint64_t data_len);

// Appends to `out` the frame (header + meta) carrying `message`. Refuses, appending nothing, a
// frame a reader would refuse (validate_header with kDefaultMaxDataBytes: meta above
// kMaxMetaBytes, data on an opcode without data, a status on a request, ...) and a non-OK status
// whose meta must be a message (use append_error_frame). Only GetResponse takes a non-OK status:
// kBufferTooSmall.
template <typename T>
Status append_frame(std::vector<std::byte>& out, std::uint64_t request_id, const T& message,
                    std::uint64_t data_len = 0, StatusCode status = StatusCode::kOk) {
  std::size_t start = begin_frame(out);
  MetaWriter w(out);
  encode_meta(message, w);
  return finish_frame(out, start, T::kOpcode, T::kKind, request_id, status, data_len);
}

// Appends the error response to a request of `op` (kNone when unknown): status error.code(),
// meta error.message() cut to kMaxErrorMessageBytes at a UTF-8 character boundary.
// InvalidArgument when `error` is OK.
Status append_error_frame(std::vector<std::byte>& out, Opcode op, std::uint64_t request_id,
                          const Status& error);

}  // namespace kvtier::protocol
