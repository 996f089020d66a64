// Meta encoders and decoders for every operation, and whole-frame builders (see meta.h). Each
// decoder reads the fields in the order of docs/PROTOCOL.md's "Operations" table and ends with
// finish(), so trailing bytes are always an error.
#include "protocol/meta.h"

#include <string>

namespace kvtier::protocol {
namespace {

// ---- List helpers shared by several messages ----

void write_statuses(const std::vector<StatusCode>& statuses, MetaWriter& w) {
  w.count(statuses.size());
  for (StatusCode s : statuses) w.u32(static_cast<std::uint32_t>(s));
}

void write_results(const std::vector<ItemResult>& results, MetaWriter& w) {
  w.count(results.size());
  for (const ItemResult& r : results) {
    w.u32(static_cast<std::uint32_t>(r.status));
    w.u64(r.value_len);
  }
}

Status read_status(MetaReader& r, std::size_t index, StatusCode* out) {
  std::uint32_t raw = 0;
  KVTIER_RETURN_IF_ERROR(r.u32("status", &raw));
  std::optional<StatusCode> code = status_code_from_wire(raw);
  if (!code) {
    return r.invalid("item " + std::to_string(index) + " status " + std::to_string(raw) +
                     " is not a status code");
  }
  *out = *code;
  return Status::Ok();
}

// Every list reader calls list_count first: it checks the count against the bytes left (and
// max_batch) before anything is reserved, so reserve(n) is bounded by the meta's size.
Status read_statuses(MetaReader& r, std::uint32_t max_batch, std::vector<StatusCode>* out) {
  std::uint32_t n = 0;
  KVTIER_RETURN_IF_ERROR(r.list_count("list", kItemStatusBytes, max_batch, &n));
  out->clear();
  out->reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    StatusCode code{};
    KVTIER_RETURN_IF_ERROR(read_status(r, i, &code));
    out->push_back(code);
  }
  return Status::Ok();
}

Status read_results(MetaReader& r, std::uint32_t max_batch, std::vector<ItemResult>* out) {
  std::uint32_t n = 0;
  KVTIER_RETURN_IF_ERROR(r.list_count("list", kItemResultBytes, max_batch, &n));
  out->clear();
  out->reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    ItemResult item;
    KVTIER_RETURN_IF_ERROR(read_status(r, i, &item.status));
    KVTIER_RETURN_IF_ERROR(r.u64("value_len", &item.value_len));
    out->push_back(item);
  }
  return Status::Ok();
}

Status read_empty(std::span<const std::byte> meta, std::string_view what) {
  return MetaReader(meta, what).finish();
}

std::string frame_name(Opcode op, FrameKind kind) {
  return std::string(opcode_name(op)) + (kind == FrameKind::kRequest ? " request" : " response");
}

// Fills in the header reserved by begin_frame, or removes the partial frame.
Status seal_frame(std::vector<std::byte>& out, std::size_t start, Opcode op, FrameKind kind,
                  std::uint64_t request_id, StatusCode status, std::uint64_t data_len) {
  std::size_t meta_len = out.size() - start - kFrameHeaderBytes;
  if (meta_len > kMaxMetaBytes) {
    out.resize(start);
    return Status::TooLarge("frame: " + frame_name(op, kind) + " meta of " +
                            std::to_string(meta_len) + " bytes exceeds kMaxMetaBytes (" +
                            std::to_string(kMaxMetaBytes) + ")");
  }
  FrameHeader h;
  h.opcode = op;
  h.flags = kind == FrameKind::kResponse ? kFlagResponse : 0;
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

// ---- Encoders ----

void encode_meta(const HelloRequest& m, MetaWriter& w) {
  w.u16(m.min_version);
  w.u16(m.max_version);
  w.bytes(m.token);
  w.bytes(m.client_name);
}
void encode_meta(const PingRequest& m, MetaWriter& w) { w.bytes(m.payload); }
void encode_meta(const PutRequest& m, MetaWriter& w) {
  w.key(m.key);
  w.u64(m.value_len);
}
void encode_meta(const GetRequest& m, MetaWriter& w) {
  w.key(m.key);
  w.u64(m.capacity);
}
void encode_meta(const LookupRequest& m, MetaWriter& w) {
  w.count(m.keys.size());
  w.keys(m.keys);
}
void encode_meta(const PutManyRequest& m, MetaWriter& w) {
  w.count(m.items.size());
  for (const PutManyItem& i : m.items) {
    w.key(i.key);
    w.u64(i.value_len);
  }
}
void encode_meta(const GetManyRequest& m, MetaWriter& w) {
  w.count(m.items.size());
  for (const GetManyItem& i : m.items) {
    w.key(i.key);
    w.u64(i.capacity);
  }
}
void encode_meta(const RemoveRequest& m, MetaWriter& w) { w.key(m.key); }
void encode_meta(const PinRequest& m, MetaWriter& w) {
  w.key(m.key);
  w.u32(m.lease_ms);
}
void encode_meta(const UnpinRequest& m, MetaWriter& w) { w.key(m.key); }
void encode_meta(const StatsRequest&, MetaWriter&) {}
void encode_meta(const ShmRegisterRequest& m, MetaWriter& w) { w.u64(m.size); }
void encode_meta(const GetManyShmRequest& m, MetaWriter& w) {
  w.u32(m.region_id);
  w.count(m.items.size());
  for (const ShmGetItem& i : m.items) {
    w.key(i.key);
    w.u64(i.offset);
    w.u64(i.capacity);
  }
}
void encode_meta(const PutManyShmRequest& m, MetaWriter& w) {
  w.u32(m.region_id);
  w.count(m.items.size());
  for (const ShmPutItem& i : m.items) {
    w.key(i.key);
    w.u64(i.offset);
    w.u64(i.value_len);
  }
}
void encode_meta(const HelloResponse& m, MetaWriter& w) {
  w.u16(m.version);
  w.bytes(m.tenant);
  w.u64(m.max_value_bytes);
  w.u32(m.max_batch);
  w.u64(m.max_data_bytes);
}
void encode_meta(const PingResponse& m, MetaWriter& w) { w.bytes(m.payload); }
void encode_meta(const PutResponse&, MetaWriter&) {}
void encode_meta(const GetResponse& m, MetaWriter& w) { w.u64(m.value_len); }
void encode_meta(const LookupResponse& m, MetaWriter& w) {
  w.u64(m.cached);
  w.u64(m.in_dram);
  w.u64(m.in_nvme);
  w.u64(m.in_shared);
}
void encode_meta(const PutManyResponse& m, MetaWriter& w) { write_statuses(m.statuses, w); }
void encode_meta(const GetManyResponse& m, MetaWriter& w) { write_results(m.results, w); }
void encode_meta(const RemoveResponse&, MetaWriter&) {}
void encode_meta(const PinResponse&, MetaWriter&) {}
void encode_meta(const UnpinResponse&, MetaWriter&) {}
void encode_meta(const StatsResponse& m, MetaWriter& w) { w.bytes(m.text); }
void encode_meta(const ShmRegisterResponse& m, MetaWriter& w) { w.u32(m.region_id); }
void encode_meta(const GetManyShmResponse& m, MetaWriter& w) { write_results(m.results, w); }
void encode_meta(const PutManyShmResponse& m, MetaWriter& w) { write_statuses(m.statuses, w); }

// ---- Decoders ----

Status decode_meta_into(MetaBytes meta, std::uint32_t, HelloRequest* out) {
  MetaReader r(meta, "HELLO request meta");
  KVTIER_RETURN_IF_ERROR(r.u16("min_version", &out->min_version));
  KVTIER_RETURN_IF_ERROR(r.u16("max_version", &out->max_version));
  KVTIER_RETURN_IF_ERROR(r.bytes("token", kMaxHelloFieldBytes, &out->token));
  KVTIER_RETURN_IF_ERROR(r.bytes("client_name", kMaxHelloFieldBytes, &out->client_name));
  KVTIER_RETURN_IF_ERROR(r.finish());
  if (out->min_version > out->max_version) {
    return r.invalid("min_version " + std::to_string(out->min_version) + " > max_version " +
                     std::to_string(out->max_version));
  }
  return Status::Ok();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, PingRequest* out) {
  MetaReader r(meta, "PING request meta");
  KVTIER_RETURN_IF_ERROR(r.bytes("payload", kMaxPingPayloadBytes, &out->payload));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, PutRequest* out) {
  MetaReader r(meta, "PUT request meta");
  KVTIER_RETURN_IF_ERROR(r.key("key", &out->key));
  KVTIER_RETURN_IF_ERROR(r.u64("value_len", &out->value_len));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, GetRequest* out) {
  MetaReader r(meta, "GET request meta");
  KVTIER_RETURN_IF_ERROR(r.key("key", &out->key));
  KVTIER_RETURN_IF_ERROR(r.u64("capacity", &out->capacity));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, LookupRequest* out) {
  MetaReader r(meta, "LOOKUP request meta");
  std::uint32_t n = 0;
  KVTIER_RETURN_IF_ERROR(r.list_count("list", kKeyBytes, max_batch, &n));
  out->keys.resize(n);
  KVTIER_RETURN_IF_ERROR(r.keys("key", out->keys));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PutManyRequest* out) {
  MetaReader r(meta, "PUT_MANY request meta");
  std::uint32_t n = 0;
  KVTIER_RETURN_IF_ERROR(r.list_count("list", kKeyValueLenBytes, max_batch, &n));
  out->items.assign(n, PutManyItem{});
  for (PutManyItem& i : out->items) {
    KVTIER_RETURN_IF_ERROR(r.key("key", &i.key));
    KVTIER_RETURN_IF_ERROR(r.u64("value_len", &i.value_len));
  }
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, GetManyRequest* out) {
  MetaReader r(meta, "GET_MANY request meta");
  std::uint32_t n = 0;
  KVTIER_RETURN_IF_ERROR(r.list_count("list", kKeyValueLenBytes, max_batch, &n));
  out->items.assign(n, GetManyItem{});
  for (GetManyItem& i : out->items) {
    KVTIER_RETURN_IF_ERROR(r.key("key", &i.key));
    KVTIER_RETURN_IF_ERROR(r.u64("capacity", &i.capacity));
  }
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, RemoveRequest* out) {
  MetaReader r(meta, "REMOVE request meta");
  KVTIER_RETURN_IF_ERROR(r.key("key", &out->key));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, PinRequest* out) {
  MetaReader r(meta, "PIN request meta");
  KVTIER_RETURN_IF_ERROR(r.key("key", &out->key));
  KVTIER_RETURN_IF_ERROR(r.u32("lease_ms", &out->lease_ms));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, UnpinRequest* out) {
  MetaReader r(meta, "UNPIN request meta");
  KVTIER_RETURN_IF_ERROR(r.key("key", &out->key));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, StatsRequest*) {
  return read_empty(meta, "STATS request meta");
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, ShmRegisterRequest* out) {
  MetaReader r(meta, "SHM_REGISTER request meta");
  KVTIER_RETURN_IF_ERROR(r.u64("size", &out->size));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, GetManyShmRequest* out) {
  MetaReader r(meta, "GET_MANY_SHM request meta");
  KVTIER_RETURN_IF_ERROR(r.u32("region_id", &out->region_id));
  std::uint32_t n = 0;
  KVTIER_RETURN_IF_ERROR(r.list_count("list", kKeyOffsetLenBytes, max_batch, &n));
  out->items.assign(n, ShmGetItem{});
  for (ShmGetItem& i : out->items) {
    KVTIER_RETURN_IF_ERROR(r.key("key", &i.key));
    KVTIER_RETURN_IF_ERROR(r.u64("offset", &i.offset));
    KVTIER_RETURN_IF_ERROR(r.u64("capacity", &i.capacity));
  }
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PutManyShmRequest* out) {
  MetaReader r(meta, "PUT_MANY_SHM request meta");
  KVTIER_RETURN_IF_ERROR(r.u32("region_id", &out->region_id));
  std::uint32_t n = 0;
  KVTIER_RETURN_IF_ERROR(r.list_count("list", kKeyOffsetLenBytes, max_batch, &n));
  out->items.assign(n, ShmPutItem{});
  for (ShmPutItem& i : out->items) {
    KVTIER_RETURN_IF_ERROR(r.key("key", &i.key));
    KVTIER_RETURN_IF_ERROR(r.u64("offset", &i.offset));
    KVTIER_RETURN_IF_ERROR(r.u64("value_len", &i.value_len));
  }
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, HelloResponse* out) {
  MetaReader r(meta, "HELLO response meta");
  KVTIER_RETURN_IF_ERROR(r.u16("version", &out->version));
  KVTIER_RETURN_IF_ERROR(r.bytes("tenant", kMaxHelloFieldBytes, &out->tenant));
  KVTIER_RETURN_IF_ERROR(r.u64("max_value_bytes", &out->max_value_bytes));
  KVTIER_RETURN_IF_ERROR(r.u32("max_batch", &out->max_batch));
  KVTIER_RETURN_IF_ERROR(r.u64("max_data_bytes", &out->max_data_bytes));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, PingResponse* out) {
  MetaReader r(meta, "PING response meta");
  KVTIER_RETURN_IF_ERROR(r.bytes("payload", kMaxPingPayloadBytes, &out->payload));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, PutResponse*) {
  return read_empty(meta, "PUT response meta");
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, GetResponse* out) {
  MetaReader r(meta, "GET response meta");
  KVTIER_RETURN_IF_ERROR(r.u64("value_len", &out->value_len));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, LookupResponse* out) {
  MetaReader r(meta, "LOOKUP response meta");
  KVTIER_RETURN_IF_ERROR(r.u64("cached", &out->cached));
  KVTIER_RETURN_IF_ERROR(r.u64("in_dram", &out->in_dram));
  KVTIER_RETURN_IF_ERROR(r.u64("in_nvme", &out->in_nvme));
  KVTIER_RETURN_IF_ERROR(r.u64("in_shared", &out->in_shared));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PutManyResponse* out) {
  MetaReader r(meta, "PUT_MANY response meta");
  KVTIER_RETURN_IF_ERROR(read_statuses(r, max_batch, &out->statuses));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, GetManyResponse* out) {
  MetaReader r(meta, "GET_MANY response meta");
  KVTIER_RETURN_IF_ERROR(read_results(r, max_batch, &out->results));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, RemoveResponse*) {
  return read_empty(meta, "REMOVE response meta");
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, PinResponse*) {
  return read_empty(meta, "PIN response meta");
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, UnpinResponse*) {
  return read_empty(meta, "UNPIN response meta");
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, StatsResponse* out) {
  MetaReader r(meta, "STATS response meta");
  KVTIER_RETURN_IF_ERROR(r.bytes("text", kMaxMetaBytes, &out->text));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t, ShmRegisterResponse* out) {
  MetaReader r(meta, "SHM_REGISTER response meta");
  KVTIER_RETURN_IF_ERROR(r.u32("region_id", &out->region_id));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, GetManyShmResponse* out) {
  MetaReader r(meta, "GET_MANY_SHM response meta");
  KVTIER_RETURN_IF_ERROR(read_results(r, max_batch, &out->results));
  return r.finish();
}

Status decode_meta_into(MetaBytes meta, std::uint32_t max_batch, PutManyShmResponse* out) {
  MetaReader r(meta, "PUT_MANY_SHM response meta");
  KVTIER_RETURN_IF_ERROR(read_statuses(r, max_batch, &out->statuses));
  return r.finish();
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
                    std::uint64_t request_id, StatusCode status, std::uint64_t data_len) {
  if (kind == FrameKind::kResponse && response_meta_is_message(op, status)) {
    out.resize(frame_start);
    return Status::InvalidArgument("frame: a " + frame_name(op, kind) + " with status " +
                                   std::string(status_code_name(status)) +
                                   " carries a message; use append_error_frame");
  }
  return seal_frame(out, frame_start, op, kind, request_id, status, data_len);
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
