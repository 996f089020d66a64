// ClientImpl: the Client of include/kvtier/client.h over one Connection, and the request
// builders its Pipeline shares. Internal to src/client/.
//
// Thread-safety: none (see Client).
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "client/calls.h"
#include "client/connection.h"
#include "client/shared_memory.h"
#include "kvtier/client.h"

namespace kvtier::client {

class ClientImpl final : public Client {
 public:
  ClientImpl(std::unique_ptr<Connection> conn, ServerInfo info)
      : conn_(std::move(conn)), info_(std::move(info)) {}

  const ServerInfo& server_info() const override { return info_; }
  Status ping(std::string_view payload) override;
  Status put(const Key& key, std::span<const std::byte> value) override {
    return put(key, value, PutOptions{});
  }
  Status put(const Key& key, std::span<const std::byte> value,
             const PutOptions& options) override;
  GetResult get(const Key& key, std::span<std::byte> dst) override;
  Result<PrefixMatch> lookup(std::span<const Key> chain) override;
  Status put_many(std::span<const PutItem> items, std::span<Status> out) override {
    return put_many(items, out, PutOptions{});
  }
  Status put_many(std::span<const PutItem> items, std::span<Status> out,
                  const PutOptions& options) override;
  Status get_many(std::span<const GetItem> items, std::span<GetResult> out) override;
  Status remove(const Key& key) override;
  Status pin(const Key& key, std::chrono::milliseconds lease) override;
  Status unpin(const Key& key) override;
  Result<std::string> stats() override;
  Result<SharedRegion> register_shared_memory(std::size_t bytes) override;
  Status get_many_shm(const SharedRegion& region, std::span<const ShmGet> items,
                      std::span<GetResult> out) override;
  Status put_many_shm(const SharedRegion& region, std::span<const ShmPut> items,
                      std::span<Status> out) override {
    return put_many_shm(region, items, out, PutOptions{});
  }
  Status put_many_shm(const SharedRegion& region, std::span<const ShmPut> items,
                      std::span<Status> out, const PutOptions& options) override;
  std::unique_ptr<Pipeline> pipeline() override;

  // ---- Request builders, shared with the Pipeline. Each adds its request(s) to `batch` with
  // `call` as the sink, or returns why the request cannot be sent (nothing added). ----

  // flags: the frame header's (put_flags).
  Status add_put(RequestBatch& batch, const Key& key, std::span<const std::byte> value,
                 EmptyResponseCall* call, std::uint16_t flags = 0);
  // The header flags a put with `options` carries; Rejected, before anything is sent, for a
  // durable put to a daemon that did not announce durable_put.
  Result<std::uint16_t> put_flags(const PutOptions& options) const;
  // The capacity a GET announces for a buffer of `size` bytes: no value is above
  // max_value_bytes, so a bigger buffer need not be announced.
  std::uint64_t get_capacity(std::size_t size) const;
  Status add_get(RequestBatch& batch, const Key& key, std::uint64_t capacity, GetCall* call);
  Status add_remove(RequestBatch& batch, const Key& key, EmptyResponseCall* call);
  // One LOOKUP per max_batch keys of `chain`; `pieces` receives one call per request and must
  // not reallocate until the batch ran (it is reserved here).
  Status add_lookup(RequestBatch& batch, std::span<const Key> chain,
                    std::vector<LookupCall>* pieces);

  Connection& connection() { return *conn_; }

 private:
  struct OwnedRegion {
    std::uint32_t id = 0;
    SealedMemfd memfd;
  };
  // The largest value a PUT can carry: within max_value_bytes and within one frame's data.
  std::uint64_t frame_value_limit() const {
    return std::min(info_.max_value_bytes, info_.max_data_bytes);
  }
  // Runs a batch; its calls hold the per-request results.
  Status run(RequestBatch& batch) { return conn_->run(batch); }
  // Sends one request (with `fd`: SHM_REGISTER's memfd) whose response goes to `call`: the
  // connection's failure, else the call's Status.
  template <typename M>
  Status run_one(const M& request, Call& call, int fd = -1) {
    RequestBatch batch;
    KVTIER_RETURN_IF_ERROR(batch.add(conn_->next_request_id(), request, &call, {}, fd));
    KVTIER_RETURN_IF_ERROR(run(batch));
    return call.status;
  }
  // Sends a *_MANY call's items in requests the daemon accepts (see client.cpp).
  template <typename ListCallT, typename M, typename Item, typename Out>
  Status send_list(std::span<const Item> items, std::span<Out> out, const M& request,
                   std::uint16_t flags, std::size_t count, auto bytes_of, auto add);
  // InvalidArgument unless `region` is one this client registered and `items` lie inside it.
  template <typename Item>
  Status check_region(const SharedRegion& region, std::span<const Item> items,
                      std::uint64_t Item::*length) const;

  std::unique_ptr<Connection> conn_;
  ServerInfo info_;
  std::vector<std::unique_ptr<OwnedRegion>> regions_;  // unmapped when the client goes
};

}  // namespace kvtier::client
