// The client's operations as response sinks: each call knows the response meta its request gets
// back and turns it into what include/kvtier/client.h returns (a Status, a GetResult, a
// PrefixMatch, per-item results). Requests are built by the Client (client.cpp), which adds each
// call to a RequestBatch with the call as its sink; the batch's Connection feeds the responses.
//
// Every call starts out failed ("no response"), so a result is never read as OK by accident.
//
// Thread-safety: none; a call belongs to one batch, used by one thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "client/connection.h"
#include "kvtier/client.h"

namespace kvtier::client {

// A per-item status as a Status with a message people can act on.
Status item_status(StatusCode code, const Key& key, std::uint64_t value_len,
                   std::uint64_t capacity);

// Shared by every call: the whole request's Status.
class Call : public ResponseSink {
 public:
  void on_failed(const Status& why) override { status = why; }
  Status status = Status::Closed("no response yet");
};

// A call whose OK response is the meta T and no data: on_response decodes it (an error response
// becomes `status`) and hands it to on_ok, whose error is a protocol violation.
template <typename T>
class MetaCall : public Call {
 public:
  Status on_response(const protocol::FrameHeader& h, std::span<const std::byte> meta,
                     std::vector<iovec>*) final {
    if (h.status != 0) return decode_error_response(h, meta, &status);
    Result<T> m = protocol::decode_meta<T>(meta);
    if (!m.ok()) return protocol_violation(m.status().message());
    KVTIER_RETURN_IF_ERROR(on_ok(*m));
    status = Status::Ok();
    return Status::Ok();
  }

 protected:
  virtual Status on_ok(T& m) = 0;
};

// HELLO: the negotiated version and the daemon's limits.
class HelloCall final : public MetaCall<protocol::HelloResponse> {
 public:
  ServerInfo info;

 private:
  Status on_ok(protocol::HelloResponse& m) override;
};

// PUT, REMOVE, PIN, UNPIN: an empty meta on success.
class EmptyResponseCall final : public Call {
 public:
  Status on_response(const protocol::FrameHeader& h, std::span<const std::byte> meta,
                     std::vector<iovec>* data) override;
};

class PingCall final : public MetaCall<protocol::PingResponse> {
 public:
  explicit PingCall(std::string payload) : payload_(std::move(payload)) {}

 private:
  Status on_ok(protocol::PingResponse& m) override;
  std::string payload_;
};

// STATS, SHM_REGISTER: the response meta, as it came, is the result.
template <typename T>
class ResponseCall final : public MetaCall<T> {
 public:
  T response;

 private:
  Status on_ok(T& m) override {
    response = std::move(m);
    return Status::Ok();
  }
};

// GET: the value is read straight into dst.
class GetCall final : public Call {
 public:
  // capacity: what the request announced (at most dst.size()).
  GetCall(const Key& key, std::span<std::byte> dst, std::uint64_t capacity)
      : key_(key), dst_(dst), capacity_(capacity) {}
  Status on_response(const protocol::FrameHeader& h, std::span<const std::byte> meta,
                     std::vector<iovec>* data) override;
  void on_failed(const Status& why) override;
  GetResult result{Status::Closed("no response yet"), 0, Tier::kNone};

 private:
  Key key_;
  std::span<std::byte> dst_;
  std::uint64_t capacity_;
};

// One LOOKUP of `asked` keys (a piece of a chain; see combine_lookups).
class LookupCall final : public MetaCall<protocol::LookupResponse> {
 public:
  explicit LookupCall(std::size_t asked) : asked_(asked) {}
  PrefixMatch match;
  std::size_t asked() const { return asked_; }

 private:
  Status on_ok(protocol::LookupResponse& m) override;
  std::size_t asked_;
};

// The longest cached prefix of a chain looked up in consecutive pieces: the pieces up to the
// first one not cached in full, plus that one's leading run. The first failed piece's Status if
// one before the gap failed.
Result<PrefixMatch> combine_lookups(std::span<const LookupCall> pieces);

// The item lists of the *_MANY calls: out[index[i]] answers the request's i-th item,
// items[index[i]], from the i-th entry of the response's list (its member kAnswers). A whole
// request's error goes to every item it carried.
template <typename Item, typename Out, typename Response, auto kAnswers>
class ListCall final : public Call {
 public:
  ListCall(std::span<const Item> items, std::span<Out> out) : items_(items), out_(out) {}
  // Defined, and instantiated for the calls below, in calls.cpp.
  Status on_response(const protocol::FrameHeader& h, std::span<const std::byte> meta,
                     std::vector<iovec>* data) override;
  void on_failed(const Status& why) override {
    status = why;
    set_every_item(why);
  }
  std::vector<std::size_t> index;
  // GET_MANY only: capacities[i] is what the request announced for items[index[i]].
  std::vector<std::uint64_t> capacities;

 private:
  // Records the response's i-th answer, and where that item's value bytes go (GET_MANY).
  Status answer(const Response& m, std::size_t i, std::vector<iovec>* data);
  void set_every_item(const Status& s) {
    for (std::size_t i : index) out_[i] = Out{s};
  }
  std::span<const Item> items_;
  std::span<Out> out_;
};

using PutManyCall =
    ListCall<PutItem, Status, protocol::PutManyResponse, &protocol::PutManyResponse::statuses>;
using GetManyCall =
    ListCall<GetItem, GetResult, protocol::GetManyResponse, &protocol::GetManyResponse::results>;
using GetManyShmCall = ListCall<ShmGet, GetResult, protocol::GetManyShmResponse,
                                &protocol::GetManyShmResponse::results>;
using PutManyShmCall = ListCall<ShmPut, Status, protocol::PutManyShmResponse,
                                &protocol::PutManyShmResponse::statuses>;

}  // namespace kvtier::client
