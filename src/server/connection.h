// Connection: one client of kvtierd, from its socket to its requests' execution. It reads frames
// as they arrive (FrameReader), streams PUT and PUT_MANY values straight into their DRAM
// reservations (or pooled value buffers), executes
// each complete request on the store (request_handler.cpp) and queues the response, in request
// order (clients pipeline). It stops reading while its queued responses exceed
// max_queued_response_bytes, so a client that does not read cannot grow the daemon's memory
// (backpressure; the store itself blocks a writer that outruns the disk).
//
// A frame that cannot be parsed gets its error response and the connection is closed after it;
// no other connection notices.
//
// Thread-safety: none; a connection lives on one I/O thread's EventLoop.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <variant>
#include <vector>

#include "memory/aligned_buffer.h"
#include "net/tls.h"
#include "protocol/frame.h"
#include "protocol/meta.h"
#include "server/data_sink.h"
#include "server/memory_budget.h"
#include "server/output_queue.h"
#include "server/server_context.h"
#include "server/shm_region.h"
#include "server/tenant_registry.h"
#include "posix/unique_fd.h"

namespace kvtier::server {

// Keys one connection may hold pinned at once: a session's pins are remembered (to end them with
// it), and this bounds what that costs the daemon (~64 bytes each).
inline constexpr std::size_t kMaxPinsPerConnection = 4096;

// What a connection knows about its client after HELLO. Handlers read and change it.
struct Session {
  Transport transport = Transport::kUnix;
  std::string peer;               // for logs
  std::string client_name;        // from HELLO
  std::uint16_t protocol_version = 0;  // the version HELLO chose (0 before)
  const Tenant* tenant = nullptr;  // null until HELLO succeeded
  // What HELLO authenticated against (keeps `tenant` alive across a reload), its generation in
  // the TenantDirectory, and the token presented (empty on a tokenless Unix HELLO), to
  // authenticate again after a reload.
  std::shared_ptr<const TenantRegistry> registry;
  std::uint64_t registry_generation = 0;
  std::string token;
  // TLS: the verified client certificate's common name (empty: none presented), and the
  // ServerContext::client_ca_generation of the context that verified it.
  std::string tls_client_name;
  std::uint64_t client_ca_generation = 0;
  // The tenant's ServerContext::TenantCounters, from HELLO on (null before): this connection
  // counts in its connections, what it holds of the in-flight budget in its held_bytes.
  ServerContext::TenantCounters* counters = nullptr;
  // Keys this connection pinned: unpinned when it closes, so a lease ends with its connection
  // (at most kMaxPinsPerConnection).
  std::unordered_set<Key, KeyHash> pinned;
  std::map<std::uint32_t, std::unique_ptr<SharedMemoryRegion>> regions;
  std::uint64_t region_bytes = 0;
  std::uint32_t next_region_id = 1;
  // memfds received with SCM_RIGHTS, not yet claimed by a SHM_REGISTER (oldest first).
  std::deque<UniqueFd> received_fds;
  // A memfd was dropped (sent before HELLO, or past a bound): which SHM_REGISTER it belonged to is
  // unknown, so no later SHM_REGISTER on this connection may take a memfd (it could be another
  // frame's) and each is refused.
  bool memfds_lost = false;

  // False when a client certificate verified this session's TLS handshake and a reload has since
  // changed the client CAs: the certificate names nobody any more.
  bool certificate_still_trusted(const ServerContext& context) const {
    return tls_client_name.empty() ||
           client_ca_generation == context.current_client_ca_generation();
  }
};

// A request whose meta has been decoded, waiting for its data (if any) and then execution.
using Request = protocol::RequestMessages::Variant<std::monostate>;

// The request being received: its header, decoded meta, where its data goes, and an error that
// was found before execution (answered once the frame's data has been consumed).
struct PendingRequest {
  protocol::FrameHeader header;
  Request request;
  AlignedBuffer data;             // the frame's data, when it is kept in a value buffer
  engine::PutBuffer put_buffer;           // or: a PUT's value, received straight into DRAM
  std::vector<engine::PutBuffer> put_buffers;  // or: a PUT_MANY's values, each straight into DRAM
  DataSink sink;                  // where the data goes: `data`, `put_buffer` or `put_buffers`
  QuotaHold quota;                // what a PUT admitted at its header holds until it is done
  std::uint64_t work_bytes = 0;   // bytes a handler moved besides the frame's data (shared memory)
  MemoryHold data_memory;         // the frame's data_len, from the daemon's in-flight budget
  MemoryHold response_memory;     // response data the handler queued (moves to the connection)
  std::uint64_t connection_holds = 0;  // what the connection's queued responses hold of it
  bool discard_data = false;      // read and drop the data (the request is refused)
  Status refused;                 // non-OK: answer this instead of executing
  bool close_after = false;       // the refusal closes the connection
  bool waited_for_memory = false;  // counted in metrics.memory_waits
  std::chrono::steady_clock::time_point started;
};

class Connection {
 public:
  // `tls`: the connection's TLS session (a TLS listener's), its handshake not yet done; null for
  // plaintext.
  Connection(UniqueFd fd, Transport transport, std::string peer, ServerContext& context,
             std::unique_ptr<net::TlsStream> tls = nullptr, std::uint64_t client_ca_generation = 0);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_.get(); }
  const Session& session() const { return session_; }
  std::chrono::steady_clock::time_point accepted_at() const { return accepted_at_; }

  // Handles readiness events. Returns false when the connection is finished and must be
  // destroyed (peer gone, error sent, or drained).
  bool on_events(std::uint32_t events);
  // The epoll events this connection wants now.
  std::uint32_t interest() const;
  // Which deadline, if any, this connection has missed at `now` (and must be closed for): HELLO
  // not done, a frame begun and not completed while the daemon was reading it, or no traffic.
  ConnectionTimeout overdue(std::chrono::steady_clock::time_point now) const;
  // At a frame boundary with nothing queued: closing now loses no request the client sent whole.
  bool quiescent() const;
  // A frame waits for room in the daemon's in-flight memory budget; the I/O thread retries it
  // (on_events) at every tick, since no socket event announces that room was made elsewhere.
  bool waiting_for_memory() const { return memory_wait_; }
  // Whether requests already received wait because this event's work budget was spent: the
  // I/O thread runs the connection again at its next turn, after the others' events.
  bool has_deferred_work() const { return deferred_; }

 private:
  // Reads what the socket has (into the input buffer, or straight into a value's buffer).
  // Returns the bytes read (0: none waiting), or -1 when the peer closed or failed.
  std::int64_t read_socket();
  // `n` bytes arrived: straight into the request's values (`direct`) or into the input buffer.
  void took_bytes(std::uint64_t n, bool direct);
  // read_socket for a TLS connection: decrypted bytes into `iov[0]`.
  std::int64_t read_tls(const iovec& into);
  // Advances the TLS handshake; false when it failed (the connection is done).
  bool advance_handshake();
  // Sends queued responses through the socket (or TLS).
  Result<std::uint64_t> send_output();
  void update_rcvlowat();
  // Runs the frames in the input buffer until it needs more bytes, the output is full or the
  // connection must close. Returns whether it consumed input or advanced a frame.
  bool process_input();
  void on_meta_ready();
  // A frame's meta is ready: takes what it needs from the in-flight budget. False while it must
  // wait; true once it may go on (with the memory, or refused after kMemoryWait or at once).
  bool admit_memory(std::chrono::steady_clock::time_point now);
  // Before HELLO: Ok for a HELLO header of plausible size; else answers, closes and says why.
  Status refuse_before_hello();
  // Past HELLO, after a reload replaced the tenants: authenticates the session's token again.
  // False (the request answered, the connection closing) when it no longer names its tenant.
  bool tenant_still_valid();
  void on_data(std::span<const std::byte> bytes);
  void on_frame_done();
  void queue_fds(const msghdr& msg);
  bool output_full() const;
  // pending_.header is set from a frame's header until the frame is done.
  bool frame_begun() const { return pending_.header.opcode != protocol::Opcode::kNone; }

  UniqueFd fd_;
  ServerContext& context_;
  std::unique_ptr<net::TlsStream> tls_;  // null: plaintext
  std::uint32_t tls_wants_ = 0;          // EPOLLIN/EPOLLOUT the TLS layer waits for, if any
  Session session_;
  protocol::FrameReader reader_;
  std::vector<std::byte> input_;
  std::size_t input_begin_ = 0;  // unconsumed input is [input_begin_, input_end_)
  std::size_t input_end_ = 0;
  PendingRequest pending_;
  OutputQueue output_;
  std::uint64_t reported_queued_ = 0;  // our share of metrics.queued_response_bytes
  MemoryHold output_memory_;  // budget held by queued response data, at most the queued bytes
  bool memory_wait_ = false;  // the pending frame's meta is read and waits for memory
  // Bytes the frames run in this event moved (data, shared memory), against kWorkPerEvent, and
  // whether frames were left for the next turn because of it.
  std::uint64_t work_this_event_ = 0;
  bool deferred_ = false;
  std::chrono::steady_clock::time_point memory_wait_since_{};
  bool close_after_flush_ = false;
  bool peer_closed_ = false;
  bool after_large_data_ = false;  // the last frame carried a large value (see read_socket)
  int rcvlowat_ = 1;               // the socket's SO_RCVLOWAT (see update_rcvlowat)
  std::chrono::steady_clock::time_point accepted_at_;
  std::chrono::steady_clock::time_point last_traffic_;  // the last byte read or sent
  // When the pending frame's header arrived, moved later by each pause of the daemon's reading
  // (output full, waiting for memory): its frame timeout counts from here.
  std::chrono::steady_clock::time_point frame_clock_;
  // Whether the daemon stopped reading this connection (output full, waiting for memory) at
  // the last event, and since when: time paused does not count against the frame timeout.
  bool reading_paused_ = false;
  std::chrono::steady_clock::time_point paused_since_;
  // Moves the frame clock past time the daemon itself did not read (called after each event).
  void note_reading_paused(std::chrono::steady_clock::time_point now);
};

}  // namespace kvtier::server
