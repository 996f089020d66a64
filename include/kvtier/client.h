// Client: one connection to kvtierd, speaking the wire protocol of docs/PROTOCOL.md.
//
// Thread-safety: a Client is one connection and is NOT safe for concurrent use; give each thread
// its own Client (connections are cheap; the daemon serves them from a few event-driven threads).
// Distinct Clients may be used from any threads.
//
// Every call blocks until its response has arrived or ClientOptions::timeout passed. A timeout, a
// broken connection or a response that does not parse closes the connection: the call that met it
// returns IOError (timeout, socket error, unparsable response) or Closed (the daemon closed the
// connection), and every later call returns Closed. Callers treat any error as a cache miss and
// recompute; a new Client is a new connection.
//
// Batches: a LOOKUP chain or *_MANY list longer than server_info().max_batch, or a PUT_MANY /
// GET_MANY whose values (or buffer capacities) exceed max_data_bytes, is split into several
// requests that are sent pipelined (about one round trip); results come back exactly as for one
// request. Values that cannot be stored (empty, or above max_value_bytes) are refused per item
// (InvalidArgument / TooLarge in out[i], or put's Status) without sending their bytes.
//
// Data path: get-like calls write into the caller's buffer. Same-node clients register shared
// memory (register_shared_memory) and use get_many_shm / put_many_shm: the daemon reads and
// writes the block bytes in that memory directly, and no value byte crosses the socket.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/export.h"
#include "kvtier/key.h"
#include "kvtier/status.h"
#include "kvtier/types.h"

namespace kvtier {

struct ClientOptions {
  // Where the daemon listens: "unix:PATH", "tcp:HOST:PORT", "HOST:PORT", or a path (contains a
  // '/'). Default: the Unix socket of a daemon started in the current directory on its defaults.
  std::string address = "unix:./var/kvtier/kvtierd.sock";
  // The tenant's token. Required on TCP; may be empty on the Unix socket (default tenant).
  std::string token;
  // TLS ("tls:HOST:PORT" addresses): the CA file (PEM) the daemon's certificate must chain to
  // (empty: the system's CAs), and this client's certificate and key for mutual TLS (empty:
  // none). The daemon's certificate must be valid for HOST.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Shown in the daemon's logs. Default: "kvtier-client".
  std::string client_name = "kvtier-client";
  // Longest wait for a response: connect, HELLO and every call must each be answered within it;
  // a split batch or a Pipeline gets it anew for each response. Default: 30 s.
  std::chrono::milliseconds timeout{30'000};
};

// What the daemon announced in HELLO.
struct ServerInfo {
  std::uint16_t version = 0;          // the protocol version HELLO chose (docs/PROTOCOL.md)
  std::string tenant;                 // the tenant this connection acts as
  std::uint64_t max_value_bytes = 0;  // largest value a PUT may carry
  std::uint32_t max_batch = 0;        // most items in one LOOKUP / *_MANY
  std::uint64_t max_data_bytes = 0;   // most data bytes in one frame
  // What this daemon does on this connection beyond the version's operations: kCapability* bits
  // of docs/PROTOCOL.md, "Capabilities" (0 with a daemon of version 1).
  std::uint64_t capabilities = 0;
  bool has(std::uint64_t capability) const { return (capabilities & capability) == capability; }
};
// The *_SHM operations are served (the connection is on the daemon's Unix socket).
inline constexpr std::uint64_t kCapabilitySharedMemory = 1u << 0;
// Durable puts are served (PutOptions::durable): the daemon has an NVMe tier.
inline constexpr std::uint64_t kCapabilityDurablePut = 1u << 1;

// A memfd mapped by this process and registered with the daemon on one connection. Values are
// placed at offsets inside it; 4 KiB-aligned offsets let NVMe reads land in it with O_DIRECT.
// Owned by the Client that registered it and valid while that Client lives.
struct SharedRegion {
  std::uint32_t id = 0;  // the daemon's region id on this connection
  std::span<std::byte> memory;
};

struct ShmGet {
  Key key;
  std::uint64_t offset = 0;    // where in the region the value goes
  std::uint64_t capacity = 0;  // bytes available there
};
struct ShmPut {
  Key key;
  std::uint64_t offset = 0;  // where in the region the value is
  std::uint64_t size = 0;
};

class KVTIER_API Client {
 public:
  // Connects and performs HELLO. InvalidArgument for a malformed address or a refused token
  // (with the daemon's message), IOError when nothing listens there or no answer came in time,
  // Busy / Closed when the daemon answered that it is full / shutting down.
  static Result<std::unique_ptr<Client>> connect(const ClientOptions& options);

  virtual ~Client() = default;

  virtual const ServerInfo& server_info() const = 0;

  // Round trip; the daemon echoes `payload` (<= 1 KiB).
  virtual Status ping(std::string_view payload = {}) = 0;

  virtual Status put(const Key& key, std::span<const std::byte> value) = 0;
  // GetResult as from Store::get in kvtier/store.h (tier is kNone: the daemon does not say
  // where it was found).
  // The value is read from the socket straight into dst. An empty dst asks only for the size:
  // BufferTooSmall with size set, when the key is cached.
  virtual GetResult get(const Key& key, std::span<std::byte> dst) = 0;
  // The longest cached prefix of `chain`, in one round trip.
  virtual Result<PrefixMatch> lookup(std::span<const Key> chain) = 0;
  // Batch forms, one round trip each: out[i] answers items[i]. The returned Status is the whole
  // request's (a connection error, or a batch above max_batch); per-item results go to `out`.
  virtual Status put_many(std::span<const PutItem> items, std::span<Status> out) = 0;
  virtual Status get_many(std::span<const GetItem> items, std::span<GetResult> out) = 0;
  virtual Status remove(const Key& key) = 0;
  // Keeps the block from eviction for `lease` (1 ms .. 2^32-1 ms) or until unpin.
  virtual Status pin(const Key& key, std::chrono::milliseconds lease) = 0;
  virtual Status unpin(const Key& key) = 0;
  // Every counter of the daemon, in the Prometheus text format (the same as HTTP /metrics).
  virtual Result<std::string> stats() = 0;

  // Creates a sealed memfd of `bytes` (rounded up to 4 KiB; sealed against shrinking and
  // growing), maps it and registers it with the daemon (the fd travels with SCM_RIGHTS). Unix
  // socket only (InvalidArgument on TCP). The mapping lives until the Client is destroyed.
  // get_many_shm / put_many_shm take only regions of this Client, with every item inside the
  // region (else InvalidArgument, nothing sent).
  virtual Result<SharedRegion> register_shared_memory(std::size_t bytes) = 0;
  virtual Status get_many_shm(const SharedRegion& region, std::span<const ShmGet> items,
                              std::span<GetResult> out) = 0;
  virtual Status put_many_shm(const SharedRegion& region, std::span<const ShmPut> items,
                              std::span<Status> out) = 0;

  // Pipelining: queue requests, then run() sends them all without waiting for responses (reading
  // responses while it writes, so neither side stalls) and collects every answer. Requests are
  // answered in order. Results of queued calls are valid after run() returns (a failed run leaves
  // the error in each unanswered request's status). More requests may be queued and run() again.
  class Pipeline {
   public:
    virtual ~Pipeline() = default;
    // Each returns the request's index for the accessors below. Buffers must outlive run().
    virtual std::size_t put(const Key& key, std::span<const std::byte> value) = 0;
    virtual std::size_t get(const Key& key, std::span<std::byte> dst) = 0;
    virtual std::size_t lookup(std::span<const Key> chain) = 0;
    virtual std::size_t remove(const Key& key) = 0;
    // Sends everything queued and waits for every response. The returned Status is a connection
    // error; per-request results are below.
    virtual Status run() = 0;
    virtual const Status& status(std::size_t index) const = 0;         // any request
    virtual const GetResult& get_result(std::size_t index) const = 0;  // a get
    virtual const PrefixMatch& lookup_result(std::size_t index) const = 0;  // a lookup
    virtual std::size_t size() const = 0;
  };
  // A new, empty pipeline on this connection. The Client must outlive it and must not be used
  // for other calls while run() is in progress.
  virtual std::unique_ptr<Pipeline> pipeline() = 0;

  // The puts above with options. options.durable (capability kCapabilityDurablePut): each value
  // is answered OK only once it is durable on the daemon (Store::persist in kvtier/store.h: on
  // its NVMe tier, synced), so a crash, SIGKILL or power loss of the daemon or its node after the
  // answer does not lose it; any other answer means it may or may not be stored, and is not
  // known durable. Without the capability every item is Rejected and nothing is sent. A durable
  // put costs the daemon a device sync per request: batch them. (Declared after the calls
  // above so that the vtable of the first release keeps its layout.)
  virtual Status put(const Key& key, std::span<const std::byte> value,
                     const PutOptions& options) = 0;
  virtual Status put_many(std::span<const PutItem> items, std::span<Status> out,
                          const PutOptions& options) = 0;
  virtual Status put_many_shm(const SharedRegion& region, std::span<const ShmPut> items,
                              std::span<Status> out, const PutOptions& options) = 0;
};

}  // namespace kvtier
