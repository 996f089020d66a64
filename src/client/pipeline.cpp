// Client::Pipeline over ClientImpl: requests are encoded as they are queued and sent by run() in
// one batch, which writes them while reading the responses (connection.h), so a long pipeline
// costs about one round trip and neither direction can deadlock the other.
#include <deque>
#include <memory>
#include <string>

#include "client/client_impl.h"
#include "integrity/check.h"

namespace kvtier::client {
namespace {

class PipelineImpl final : public Client::Pipeline {
 public:
  explicit PipelineImpl(ClientImpl& client) : client_(client) {}

  std::size_t put(const Key& key, std::span<const std::byte> value) override {
    return queue(Kind::kPut,
                 [&](Entry& e) { return client_.add_put(batch_, key, value, &e.empty); });
  }

  std::size_t get(const Key& key, std::span<std::byte> dst) override {
    const std::uint64_t capacity = client_.get_capacity(dst.size());
    return queue(Kind::kGet, [&](Entry& e) {
      e.get_call = std::make_unique<GetCall>(key, dst, capacity);
      Status s = client_.add_get(batch_, key, capacity, e.get_call.get());
      e.get = {s, 0, Tier::kNone};
      return s;
    });
  }

  std::size_t lookup(std::span<const Key> chain) override {
    return queue(Kind::kLookup,
                 [&](Entry& e) { return client_.add_lookup(batch_, chain, &e.lookup_pieces); });
  }

  std::size_t remove(const Key& key) override {
    return queue(Kind::kRemove,
                 [&](Entry& e) { return client_.add_remove(batch_, key, &e.empty); });
  }

  Status run() override {
    Status s = client_.connection().run(batch_);
    for (std::size_t i = first_pending_; i < entries_.size(); ++i) finish(entries_[i]);
    batch_.clear();
    first_pending_ = entries_.size();
    return s;
  }

  const Status& status(std::size_t index) const override { return entry(index).status; }
  const GetResult& get_result(std::size_t index) const override { return entry(index).get; }
  const PrefixMatch& lookup_result(std::size_t index) const override { return entry(index).lookup; }
  std::size_t size() const override { return entries_.size(); }

 private:
  enum class Kind { kPut, kGet, kLookup, kRemove };

  // One queued request and its results. Entries live in a deque: calls are the batch's sinks and
  // must not move while later requests are queued.
  struct Entry {
    Kind kind = Kind::kPut;
    bool sent = false;  // false when refused before sending (status says why)
    Status status = Status::Closed("the pipeline has not run yet");
    GetResult get{Status::InvalidArgument("this request is not a get"), 0, Tier::kNone};
    PrefixMatch lookup;
    EmptyResponseCall empty;                // kPut, kRemove
    std::unique_ptr<GetCall> get_call;      // kGet
    std::vector<LookupCall> lookup_pieces;  // kLookup: one call per max_batch keys
  };

  // Adds an entry whose request add_request(e) queues (OK) or refuses (why); its index.
  std::size_t queue(Kind kind, auto add_request) {
    Entry& e = entries_.emplace_back();
    e.kind = kind;
    e.status = add_request(e);
    e.sent = e.status.ok();
    return entries_.size() - 1;
  }

  // Copies a run's results out of the entry's calls.
  static void finish(Entry& e) {
    if (!e.sent) return;
    switch (e.kind) {
      case Kind::kPut:
      case Kind::kRemove:
        e.status = e.empty.status;
        break;
      case Kind::kGet:
        e.get = e.get_call->result;
        e.status = e.get.status;
        break;
      case Kind::kLookup: {
        Result<PrefixMatch> m = combine_lookups(e.lookup_pieces);
        e.status = m.status();
        if (m.ok()) e.lookup = *m;
        break;
      }
    }
  }

  const Entry& entry(std::size_t index) const {
    KVTIER_CHECK(index < entries_.size());  // REQUIRES: an index this pipeline returned
    return entries_[index];
  }

  ClientImpl& client_;
  RequestBatch batch_;
  std::deque<Entry> entries_;
  std::size_t first_pending_ = 0;  // entries queued since the last run()
};

}  // namespace

std::unique_ptr<Client::Pipeline> ClientImpl::pipeline() {
  return std::make_unique<PipelineImpl>(*this);
}

}  // namespace kvtier::client
