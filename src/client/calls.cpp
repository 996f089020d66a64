// Decoding each operation's response into the client API's results (see calls.h).
#include "client/calls.h"

#include <string>

#include "protocol/meta.h"

namespace kvtier::client {
namespace {

using protocol::FrameHeader;

std::string bytes_text(std::uint64_t n) { return std::to_string(n) + " bytes"; }

// A GET(_MANY) item's answer. Values come only with kOk, and never more than was asked for.
Status get_item_result(const protocol::ItemResult& r, const Key& key, std::uint64_t capacity,
                       GetResult* out) {
  if (r.status == StatusCode::kOk && r.value_len > capacity) {
    return protocol_violation("a value of " + bytes_text(r.value_len) + " for key " + key.hex() +
                              " where the buffer holds " + bytes_text(capacity));
  }
  out->status = item_status(r.status, key, r.value_len, capacity);
  out->size = (r.status == StatusCode::kOk || r.status == StatusCode::kBufferTooSmall)
                  ? static_cast<std::size_t>(r.value_len)
                  : 0;
  out->tier = Tier::kNone;
  return Status::Ok();
}

}  // namespace

Status item_status(StatusCode code, const Key& key, std::uint64_t value_len,
                   std::uint64_t capacity) {
  switch (code) {
    case StatusCode::kOk:
      return Status::Ok();
    case StatusCode::kNotFound:
      return Status::NotFound("key " + key.hex() + " is not cached");
    case StatusCode::kBufferTooSmall:
      return Status::BufferTooSmall("value of key " + key.hex() + " is " + bytes_text(value_len) +
                                    ", buffer holds " + bytes_text(capacity));
    default:
      return Status(code, "kvtierd answered " + std::string(status_code_name(code)) + " for key " +
                              key.hex());
  }
}

// The public capability bits (kvtier/client.h) are the wire's.
static_assert(kCapabilitySharedMemory == protocol::kCapabilitySharedMemory);
static_assert(kCapabilityDurablePut == protocol::kCapabilityDurablePut);

Status HelloCall::on_ok(protocol::HelloResponse& m) {
  if (m.version < protocol::kMinProtocolVersion || m.version > protocol::kMaxProtocolVersion) {
    return protocol_violation("HELLO chose version " + std::to_string(m.version) +
                              " outside the range offered (" +
                              std::to_string(protocol::kMinProtocolVersion) + ".." +
                              std::to_string(protocol::kMaxProtocolVersion) + ")");
  }
  if (m.max_batch == 0 || m.max_value_bytes == 0 || m.max_data_bytes == 0) {
    return protocol_violation("HELLO announced a zero limit (max_batch " +
                              std::to_string(m.max_batch) + ", max_value_bytes " +
                              std::to_string(m.max_value_bytes) + ", max_data_bytes " +
                              std::to_string(m.max_data_bytes) + ")");
  }
  info = {.version = m.version, .tenant = std::move(m.tenant), .max_value_bytes = m.max_value_bytes,
          .max_batch = m.max_batch, .max_data_bytes = m.max_data_bytes,
          .capabilities = m.capabilities};
  return Status::Ok();
}

Status EmptyResponseCall::on_response(const FrameHeader& h, std::span<const std::byte> meta,
                                      std::vector<iovec>*) {
  if (h.status != 0) return decode_error_response(h, meta, &status);
  if (!meta.empty()) {
    return protocol_violation(std::string(protocol::opcode_name(h.opcode)) + " response has " +
                              std::to_string(meta.size()) + " bytes of meta; it has none");
  }
  status = Status::Ok();
  return Status::Ok();
}

Status PingCall::on_ok(protocol::PingResponse& m) {
  if (m.payload != payload_) return protocol_violation("PING came back with another payload");
  return Status::Ok();
}

Status GetCall::on_response(const FrameHeader& h, std::span<const std::byte> meta,
                            std::vector<iovec>* data) {
  auto code = protocol::status_code_from_wire(h.status);
  if (code != StatusCode::kOk && code != StatusCode::kBufferTooSmall) {
    KVTIER_RETURN_IF_ERROR(decode_error_response(h, meta, &status));
    result = {status, 0, Tier::kNone};
    return Status::Ok();
  }
  Result<protocol::GetResponse> m = protocol::decode_meta<protocol::GetResponse>(meta);
  if (!m.ok()) return protocol_violation(m.status().message());
  KVTIER_RETURN_IF_ERROR(get_item_result({*code, m->value_len}, key_, capacity_, &result));
  if (*code == StatusCode::kOk) data->push_back(iovec{dst_.data(), m->value_len});
  status = Status::Ok();
  return Status::Ok();
}

void GetCall::on_failed(const Status& why) {
  status = why;
  result = {why, 0, Tier::kNone};
}

Status LookupCall::on_ok(protocol::LookupResponse& m) {
  if (m.cached > asked_ || m.in_dram > m.cached || m.in_nvme > m.cached - m.in_dram ||
      m.in_shared != m.cached - m.in_dram - m.in_nvme) {
    return protocol_violation("LOOKUP of " + std::to_string(asked_) + " keys answered cached " +
                              std::to_string(m.cached) + " (dram " + std::to_string(m.in_dram) +
                              ", nvme " + std::to_string(m.in_nvme) + ", shared " +
                              std::to_string(m.in_shared) + ")");
  }
  match.cached = static_cast<std::size_t>(m.cached);
  match.in_dram = static_cast<std::size_t>(m.in_dram);
  match.in_nvme = static_cast<std::size_t>(m.in_nvme);
  match.in_shared = static_cast<std::size_t>(m.in_shared);
  return Status::Ok();
}

Result<PrefixMatch> combine_lookups(std::span<const LookupCall> pieces) {
  PrefixMatch total;
  for (const LookupCall& piece : pieces) {
    if (!piece.status.ok()) return piece.status;
    total.cached += piece.match.cached;
    total.in_dram += piece.match.in_dram;
    total.in_nvme += piece.match.in_nvme;
    total.in_shared += piece.match.in_shared;
    if (piece.match.cached < piece.asked()) break;  // the chain's cached prefix ends here
  }
  return total;
}

template <>
Status PutManyCall::answer(const protocol::PutManyResponse& m, std::size_t i,
                           std::vector<iovec>*) {
  const PutItem& item = items_[index[i]];
  out_[index[i]] = item_status(m.statuses[i], item.key, item.value.size(), 0);
  return Status::Ok();
}

template <>
Status GetManyCall::answer(const protocol::GetManyResponse& m, std::size_t i,
                           std::vector<iovec>* data) {
  const GetItem& item = items_[index[i]];
  KVTIER_RETURN_IF_ERROR(get_item_result(m.results[i], item.key, capacities[i], &out_[index[i]]));
  if (m.results[i].status == StatusCode::kOk) {
    data->push_back(iovec{item.dst.data(), m.results[i].value_len});
  }
  return Status::Ok();
}

template <>
Status GetManyShmCall::answer(const protocol::GetManyShmResponse& m, std::size_t i,
                              std::vector<iovec>*) {
  const ShmGet& item = items_[index[i]];
  return get_item_result(m.results[i], item.key, item.capacity, &out_[index[i]]);
}

template <>
Status PutManyShmCall::answer(const protocol::PutManyShmResponse& m, std::size_t i,
                              std::vector<iovec>*) {
  const ShmPut& item = items_[index[i]];
  out_[index[i]] = item_status(m.statuses[i], item.key, item.size, 0);
  return Status::Ok();
}

// An OK response's list must answer exactly the items the request carried.
template <typename Item, typename Out, typename Response, auto kAnswers>
Status ListCall<Item, Out, Response, kAnswers>::on_response(const FrameHeader& h,
                                                            std::span<const std::byte> meta,
                                                            std::vector<iovec>* data) {
  if (h.status != 0) {
    KVTIER_RETURN_IF_ERROR(decode_error_response(h, meta, &status));
    set_every_item(status);
    return Status::Ok();
  }
  Result<Response> m =
      protocol::decode_meta<Response>(meta, static_cast<std::uint32_t>(index.size()));
  if (!m.ok()) return protocol_violation(m.status().message());
  if (((*m).*kAnswers).size() != index.size()) {
    return protocol_violation(std::string(protocol::opcode_name(Response::kOpcode)) +
                              " response has " + std::to_string(((*m).*kAnswers).size()) +
                              " results for " + std::to_string(index.size()) + " items");
  }
  for (std::size_t i = 0; i < index.size(); ++i) KVTIER_RETURN_IF_ERROR(answer(*m, i, data));
  status = Status::Ok();
  return Status::Ok();
}

template class ListCall<PutItem, Status, protocol::PutManyResponse,
                        &protocol::PutManyResponse::statuses>;
template class ListCall<GetItem, GetResult, protocol::GetManyResponse,
                        &protocol::GetManyResponse::results>;
template class ListCall<ShmGet, GetResult, protocol::GetManyShmResponse,
                        &protocol::GetManyShmResponse::results>;
template class ListCall<ShmPut, Status, protocol::PutManyShmResponse,
                        &protocol::PutManyShmResponse::statuses>;

}  // namespace kvtier::client
