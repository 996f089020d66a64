// Client::connect and ClientImpl: every operation of include/kvtier/client.h as one batch of
// requests on the connection (see connection.h for how a batch is sent and read).
#include <algorithm>
#include <deque>
#include <string>

#include "client/address.h"
#include "client/batch_split.h"
#include "client/client_impl.h"
#include "protocol/meta.h"
#include "status/batch_spans.h"

namespace kvtier {

using client::ClientImpl;

Result<std::unique_ptr<Client>> Client::connect(const ClientOptions& options) {
  if (options.timeout.count() <= 0) {
    return Status::InvalidArgument("client: timeout must be positive, got " +
                                   std::to_string(options.timeout.count()) + " ms");
  }
  if (options.token.size() > protocol::kMaxHelloFieldBytes ||
      options.client_name.size() > protocol::kMaxHelloFieldBytes) {
    return Status::InvalidArgument("client: token and client_name are at most " +
                                   std::to_string(protocol::kMaxHelloFieldBytes) + " bytes");
  }
  Result<client::ClientAddress> address = client::parse_client_address(options.address);
  if (!address.ok()) return address.status();
  if (!address->tls && !(options.tls_ca_file.empty() && options.tls_cert_file.empty() &&
                         options.tls_key_file.empty())) {
    // Whoever set them expects TLS: going on in plaintext would send the token in clear.
    return Status::InvalidArgument("client: TLS files were given for " + options.address +
                                   ", which is not a tls:HOST:PORT address");
  }
  auto deadline = client::Clock::now() + options.timeout;
  Result<client::ClientSocket> socket = client::ClientSocket::connect(*address, deadline);
  if (!socket.ok()) return socket.status();
  if (address->tls) {
    Result<std::shared_ptr<net::TlsContext>> ctx = net::TlsContext::for_client(
        {options.tls_ca_file, options.tls_cert_file, options.tls_key_file});
    if (!ctx.ok()) return ctx.status();
    Status tls = socket->start_tls(std::move(ctx).value(), address->tcp.host, deadline);
    if (!tls.ok()) {
      return Status::IOError("kvtierd at " + address->to_string() + ": " + tls.message());
    }
  }
  auto conn = std::make_unique<client::Connection>(std::move(socket).value(),
                                                   std::move(address).value(), options.timeout);

  protocol::HelloRequest hello;
  hello.token = options.token;
  hello.client_name = options.client_name;
  client::HelloCall call;
  client::RequestBatch batch;
  KVTIER_RETURN_IF_ERROR(batch.add(conn->next_request_id(), hello, &call));
  Status s = conn->run(batch);
  if (!s.ok()) return s;
  if (!call.status.ok()) {
    // The daemon answered and will close the connection. Busy (too many connections) and
    // Closed (shutting down) say "try later"; anything else is a refusal of what was presented.
    StatusCode code = call.status.code();
    if (code != StatusCode::kBusy && code != StatusCode::kClosed)
      code = StatusCode::kInvalidArgument;
    return Status(code, "kvtierd at " + conn->address().to_string() +
                            " refused HELLO: " + call.status.message());
  }
  return std::unique_ptr<Client>(
      std::make_unique<ClientImpl>(std::move(conn), std::move(call.info)));
}

namespace client {
namespace {

std::string size_text(std::uint64_t n) { return std::to_string(n) + " bytes"; }

// Why a value cannot be sent, checked here so that no rejected bytes cross the socket.
// `limit` is max_value_bytes, and for values that travel in a frame also max_data_bytes.
Status check_value(const Key& key, std::uint64_t size, std::uint64_t limit) {
  if (size == 0) {
    return Status::InvalidArgument("value of key " + key.hex() +
                                   " is empty; kvtier stores no empty values");
  }
  if (size > limit) {
    return Status::TooLarge("value of key " + key.hex() + " is " + size_text(size) +
                            "; kvtierd takes at most " + size_text(limit));
  }
  return Status::Ok();
}

// The whole request's Status of a batch of calls: the connection's failure, or the first call
// the daemon refused as a whole.
template <typename Calls>
Status batch_status(const Status& run_status, const Calls& calls) {
  if (!run_status.ok()) return run_status;
  for (const auto& c : calls) {
    if (!c.status.ok()) return c.status;
  }
  return Status::Ok();
}

// The items of a put list that pass check_value against `limit`, in order; out[i] is each
// item's check.
template <typename Item>
std::vector<std::size_t> sendable_puts(std::span<const Item> items, std::span<Status> out,
                                       std::uint64_t limit, auto size_of) {
  std::vector<std::size_t> send;
  send.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    out[i] = check_value(items[i].key, size_of(items[i]), limit);
    if (out[i].ok()) send.push_back(i);
  }
  return send;
}
}  // namespace

Status ClientImpl::add_put(RequestBatch& batch, const Key& key, std::span<const std::byte> value,
                           EmptyResponseCall* call, std::uint16_t flags) {
  KVTIER_RETURN_IF_ERROR(check_value(key, value.size(), frame_value_limit()));
  std::span<const std::byte> data[] = {value};
  return batch.add(conn_->next_request_id(), protocol::PutRequest{key, value.size()}, call, data,
                   -1, flags);
}

Result<std::uint16_t> ClientImpl::put_flags(const PutOptions& options) const {
  if (!options.durable) return std::uint16_t{0};
  if (!info_.has(kCapabilityDurablePut)) {
    return Status::Rejected("durable put: this daemon does not offer durable puts (no NVMe tier, "
                            "or protocol version " + std::to_string(info_.version) + ")");
  }
  return std::uint16_t{protocol::kFlagDurable};
}

std::uint64_t ClientImpl::get_capacity(std::size_t size) const {
  return std::min<std::uint64_t>(size, info_.max_value_bytes);
}

Status ClientImpl::add_get(RequestBatch& batch, const Key& key, std::uint64_t capacity,
                           GetCall* call) {
  return batch.add(conn_->next_request_id(), protocol::GetRequest{key, capacity}, call);
}

Status ClientImpl::add_remove(RequestBatch& batch, const Key& key, EmptyResponseCall* call) {
  return batch.add(conn_->next_request_id(), protocol::RemoveRequest{key}, call);
}

Status ClientImpl::add_lookup(RequestBatch& batch, std::span<const Key> chain,
                              std::vector<LookupCall>* pieces) {
  // A chain longer than max_batch is looked up in pieces sent together; combine_lookups stops at
  // the first piece not cached in full, so the answer is the same as one LOOKUP's.
  std::vector<BatchRange> ranges = split_batch(chain.size(), info_.max_batch, 0, nullptr);
  pieces->clear();
  pieces->reserve(ranges.size());
  for (const BatchRange& r : ranges) {
    protocol::LookupRequest m;
    m.keys.assign(chain.begin() + static_cast<std::ptrdiff_t>(r.begin),
                  chain.begin() + static_cast<std::ptrdiff_t>(r.end));
    pieces->emplace_back(r.end - r.begin);
    KVTIER_RETURN_IF_ERROR(batch.add(conn_->next_request_id(), m, &pieces->back()));
  }
  return Status::Ok();
}

Status ClientImpl::ping(std::string_view payload) {
  if (payload.size() > protocol::kMaxPingPayloadBytes) {
    return Status::InvalidArgument("ping: payload of " + size_text(payload.size()) + " exceeds " +
                                   size_text(protocol::kMaxPingPayloadBytes));
  }
  PingCall call{std::string(payload)};
  return run_one(protocol::PingRequest{std::string(payload)}, call);
}

Status ClientImpl::put(const Key& key, std::span<const std::byte> value,
                       const PutOptions& options) {
  Result<std::uint16_t> flags = put_flags(options);
  if (!flags.ok()) return flags.status();
  EmptyResponseCall call;
  RequestBatch batch;
  KVTIER_RETURN_IF_ERROR(add_put(batch, key, value, &call, *flags));
  KVTIER_RETURN_IF_ERROR(run(batch));
  return call.status;
}

GetResult ClientImpl::get(const Key& key, std::span<std::byte> dst) {
  GetCall call(key, dst, get_capacity(dst.size()));
  RequestBatch batch;
  if (Status s = add_get(batch, key, get_capacity(dst.size()), &call); !s.ok()) {
    return {s, 0, Tier::kNone};
  }
  (void)run(batch);  // a failed run is in the call's result
  return call.result;
}

Result<PrefixMatch> ClientImpl::lookup(std::span<const Key> chain) {
  if (chain.empty()) return PrefixMatch{};
  std::vector<LookupCall> pieces;
  RequestBatch batch;
  KVTIER_RETURN_IF_ERROR(add_lookup(batch, chain, &pieces));
  KVTIER_RETURN_IF_ERROR(run(batch));
  return combine_lookups(pieces);
}

// Sends `count` items of a *_MANY call as requests like `request` (which holds what every
// piece repeats: the region), split at max_batch and at max_data_bytes of bytes_of(j) per
// request, each with a ListCallT of its own as its sink. add(m, call, j, data) adds the j-th item
// sent to the request m and to call.index, and its value bytes, when the frame carries them, to
// data. Returns the whole request's Status; a request that cannot be added fails every item.
template <typename ListCallT, typename M, typename Item, typename Out>
Status ClientImpl::send_list(std::span<const Item> items, std::span<Out> out, const M& request,
                             std::uint16_t flags, std::size_t count, auto bytes_of, auto add) {
  std::deque<ListCallT> calls;
  RequestBatch batch;
  std::vector<std::span<const std::byte>> data;
  for (const BatchRange& r : split_batch(count, info_.max_batch, info_.max_data_bytes, bytes_of)) {
    ListCallT& call = calls.emplace_back(items, out);
    M m = request;
    data.clear();
    for (std::size_t j = r.begin; j < r.end; ++j) add(m, call, j, data);
    if (Status a = batch.add(conn_->next_request_id(), m, &call, data, -1, flags); !a.ok()) {
      return fail_batch(out, a);
    }
  }
  return batch_status(run(batch), calls);
}

Status ClientImpl::put_many(std::span<const PutItem> items, std::span<Status> out,
                            const PutOptions& options) {
  KVTIER_RETURN_IF_ERROR(check_batch_spans(items.size(), out, "put_many"));
  Result<std::uint16_t> flags = put_flags(options);
  if (!flags.ok()) return fail_batch(out, flags.status());
  const std::vector<std::size_t> send = sendable_puts(
      items, out, frame_value_limit(), [](const PutItem& i) { return i.value.size(); });
  return send_list<PutManyCall>(
      items, out, protocol::PutManyRequest{}, *flags, send.size(),
      [&](std::size_t j) { return items[send[j]].value.size(); },
      [&](protocol::PutManyRequest& m, PutManyCall& call, std::size_t j, auto& data) {
        const PutItem& item = items[send[j]];
        call.index.push_back(send[j]);
        m.items.push_back({item.key, item.value.size()});
        data.push_back(item.value);
      });
}

Status ClientImpl::get_many(std::span<const GetItem> items, std::span<GetResult> out) {
  KVTIER_RETURN_IF_ERROR(check_batch_spans(items.size(), out, "get_many"));
  return send_list<GetManyCall>(
      items, out, protocol::GetManyRequest{}, 0, items.size(),
      [&](std::size_t i) { return get_capacity(items[i].dst.size()); },
      [&](protocol::GetManyRequest& m, GetManyCall& call, std::size_t i, auto&) {
        std::uint64_t capacity = get_capacity(items[i].dst.size());
        call.index.push_back(i);
        call.capacities.push_back(capacity);
        m.items.push_back({items[i].key, capacity});
        out[i] = {Status::Closed("no response yet"), 0, Tier::kNone};
      });
}

Status ClientImpl::remove(const Key& key) {
  EmptyResponseCall call;
  return run_one(protocol::RemoveRequest{key}, call);
}

Status ClientImpl::pin(const Key& key, std::chrono::milliseconds lease) {
  if (lease.count() <= 0 || lease.count() > static_cast<std::int64_t>(UINT32_MAX)) {
    return Status::InvalidArgument("pin: lease must be 1 ms .. " + std::to_string(UINT32_MAX) +
                                   " ms, got " + std::to_string(lease.count()) + " ms");
  }
  EmptyResponseCall call;
  return run_one(protocol::PinRequest{key, static_cast<std::uint32_t>(lease.count())}, call);
}

Status ClientImpl::unpin(const Key& key) {
  EmptyResponseCall call;
  return run_one(protocol::UnpinRequest{key}, call);
}

Result<std::string> ClientImpl::stats() {
  ResponseCall<protocol::StatsResponse> call;
  KVTIER_RETURN_IF_ERROR(run_one(protocol::StatsRequest{}, call));
  return std::move(call.response.text);
}

Result<SharedRegion> ClientImpl::register_shared_memory(std::size_t bytes) {
  if (!conn_->is_unix()) {
    return Status::InvalidArgument(
        "shared memory needs a Unix socket connection (a memfd cannot cross TCP); this client is "
        "connected to " +
        conn_->address().to_string());
  }
  Result<SealedMemfd> memfd = SealedMemfd::create(bytes);
  if (!memfd.ok()) return memfd.status();
  ResponseCall<protocol::ShmRegisterResponse> call;
  KVTIER_RETURN_IF_ERROR(
      run_one(protocol::ShmRegisterRequest{memfd->memory().size()}, call, memfd->fd()));
  auto owned = std::make_unique<OwnedRegion>();
  owned->id = call.response.region_id;
  owned->memfd = std::move(memfd).value();
  owned->memfd.close_fd();  // the daemon holds its own reference now
  SharedRegion region{owned->id, owned->memfd.memory()};
  regions_.push_back(std::move(owned));
  return region;
}

template <typename Item>
Status ClientImpl::check_region(const SharedRegion& region, std::span<const Item> items,
                                std::uint64_t Item::*length) const {
  auto mine = std::find_if(regions_.begin(), regions_.end(), [&](const auto& r) {
    return r->id == region.id && r->memfd.memory().data() == region.memory.data();
  });
  if (mine == regions_.end()) {
    return Status::InvalidArgument("shared memory region " + std::to_string(region.id) +
                                   " was not registered by this client");
  }
  const std::uint64_t size = (*mine)->memfd.memory().size();
  for (const Item& item : items) {
    std::uint64_t len = item.*length;
    if (item.offset > size || len > size - item.offset) {
      return Status::InvalidArgument("shared memory: bytes [" + std::to_string(item.offset) +
                                     ", +" + std::to_string(len) + ") for key " + item.key.hex() +
                                     " are outside region " + std::to_string(region.id) + " (" +
                                     size_text(size) + ")");
    }
  }
  return Status::Ok();
}

Status ClientImpl::get_many_shm(const SharedRegion& region, std::span<const ShmGet> items,
                                std::span<GetResult> out) {
  KVTIER_RETURN_IF_ERROR(check_batch_spans(items.size(), out, "get_many_shm"));
  if (Status c = check_region(region, items, &ShmGet::capacity); !c.ok()) return fail_batch(out, c);
  // Split as value frames are (the daemon bounds a frame's bytes, shared memory or not).
  return send_list<GetManyShmCall>(
      items, out, protocol::GetManyShmRequest{.region_id = region.id}, 0, items.size(),
      [&](std::size_t i) { return get_capacity(items[i].capacity); },
      [&](protocol::GetManyShmRequest& m, GetManyShmCall& call, std::size_t i, auto&) {
        call.index.push_back(i);
        m.items.push_back({items[i].key, items[i].offset, items[i].capacity});
        out[i] = {Status::Closed("no response yet"), 0, Tier::kNone};
      });
}

Status ClientImpl::put_many_shm(const SharedRegion& region, std::span<const ShmPut> items,
                                std::span<Status> out, const PutOptions& options) {
  KVTIER_RETURN_IF_ERROR(check_batch_spans(items.size(), out, "put_many_shm"));
  Result<std::uint16_t> flags = put_flags(options);
  if (!flags.ok()) return fail_batch(out, flags.status());
  if (Status c = check_region(region, items, &ShmPut::size); !c.ok()) return fail_batch(out, c);
  const std::vector<std::size_t> send = sendable_puts(
      items, out, info_.max_value_bytes, [](const ShmPut& i) { return i.size; });
  return send_list<PutManyShmCall>(
      items, out, protocol::PutManyShmRequest{.region_id = region.id}, *flags, send.size(),
      [&](std::size_t j) { return items[send[j]].size; },
      [&](protocol::PutManyShmRequest& m, PutManyShmCall& call, std::size_t j, auto&) {
        const ShmPut& item = items[send[j]];
        call.index.push_back(send[j]);
        m.items.push_back({item.key, item.offset, item.size});
      });
}

}  // namespace client
}  // namespace kvtier
