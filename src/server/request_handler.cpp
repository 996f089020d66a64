// The operations of kvtierd (see request_handler.h and docs/PROTOCOL.md, "Operations").
#include "server/request_handler.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace kvtier::server {

namespace {

using protocol::Opcode;

// GET_MANY reads values into buffers sized by the client's capacities, a slice of at most this
// many bytes of them at a time (the store reads each slice with its I/Os in flight).
constexpr std::uint64_t kGetManySliceBytes = 256 * kMiB;

// Everything a handler needs, for one request.
struct Call {
  PendingRequest& p;
  Session& session;
  ServerContext& ctx;
  OutputQueue& out;

  std::uint64_t id() const { return p.header.request_id; }
  NamespaceId ns() const { return session.tenant->ns; }
  engine::ServingStore& store() const { return ctx.store; }
  // The request asked to be answered once its values are durable (check_request refused it
  // where the daemon cannot do that).
  bool durable() const { return (p.header.flags & protocol::kFlagDurable) != 0; }

  // Whether a request that may hold up to `most` bytes of response data is a small one, which
  // may use the budget's reserve (memory_budget.h).
  bool small_response(std::uint64_t most) const {
    return most + p.connection_holds <= kSmallHoldBytes;
  }
  // Response data is held against the daemon's in-flight memory until it is sent (the
  // connection keeps the hold): takes `n` more bytes for this response, or counts a refusal.
  bool take_response_memory(std::uint64_t n, bool small) {
    if (p.response_memory.try_add_shared(ctx.memory, n, small, &session.counters->held_bytes,
                                         ctx.memory.tenant_share(ctx.max_value_bytes))) {
      return true;
    }
    ctx.metrics.count(ctx.metrics.memory_refusals);
    return false;
  }
  // A value read into a buffer sized for the request's capacity keeps that buffer until sent:
  // when the value is less than half of it, it moves to a buffer of its own size (a copy of
  // the value), so a small value asked for with a large capacity does not hold the large
  // buffer (nor its budget) while the client reads slowly.
  void fit_buffer(AlignedBuffer& buffer, std::uint64_t size) {
    if (aligned_buffer_footprint(size) * 2 > buffer.footprint()) return;
    AlignedBuffer fitted = ctx.buffers.take(size);
    if (fitted.empty()) return;  // keep the large one: it is held and counted already
    std::memcpy(fitted.data(), buffer.data(), size);
    ctx.buffers.give(std::exchange(buffer, std::move(fitted)));
  }
  Status memory_refusal() const {
    return Status::Busy("the daemon's in-flight memory (server.max_inflight_bytes = " +
                        std::to_string(ctx.memory.limit()) + ") is full; retry later");
  }

  StatusCode fail(Opcode op, const Status& s) {
    out.add_error(op, id(), s);
    return s.code();
  }
  // HELLO refused: answered, counted as `why`, and the connection closed after the answer.
  template <typename Why>
  StatusCode refuse_hello(Why why, const Status& s) {
    p.close_after = true;
    ctx.metrics.count(why);
    return fail(Opcode::kHello, s);
  }
  template <typename Response>
  StatusCode reply(const Status& s, const Response& r) {
    if (!s.ok()) return fail(Response::kOpcode, s);
    out.add_frame(id(), r);
    return StatusCode::kOk;
  }
};

// The status of a value_len before anything is stored: sizes the daemon will not keep.
Status check_value_len(std::uint64_t len, std::uint64_t max) {
  if (len == 0) return Status::InvalidArgument("value_len 0: an empty value cannot be stored");
  if (len > max) {
    return Status::TooLarge("value of " + std::to_string(len) + " bytes exceeds max_value_bytes " +
                            std::to_string(max));
  }
  return Status::Ok();
}

Status quota_refusal(const Tenant& t) {
  return Status::Rejected("tenant \"" + t.name + "\" is at its quota of " +
                          std::to_string(t.quota_bytes) + " bytes");
}

// Whether one item of a batch put may be stored: its size, then the tenant's quota (with what
// `hold` holds for the batch's earlier items counted in); `hold` takes the item's bytes.
Status admit_item(ServerContext& ctx, const Tenant& tenant, std::uint64_t len, QuotaHold& hold) {
  KVTIER_RETURN_IF_ERROR(check_value_len(len, ctx.max_value_bytes));
  if (!TenantRegistry::admit(tenant, ctx.store, len, hold)) return quota_refusal(tenant);
  return Status::Ok();
}
Status admit_item(Call& c, std::uint64_t len, QuotaHold& hold) {
  return admit_item(c.ctx, *c.session.tenant, len, hold);
}

// ---- prepare: before the data arrives ----

// PUT_MANY items at least this large are received straight into their DRAM reservations; a
// batch with smaller ones is received into one value buffer and copied (a reservation per small
// value would cost more than the copy it saves).
constexpr std::uint64_t kDirectPutManyItemBytes = 64 * kKiB;

// Reserves DRAM for every item of a PUT_MANY so its values are received straight where they are
// kept, as a PUT's is. Only when every item can be stored that way (each is large enough, none
// is refused for its size or the tenant's quota, DRAM takes each one); otherwise it reserves
// nothing and returns false, and the batch takes the buffered path, which answers item by item.
bool reserve_put_many(const protocol::PutManyRequest& m, PendingRequest& p, Session& s,
                      ServerContext& ctx) {
  QuotaHold hold;  // given back on return unless the batch is taken this way
  std::vector<engine::PutBuffer> reserved;
  reserved.reserve(m.items.size());
  for (const protocol::PutManyItem& it : m.items) {
    if (it.value_len < kDirectPutManyItemBytes) return false;
    if (!admit_item(ctx, *s.tenant, it.value_len, hold).ok()) return false;
    Result<engine::PutBuffer> b = ctx.store.begin_put(s.tenant->ns, it.key, it.value_len);
    if (!b.ok()) return false;
    reserved.push_back(std::move(b).value());
  }
  for (const engine::PutBuffer& b : reserved) p.sink.add(b.bytes());
  p.put_buffers = std::move(reserved);
  p.quota = std::move(hold);
  return true;
}

void refuse(PendingRequest& p, const Status& st) {
  if (st.ok()) return;
  p.refused = st;
  p.discard_data = true;
}

Status check(const protocol::PutRequest& m, PendingRequest& p, Session& s, ServerContext& ctx) {
  KVTIER_RETURN_IF_ERROR(check_value_len(m.value_len, ctx.max_value_bytes));
  if (p.header.data_len != m.value_len) {
    return Status::InvalidArgument("PUT data_len " + std::to_string(p.header.data_len) +
                                   " does not match value_len " + std::to_string(m.value_len));
  }
  if (!TenantRegistry::admit(*s.tenant, ctx.store, m.value_len, p.quota)) {
    return quota_refusal(*s.tenant);
  }
  return Status::Ok();
}

Status check(const protocol::PutManyRequest& m, PendingRequest& p, Session& s, ServerContext& ctx) {
  Result<std::uint64_t> sum = protocol::data_len_of(m);
  if (!sum.ok()) return sum.status();
  if (*sum != p.header.data_len) {
    return Status::InvalidArgument("PUT_MANY data_len " + std::to_string(p.header.data_len) +
                                   " does not match the items' value_len sum " +
                                   std::to_string(*sum));
  }
  // Items are admitted one by one when they run; but when not even the smallest fits the
  // tenant's quota now, none will: the batch is refused before its data takes any memory.
  if (s.tenant->quota_bytes != 0 && !m.items.empty()) {
    std::uint64_t smallest = m.items.front().value_len;
    for (const protocol::PutManyItem& it : m.items) smallest = std::min(smallest, it.value_len);
    QuotaHold probe;  // given back at once
    if (!TenantRegistry::admit(*s.tenant, ctx.store, smallest, probe)) return quota_refusal(*s.tenant);
  }
  return Status::Ok();
}

Status prepare(const protocol::PutRequest& m, PendingRequest& p, Session& s, ServerContext& ctx) {
  // Straight into DRAM when it fits there (no copy after the socket's); else a value buffer
  // that Store::put takes from (and can send straight to NVMe).
  Result<engine::PutBuffer> direct = ctx.store.begin_put(s.tenant->ns, m.key, m.value_len);
  if (direct.ok()) {
    p.put_buffer = std::move(direct).value();
    p.sink.add(p.put_buffer.bytes());
    return Status::Ok();
  }
  if (direct.status().code() != StatusCode::kTooLarge) return direct.status();
  p.data = ctx.buffers.take(m.value_len);
  if (p.data.empty()) return Status::NoSpace("no memory for a value of " + std::to_string(m.value_len));
  p.sink.add({p.data.data(), m.value_len});
  return Status::Ok();
}

Status prepare(const protocol::PutManyRequest& m, PendingRequest& p, Session& s, ServerContext& ctx) {
  if (p.header.data_len == 0 || reserve_put_many(m, p, s, ctx)) return Status::Ok();
  p.data = ctx.buffers.take(p.header.data_len);
  if (p.data.empty()) {
    return Status::NoSpace("no memory for " + std::to_string(p.header.data_len) + " bytes");
  }
  p.sink.add({p.data.data(), p.header.data_len});
  return Status::Ok();
}

// ---- execute ----

StatusCode run(Call& c, const protocol::HelloRequest& m) {
  if (c.session.tenant != nullptr) {
    c.p.close_after = true;
    return c.fail(Opcode::kHello, Status::InvalidArgument("HELLO was already done on this connection"));
  }
  // The newest version both speak.
  const std::uint16_t version = std::min(m.max_version, protocol::kMaxProtocolVersion);
  if (m.min_version > m.max_version || version < m.min_version ||
      version < protocol::kMinProtocolVersion) {
    c.p.close_after = true;
    return c.fail(Opcode::kHello,
                  Status::InvalidArgument("no common protocol version: the client speaks " +
                                          std::to_string(m.min_version) + ".." +
                                          std::to_string(m.max_version) + ", the daemon " +
                                          std::to_string(protocol::kMinProtocolVersion) + ".." +
                                          std::to_string(protocol::kMaxProtocolVersion)));
  }
  const auto now = std::chrono::steady_clock::now();
  if (!m.token.empty() && !c.ctx.auth_throttle.allowed(c.session.peer, now)) {
    return c.refuse_hello(FrameRejection::kAuth,
                          Status::Busy("too many failed authentications from this peer: "
                                       "try again in a few seconds"));
  }
  // A certificate verified by client CAs a reload has since replaced names nobody.
  if (!c.session.certificate_still_trusted(c.ctx)) {
    return c.refuse_hello(
        FrameRejection::kAuth,
        Status::InvalidArgument("a configuration reload changed the client CAs since "
                                "this connection's certificate was verified: reconnect"));
  }
  const bool token_missing = m.token.empty() && c.session.tls_client_name.empty() &&
                             (c.session.transport == Transport::kTcp ||
                              c.ctx.config.unix_token_required);
  const std::uint64_t generation = c.ctx.tenants.generation();
  std::shared_ptr<const TenantRegistry> registry = c.ctx.tenants.current();
  const Tenant* tenant =
      token_missing ? nullptr
                    : registry->authenticate(m.token, c.session.transport,
                                             c.session.tls_client_name);
  if (tenant == nullptr) {
    std::uint64_t held_back = 0;
    if (c.ctx.auth_throttle.failed(c.session.peer, now, &held_back)) {
      spdlog::warn("event=auth_failed peer={} transport={} token_given={} held_back_lines={}",
                   c.session.peer, transport_name(c.session.transport), !m.token.empty(),
                   held_back);
    }
    return c.refuse_hello(
        FrameRejection::kAuth,
        Status::InvalidArgument(!token_missing ? "authentication failed"
                                : c.session.transport == Transport::kTcp
                                    ? "authentication failed: a token is required on TCP"
                                    : "authentication failed: a token is required "
                                      "(server.unix_token_required)"));
  }
  // Past HELLO a connection leaves the pending budget for the authenticated one (the
  // accounting follows session.tenant: Connection's destructor gives back whichever it holds).
  ServerMetrics& metrics = c.ctx.metrics;
  if (metrics.connections_authenticated.fetch_add(1, std::memory_order_relaxed) >=
      static_cast<std::int64_t>(c.ctx.config.max_connections)) {
    metrics.connections_authenticated.fetch_sub(1, std::memory_order_relaxed);
    return c.refuse_hello(ConnectionRejection::kLimit,
                          Status::Busy("server.max_connections = " +
                                       std::to_string(c.ctx.config.max_connections) +
                                       " connections are open; try again later"));
  }
  // Then the tenant's own limit: one tenant cannot take every slot.
  ServerContext::TenantCounters* counters = c.ctx.counters_of(tenant->name);
  if (counters->connections.fetch_add(1, std::memory_order_relaxed) >= tenant->max_connections &&
      tenant->max_connections != 0) {
    counters->connections.fetch_sub(1, std::memory_order_relaxed);
    metrics.connections_authenticated.fetch_sub(1, std::memory_order_relaxed);
    return c.refuse_hello(
        ConnectionRejection::kTenantLimit,
        Status::Busy("tenant \"" + tenant->name + "\" has its max_connections = " +
                     std::to_string(tenant->max_connections) +
                     " connections open; try again later"));
  }
  metrics.connections_pending_hello.fetch_sub(1, std::memory_order_relaxed);
  c.session.counters = counters;
  c.session.tenant = tenant;
  c.session.registry = std::move(registry);
  c.session.registry_generation = generation;
  c.session.token = m.token;
  c.session.client_name = m.client_name;
  c.session.protocol_version = version;
  protocol::HelloResponse r;
  r.version = version;
  if (c.session.transport == Transport::kUnix) r.capabilities |= protocol::kCapabilitySharedMemory;
  if (c.ctx.max_durable_value_bytes != 0) r.capabilities |= protocol::kCapabilityDurablePut;
  r.tenant = tenant->name;
  r.max_value_bytes = c.ctx.max_value_bytes;
  r.max_batch = c.ctx.config.max_batch;
  // A frame's data is held against the in-flight budget, within its tenant's share: clients split
  // batches to that, so none is refused for a size the frame limit alone would allow.
  r.max_data_bytes = std::min(c.ctx.config.max_frame_data_bytes,
                              largest_size_within_footprint(
                                  c.ctx.memory.tenant_share(c.ctx.max_value_bytes)));
  return c.reply(Status::Ok(), r);
}

StatusCode run(Call& c, const protocol::PingRequest& m) {
  return c.reply(Status::Ok(), protocol::PingResponse{m.payload});
}

StatusCode run(Call& c, const protocol::PutRequest& m) {
  Status s = c.p.put_buffer ? c.store().commit_put(std::move(c.p.put_buffer))
                            : c.store().put(c.ns(), m.key, {c.p.data.data(), m.value_len});
  if (s.ok() && c.durable()) {
    (void)c.store().persist(c.ns(), {&m.key, 1}, {&s, 1});  // one key, one slot: s answers
  }
  return c.reply(s, protocol::PutResponse{});
}

StatusCode run(Call& c, const protocol::GetRequest& m) {
  // A DRAM hit is sent straight from the block; anything else is read into a value buffer.
  // Either is held against the in-flight budget as the memory it keeps until sent (the block's
  // charge, the buffer's footprint), not as the value's size.
  Result<engine::BlockView> view = c.store().view(c.ns(), m.key);
  if (view.ok()) {
    std::uint64_t size = view->bytes().size();
    if (size > m.capacity) {
      c.out.add_frame(c.id(), protocol::GetResponse{size}, 0, StatusCode::kBufferTooSmall);
      return StatusCode::kBufferTooSmall;
    }
    // The block's memory is the DRAM tier's, but the response keeps it past an eviction.
    const std::uint64_t held = view->held_bytes();
    if (!c.take_response_memory(held, c.small_response(held))) {
      return c.fail(Opcode::kGet, c.memory_refusal());
    }
    c.out.add_frame(c.id(), protocol::GetResponse{size}, size);
    c.out.append_view(std::move(view).value());
    return StatusCode::kOk;
  }
  std::uint64_t cap = std::min(m.capacity, c.ctx.max_value_bytes);
  // The value's size is known only once it is read: the buffer's footprint is held until then.
  const std::uint64_t most = aligned_buffer_footprint(cap);
  if (!c.take_response_memory(most, c.small_response(most))) {
    return c.fail(Opcode::kGet, c.memory_refusal());
  }
  AlignedBuffer buf = c.ctx.buffers.take(cap);
  if (buf.empty()) return c.fail(Opcode::kGet, Status::NoSpace("no memory for the value"));
  GetResult r = c.store().get(c.ns(), m.key, {buf.data(), cap});
  if (r.status.ok()) {
    c.fit_buffer(buf, r.size);
    c.p.response_memory.shrink_to(buf.footprint());
    c.out.add_frame(c.id(), protocol::GetResponse{r.size}, r.size);
    c.out.append_data(std::move(buf), r.size);
    return StatusCode::kOk;
  }
  c.p.response_memory.release();
  c.ctx.buffers.give(std::move(buf));
  if (r.status.code() == StatusCode::kBufferTooSmall) {
    c.out.add_frame(c.id(), protocol::GetResponse{r.size}, 0, StatusCode::kBufferTooSmall);
    return StatusCode::kBufferTooSmall;
  }
  return c.fail(Opcode::kGet, r.status);
}

StatusCode run(Call& c, const protocol::LookupRequest& m) {
  Result<PrefixMatch> pm = c.store().lookup(c.ns(), m.keys);
  if (!pm.ok()) return c.fail(Opcode::kLookup, pm.status());
  return c.reply(Status::Ok(),
                 protocol::LookupResponse{pm->cached, pm->in_dram, pm->in_nvme, pm->in_shared});
}

// The items of a PUT_MANY(_SHM) that passed their checks, each with its place in the request.
struct AdmittedPuts {
  std::vector<PutItem> items;
  std::vector<std::size_t> which;
  void add(std::size_t i, const Key& key, std::span<const std::byte> value) {
    items.push_back({key, value});
    which.push_back(i);
  }
};

// Stores the admitted items in one put_many (durable when the request asked) and answers each in
// its place of `statuses`.
void put_admitted(Call& c, const AdmittedPuts& puts, std::vector<StatusCode>& statuses) {
  std::vector<Status> results(puts.items.size());
  // Sized to items: the slots answer.
  (void)c.store().put_many(c.ns(), puts.items, results, PutOptions{.durable = c.durable()});
  for (std::size_t j = 0; j < results.size(); ++j) statuses[puts.which[j]] = results[j].code();
}

// The items of a PUT_MANY received into DRAM reservations, published in order; when the request
// asked, those stored are then persisted together (one sync).
void commit_received(Call& c, const protocol::PutManyRequest& m, std::vector<StatusCode>& statuses) {
  std::vector<Status> results(m.items.size());
  std::vector<Key> keys(m.items.size());
  for (std::size_t i = 0; i < m.items.size(); ++i) keys[i] = m.items[i].key;
  c.store().commit_puts(c.p.put_buffers, results);
  // Sized to the items: the slots answer.
  if (c.durable()) (void)engine::persist_stored(c.store(), c.ns(), keys, results);
  for (std::size_t i = 0; i < results.size(); ++i) statuses[i] = results[i].code();
}

StatusCode run(Call& c, const protocol::PutManyRequest& m) {
  protocol::PutManyResponse r;
  r.statuses.assign(m.items.size(), StatusCode::kOk);
  if (!c.p.put_buffers.empty()) {  // received into DRAM reservations
    commit_received(c, m, r.statuses);
    return c.reply(Status::Ok(), r);
  }
  AdmittedPuts puts;
  std::uint64_t offset = 0;
  QuotaHold hold;  // given back after put_many has published the items
  for (std::size_t i = 0; i < m.items.size(); ++i) {
    const protocol::PutManyItem& it = m.items[i];
    Status st = admit_item(c, it.value_len, hold);
    if (st.ok()) puts.add(i, it.key, {c.p.data.data() + offset, it.value_len});
    r.statuses[i] = st.code();
    offset += it.value_len;
  }
  put_admitted(c, puts, r.statuses);
  return c.reply(Status::Ok(), r);
}

StatusCode run(Call& c, const protocol::GetManyRequest& m) {
  protocol::GetManyResponse r;
  r.results.resize(m.items.size());
  // DRAM hits are sent straight from their blocks; the rest are read into value buffers, a slice
  // at a time (with the slice's NVMe reads in flight together). What the daemon holds for one
  // batch is bounded by the response: once the values found fill a frame, the items not yet read
  // are answered too_large (as the ones past the frame are below) instead of read, and buffers
  // are given back as soon as their item is known not to be sent. A batch that lists one huge
  // value thousands of times is read about a frame's worth, not thousands of times.
  // The budget is charged what each item keeps until sent (block charge, buffer footprint).
  const std::uint64_t max_data = c.ctx.config.max_frame_data_bytes;
  const std::uint64_t slice_bytes = std::min(kGetManySliceBytes, max_data);
  std::uint64_t found_bytes = 0;  // sizes of the values found so far, with status ok
  std::uint64_t held = 0;         // the memory those values keep (blocks, buffers)
  std::uint64_t most = 0;         // the most the response could hold
  for (const protocol::GetManyItem& it : m.items) {
    most += aligned_buffer_footprint(std::min(it.capacity, c.ctx.max_value_bytes));
  }
  const bool small = c.small_response(std::min(most, max_data));
  std::vector<engine::BlockView> views(m.items.size());
  std::vector<AlignedBuffer> buffers(m.items.size());
  std::vector<std::size_t> rest;
  for (std::size_t i = 0; i < m.items.size(); ++i) {
    Result<engine::BlockView> v = c.store().view(c.ns(), m.items[i].key);
    if (!v.ok()) {
      rest.push_back(i);
      continue;
    }
    std::uint64_t size = v->bytes().size();
    r.results[i] = {size <= m.items[i].capacity ? StatusCode::kOk : StatusCode::kBufferTooSmall,
                    size};
    if (size > m.items[i].capacity) continue;
    if (found_bytes + size > max_data) {  // past the frame, as below: not held
      r.results[i] = {StatusCode::kTooLarge, 0};
      continue;
    }
    if (!c.take_response_memory(v->held_bytes(), small)) {
      r.results[i] = {StatusCode::kBusy, 0};
      continue;
    }
    held += v->held_bytes();
    views[i] = std::move(v).value();
    found_bytes += size;
  }
  bool out_of_memory = false;  // items not read for lack of in-flight memory answer busy
  for (std::size_t begin = 0; begin < rest.size();) {
    if (found_bytes >= max_data || out_of_memory) {
      for (std::size_t k = begin; k < rest.size(); ++k) {
        r.results[rest[k]] = {out_of_memory ? StatusCode::kBusy : StatusCode::kTooLarge, 0};
      }
      break;
    }
    std::vector<GetItem> items;
    std::size_t end = begin;
    for (std::uint64_t slice = 0; end < rest.size(); ++end) {
      const protocol::GetManyItem& it = m.items[rest[end]];
      std::uint64_t cap = std::min(it.capacity, c.ctx.max_value_bytes);
      if (!items.empty() && slice + cap > slice_bytes) break;
      // Held until the slice is read, then only what was found is kept.
      if (!c.take_response_memory(aligned_buffer_footprint(cap), small)) {
        out_of_memory = true;
        break;
      }
      AlignedBuffer& b = buffers[rest[end]];
      b = c.ctx.buffers.take(cap);
      items.push_back({it.key, {b.data(), b.empty() ? 0 : cap}});
      slice += cap;
    }
    std::vector<GetResult> got(items.size());
    (void)c.store().get_many(c.ns(), items, got);  // sized to items: the slots answer
    for (std::size_t j = 0; j < items.size(); ++j) {
      const std::size_t i = rest[begin + j];
      r.results[i] = {got[j].status.code(), got[j].size};
      if (got[j].status.ok()) {
        found_bytes += got[j].size;
        c.fit_buffer(buffers[i], got[j].size);
        held += buffers[i].footprint();
      } else {
        c.ctx.buffers.give(std::move(buffers[i]));
      }
    }
    c.p.response_memory.shrink_to(held);
    begin = end;
  }
  // The response's data: ok items in order, while they fit in one frame; the rest let go.
  std::uint64_t data_len = 0;
  held = 0;
  for (std::size_t i = 0; i < m.items.size(); ++i) {
    protocol::ItemResult& res = r.results[i];
    if (res.status != StatusCode::kOk) continue;
    if (data_len + res.value_len > max_data) {
      res = {StatusCode::kTooLarge, 0};
      views[i] = engine::BlockView();
      c.ctx.buffers.give(std::move(buffers[i]));
      continue;
    }
    data_len += res.value_len;
    held += views[i] ? views[i].held_bytes() : buffers[i].footprint();
  }
  c.p.response_memory.shrink_to(held);
  c.out.add_frame(c.id(), r, data_len);
  for (std::size_t i = 0; i < m.items.size(); ++i) {
    if (r.results[i].status == StatusCode::kOk) {
      if (views[i]) {
        c.out.append_view(std::move(views[i]));
      } else {
        c.out.append_data(std::move(buffers[i]), r.results[i].value_len);
        continue;
      }
    }
    c.ctx.buffers.give(std::move(buffers[i]));
  }
  return StatusCode::kOk;
}

StatusCode run(Call& c, const protocol::RemoveRequest& m) {
  return c.reply(c.store().remove(c.ns(), m.key), protocol::RemoveResponse{});
}

StatusCode run(Call& c, const protocol::PinRequest& m) {
  std::unordered_set<Key, KeyHash>& pinned = c.session.pinned;
  if (pinned.size() >= kMaxPinsPerConnection && pinned.count(m.key) == 0) {
    return c.fail(Opcode::kPin, Status::Busy("a connection holds at most " +
                                             std::to_string(kMaxPinsPerConnection) +
                                             " pins: unpin some first"));
  }
  Status s = c.store().pin(c.ns(), m.key, std::chrono::milliseconds(m.lease_ms),
                           c.session.tenant->max_pinned_bytes);
  if (s.ok()) pinned.insert(m.key);
  return c.reply(s, protocol::PinResponse{});
}

StatusCode run(Call& c, const protocol::UnpinRequest& m) {
  c.session.pinned.erase(m.key);
  return c.reply(c.store().unpin(c.ns(), m.key), protocol::UnpinResponse{});
}

StatusCode run(Call& c, const protocol::StatsRequest&) {
  protocol::StatsResponse r;
  // The default tenant is the operator's (the Unix socket's group, or the data dir's
  // auth-token): it sees every tenant, as /metrics does; any other sees only its own lines.
  const Tenant* tenant = c.session.tenant;
  r.text = c.ctx.render_metrics(tenant == &c.session.registry->default_tenant() ? TenantLines::all()
                                                                          : TenantLines::of(tenant));
  // The text travels as meta; cut it (at a line) rather than fail when it outgrows the cap.
  constexpr std::size_t kMaxText = protocol::kMaxMetaBytes - 4;
  if (r.text.size() > kMaxText) {
    r.text.resize(r.text.rfind('\n', kMaxText - 1) + 1);
  }
  return c.reply(Status::Ok(), r);
}

StatusCode run(Call& c, const protocol::ShmRegisterRequest& m) {
  Session& s = c.session;
  if (s.transport != Transport::kUnix) {
    return c.fail(Opcode::kShmRegister,
                  Status::InvalidArgument("SHM_REGISTER needs the Unix socket (same node)"));
  }
  if (s.memfds_lost) {
    return c.fail(Opcode::kShmRegister,
                  Status::InvalidArgument("a memfd sent on this connection was dropped (sent before "
                                          "HELLO, or past the daemon's bound on memfds in transit): "
                                          "register shared memory on a new connection"));
  }
  if (s.received_fds.empty()) {
    return c.fail(Opcode::kShmRegister,
                  Status::InvalidArgument("SHM_REGISTER came without a memfd: send it with "
                                          "SCM_RIGHTS in the sendmsg that carries the frame"));
  }
  UniqueFd fd = std::move(s.received_fds.front());
  s.received_fds.pop_front();
  c.ctx.metrics.received_fds_held.fetch_sub(1, std::memory_order_relaxed);
  const ServerConfig& cfg = c.ctx.config;
  if (s.regions.size() >= cfg.max_shm_regions_per_connection) {
    return c.fail(Opcode::kShmRegister,
                  Status::Rejected("this connection already has max_shm_regions_per_connection = " +
                                   std::to_string(cfg.max_shm_regions_per_connection) + " regions"));
  }
  if (m.size > cfg.max_shm_bytes_per_connection - s.region_bytes) {
    return c.fail(Opcode::kShmRegister,
                  Status::Rejected("region of " + std::to_string(m.size) +
                                   " bytes would pass max_shm_bytes_per_connection = " +
                                   std::to_string(cfg.max_shm_bytes_per_connection)));
  }
  Result<std::unique_ptr<SharedMemoryRegion>> region =
      SharedMemoryRegion::map(std::move(fd), m.size);
  if (!region.ok()) return c.fail(Opcode::kShmRegister, region.status());
  std::uint32_t id = s.next_region_id++;
  s.regions[id] = std::move(region).value();
  s.region_bytes += m.size;
  c.ctx.metrics.shm_regions.fetch_add(1, std::memory_order_relaxed);
  c.ctx.metrics.shm_region_bytes.fetch_add(static_cast<std::int64_t>(m.size),
                                           std::memory_order_relaxed);
  return c.reply(Status::Ok(), protocol::ShmRegisterResponse{id});
}

// Items whose slices share a byte: the daemon would write one value over another in the client's
// memory, and no answer could say which bytes are whose. OK when every slice stands alone. A
// slice of capacity 0 holds nothing and is left out; every other is compared with the furthest
// end of all slices before it (not only its neighbour: a slice may reach past the next one).
Status check_slices_apart(const protocol::GetManyShmRequest& m) {
  std::vector<std::size_t> order;
  order.reserve(m.items.size());
  for (std::size_t i = 0; i < m.items.size(); ++i) {
    if (m.items[i].capacity != 0) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return m.items[a].offset < m.items[b].offset;
  });
  std::uint64_t reach = 0;   // the furthest end so far (offset + capacity, saturated)
  std::size_t reacher = 0;   // the item that reaches it
  for (std::size_t k = 0; k < order.size(); ++k) {
    const protocol::ShmGetItem& item = m.items[order[k]];
    if (k > 0 && item.offset < reach) {
      return Status::InvalidArgument(
          "GET_MANY_SHM items " + std::to_string(reacher) + " and " + std::to_string(order[k]) +
          " overlap in region " + std::to_string(m.region_id) +
          ": each value needs a slice of its own");
    }
    const std::uint64_t end = item.capacity > UINT64_MAX - item.offset ? UINT64_MAX
                                                                        : item.offset + item.capacity;
    if (k == 0 || end > reach) {
      reach = end;
      reacher = order[k];
    }
  }
  return Status::Ok();
}

// The region a shared-memory batch names, once the batch passed its checks in this order: the
// region, a GET_MANY_SHM's slices apart, the bytes it moves. Those are at most what one frame of
// values may carry (server.max_frame_data_bytes), as for PUT_MANY and GET_MANY: its copies run on
// the I/O thread, and 16,384 items naming the same 4 MiB slice copied 64 GiB while other clients
// waited. A capacity counts up to max_value_bytes, the most a value there can take.
template <typename Request, typename Item>
Result<const SharedMemoryRegion*> shm_batch_region(Call& c, const Request& m,
                                                   std::uint64_t Item::*size) {
  auto region = c.session.regions.find(m.region_id);
  if (region == c.session.regions.end()) {
    return Status::InvalidArgument("no shared memory region " + std::to_string(m.region_id) +
                                   " on this connection");
  }
  if constexpr (std::is_same_v<Request, protocol::GetManyShmRequest>) {
    KVTIER_RETURN_IF_ERROR(check_slices_apart(m));
  }
  const std::uint64_t limit = c.ctx.config.max_frame_data_bytes;
  std::uint64_t total = 0;
  for (const Item& it : m.items) {
    total += std::min({it.*size, c.ctx.max_value_bytes, limit + 1});
    if (total > limit) {
      return Status::TooLarge("a shared-memory batch moves at most server.max_frame_data_bytes = " +
                              std::to_string(limit) + " bytes: split it");
    }
  }
  return region->second.get();
}

StatusCode run(Call& c, const protocol::GetManyShmRequest& m) {
  Result<const SharedMemoryRegion*> region =
      shm_batch_region(c, m, &protocol::ShmGetItem::capacity);
  if (!region.ok()) return c.fail(Opcode::kGetManyShm, region.status());
  protocol::GetManyShmResponse r;
  r.results.resize(m.items.size());
  std::vector<GetItem> items;
  std::vector<std::size_t> which;
  for (std::size_t i = 0; i < m.items.size(); ++i) {
    Result<std::span<std::byte>> dst = (*region)->slice(m.items[i].offset, m.items[i].capacity);
    if (!dst.ok()) {
      r.results[i].status = StatusCode::kInvalidArgument;
      continue;
    }
    items.push_back({m.items[i].key, *dst});
    which.push_back(i);
  }
  std::vector<GetResult> got(items.size());
  (void)c.store().get_many(c.ns(), items, got);  // sized to items: the slots answer
  std::uint64_t moved = 0;
  for (std::size_t j = 0; j < items.size(); ++j) {
    r.results[which[j]] = {got[j].status.code(), got[j].size};
    if (got[j].status.ok()) moved += got[j].size;
  }
  c.ctx.metrics.count(c.ctx.metrics.shm_bytes_written, moved);
  c.p.work_bytes = moved;
  return c.reply(Status::Ok(), r);
}

StatusCode run(Call& c, const protocol::PutManyShmRequest& m) {
  Result<const SharedMemoryRegion*> region =
      shm_batch_region(c, m, &protocol::ShmPutItem::value_len);
  if (!region.ok()) return c.fail(Opcode::kPutManyShm, region.status());
  protocol::PutManyShmResponse r;
  r.statuses.assign(m.items.size(), StatusCode::kOk);
  AdmittedPuts puts;
  std::uint64_t admitted = 0;  // bytes of the items taken
  QuotaHold hold;              // given back after put_many has published them
  for (std::size_t i = 0; i < m.items.size(); ++i) {
    const protocol::ShmPutItem& it = m.items[i];
    Result<std::span<std::byte>> src = (*region)->slice(it.offset, it.value_len);
    // Size first, then the bounds, then the quota (admit_item's size check passes again).
    Status st = check_value_len(it.value_len, c.ctx.max_value_bytes);
    if (st.ok()) st = src.status();
    if (st.ok()) st = admit_item(c, it.value_len, hold);
    r.statuses[i] = st.code();
    if (!st.ok()) continue;
    puts.add(i, it.key, *src);
    admitted += it.value_len;
  }
  put_admitted(c, puts, r.statuses);
  c.ctx.metrics.count(c.ctx.metrics.shm_bytes_read, admitted);
  c.p.work_bytes = admitted;
  return c.reply(Status::Ok(), r);
}

// The largest value a put request carries (0 for any other request).
std::uint64_t largest_put_value(const Request& r) {
  std::uint64_t most = 0;
  if (const auto* put = std::get_if<protocol::PutRequest>(&r)) most = put->value_len;
  if (const auto* many = std::get_if<protocol::PutManyRequest>(&r)) {
    for (const protocol::PutManyItem& it : many->items) most = std::max(most, it.value_len);
  }
  if (const auto* shm = std::get_if<protocol::PutManyShmRequest>(&r)) {
    for (const protocol::ShmPutItem& it : shm->items) most = std::max(most, it.value_len);
  }
  return most;
}

}  // namespace

void check_request(PendingRequest& p, Session& session, ServerContext& context) {
  // The frame reader let the flag through only where HELLO chose protocol version 2. Before the
  // data arrives, a put that cannot be made durable is not stored at all.
  if ((p.header.flags & protocol::kFlagDurable) != 0) {
    if (context.max_durable_value_bytes == 0) {
      return refuse(p, Status::Rejected("durable puts are not offered: the daemon has no NVMe tier "
                                        "(capability durable_put, docs/PROTOCOL.md)"));
    }
    if (const std::uint64_t most = largest_put_value(p.request); most > context.max_durable_value_bytes) {
      return refuse(p, Status::TooLarge(
                           "a value of " + std::to_string(most) + " bytes cannot be made durable: "
                           "the NVMe tier's largest entry is " +
                           std::to_string(context.max_durable_value_bytes) +
                           " bytes (nvme.region_size); nothing was stored"));
    }
  }
  if (auto* put = std::get_if<protocol::PutRequest>(&p.request)) {
    refuse(p, check(*put, p, session, context));
  } else if (auto* many = std::get_if<protocol::PutManyRequest>(&p.request)) {
    refuse(p, check(*many, p, session, context));
  }
}

void prepare_request(PendingRequest& p, Session& session, ServerContext& context) {
  if (auto* put = std::get_if<protocol::PutRequest>(&p.request)) {
    refuse(p, prepare(*put, p, session, context));
  } else if (auto* many = std::get_if<protocol::PutManyRequest>(&p.request)) {
    refuse(p, prepare(*many, p, session, context));
  }
}

StatusCode execute_request(PendingRequest& p, Session& session, ServerContext& context,
                           OutputQueue& out) {
  Call c{p, session, context, out};
  if (!p.refused.ok()) return c.fail(p.header.opcode, p.refused);
  return std::visit(
      [&c](const auto& m) -> StatusCode {
        if constexpr (std::is_same_v<std::decay_t<decltype(m)>, std::monostate>) {
          return c.fail(c.p.header.opcode, Status::InvalidArgument("request without meta"));
        } else {
          return run(c, m);
        }
      },
      p.request);
}

}  // namespace kvtier::server
