// Connection (see connection.h): socket I/O and framing. What each operation does is in
// request_handler.cpp.
#include "server/connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "protocol/dispatch.h"
#include "server/fd_limit.h"
#include "server/request_handler.h"

namespace kvtier::server {

namespace {
// Socket reads land here first (headers, meta, small values); larger value bytes go straight into
// the value's buffer once the buffered part is used up.
constexpr std::size_t kInputBufferBytes = 256 * 1024;
// Per readiness event, at most this much is read from one connection before the loop moves on,
// so one client streaming a huge value does not starve the others on its thread.
constexpr std::size_t kReadBudgetBytes = 8 * 1024 * 1024;
// Most iovecs of one recvmsg straight into a request's values (PUT_MANY items).
constexpr std::size_t kMaxDirectIov = 64;
// After a frame with at least kLargeDataBytes of data, the next frame is likely large too (a
// client streaming 1 MiB PUTs): its header is read with at most kBoundaryReadBytes, so its value
// arrives straight in the reservation instead of up to kInputBufferBytes of it landing in the
// input buffer and being copied. One extra recvmsg per large frame; small frames (pipelined GETs)
// go back to full-buffer reads after one.
constexpr std::uint64_t kLargeDataBytes = 64 * 1024;
constexpr std::size_t kBoundaryReadBytes = 4096;
// While a large value arrives over TCP, epoll reports the socket readable only once this many of
// its bytes (or the rest, if less) are queued, instead of at every segment. The kernel caps the
// mark at half the receive buffer, and EOF or an error still wake, so it cannot stall a read.
constexpr std::uint64_t kDataRcvLowat = 256 * 1024;
// The most bytes the frames one event runs may move before the connection yields to the other
// connections of its I/O thread: 30 pipelined shared-memory batches of 1 GiB each ran back to
// back while another connection's PING waited 9 s. The first frame always runs, so one large
// request still moves at full speed; the next waits for the thread's next turn (no sleep).
constexpr std::uint64_t kWorkPerEvent = 64ull * 1024 * 1024;
}  // namespace

Connection::Connection(UniqueFd fd, Transport transport, std::string peer, ServerContext& context,
                       std::unique_ptr<net::TlsStream> tls, std::uint64_t client_ca_generation)
    : fd_(std::move(fd)),
      context_(context),
      tls_(std::move(tls)),
      reader_(std::move(protocol::FrameReader::create(protocol::FrameKind::kRequest,
                                                      context.config.max_frame_data_bytes))
                  .value()),
      input_(kInputBufferBytes),
      output_(context.buffers),
      accepted_at_(std::chrono::steady_clock::now()),
      last_traffic_(accepted_at_) {
  reader_.allow_flags(protocol::known_flags(1));  // until HELLO chooses a version
  session_.transport = transport;
  session_.peer = std::move(peer);
  session_.client_ca_generation = client_ca_generation;
  context_.metrics.connections_open.fetch_add(1, std::memory_order_relaxed);
  context_.metrics.connections_pending_hello.fetch_add(1, std::memory_order_relaxed);
}

Connection::~Connection() {
  // Pins end with the connection that took them (another connection's pin of the same block ends
  // too: a pin is the block's, not the connection's).
  for (const Key& k : session_.pinned) (void)context_.store.unpin(session_.tenant->ns, k);
  context_.metrics.connections_open.fetch_sub(1, std::memory_order_relaxed);
  (session_.tenant == nullptr ? context_.metrics.connections_pending_hello
                              : context_.metrics.connections_authenticated)
      .fetch_sub(1, std::memory_order_relaxed);
  if (session_.counters != nullptr) {
    session_.counters->connections.fetch_sub(1, std::memory_order_relaxed);
  }
  context_.metrics.queued_response_bytes.fetch_sub(static_cast<std::int64_t>(reported_queued_),
                                                   std::memory_order_relaxed);
  context_.metrics.shm_regions.fetch_sub(static_cast<std::int64_t>(session_.regions.size()),
                                         std::memory_order_relaxed);
  context_.metrics.received_fds_held.fetch_sub(
      static_cast<std::int64_t>(session_.received_fds.size()), std::memory_order_relaxed);
  context_.metrics.shm_region_bytes.fetch_sub(static_cast<std::int64_t>(session_.region_bytes),
                                              std::memory_order_relaxed);
}

bool Connection::output_full() const {
  return output_.held_bytes() >= context_.config.max_queued_response_bytes;
}

std::uint32_t Connection::interest() const {
  if (tls_ && !tls_->handshake_done()) return tls_wants_ != 0 ? tls_wants_ : EPOLLIN;
  std::uint32_t events = tls_wants_;
  if (!close_after_flush_ && !peer_closed_ && !output_full() && !memory_wait_) events |= EPOLLIN;
  if (!output_.empty()) events |= EPOLLOUT;
  return events;
}

ConnectionTimeout Connection::overdue(std::chrono::steady_clock::time_point now) const {
  const ServerConfig& config = context_.config;
  if (session_.tenant == nullptr) {
    return now - accepted_at_ > config.hello_timeout ? ConnectionTimeout::kHello
                                                     : ConnectionTimeout::kNone;
  }
  if (frame_begun() && !reading_paused_) {
    const auto data_time = std::chrono::milliseconds(pending_.header.data_len * 1000 /
                                                     kMinDataBytesPerSecond);
    if (now - frame_clock_ > config.frame_timeout + data_time) return ConnectionTimeout::kFrame;
  }
  if (config.idle_timeout.count() > 0 && now - last_traffic_ > config.idle_timeout) {
    return ConnectionTimeout::kIdle;
  }
  return ConnectionTimeout::kNone;
}

void Connection::note_reading_paused(std::chrono::steady_clock::time_point now) {
  const bool paused = output_full() || memory_wait_;
  if (paused && !reading_paused_) paused_since_ = now;
  if (!paused && reading_paused_) frame_clock_ += now - paused_since_;
  reading_paused_ = paused;
}

bool Connection::quiescent() const {
  return output_.empty() && input_begin_ == input_end_ && !frame_begun();
}

bool Connection::on_events(std::uint32_t events) {
  // EPOLLHUP: the peer shut both directions (closed), so no answer can reach it; running the
  // requests still buffered would only spend time and memory on a client that left.
  if (events & (EPOLLERR | EPOLLHUP)) return false;
  work_this_event_ = 0;
  deferred_ = false;
  if (tls_ && !tls_->handshake_done()) {
    if (!advance_handshake()) return false;
    if (!tls_->handshake_done()) return true;
    events |= EPOLLIN;  // application data may have come with the handshake's last flight
  }
  if (tls_ && tls_wants_ != 0) {  // the TLS layer waited for the other direction: retry both
    events |= EPOLLIN;
    tls_wants_ = 0;
  }
  // Bytes OpenSSL already decrypted are not announced by the socket: whatever woke the
  // connection (EPOLLOUT, the sweep's retry), read them if reading is allowed now.
  if (tls_ && tls_->pending() > 0) events |= EPOLLIN;
  if (events & EPOLLIN) {
    std::size_t budget = kReadBudgetBytes;
    // Decrypted bytes TLS holds are not announced by the socket: read them whatever the budget.
    while ((budget > 0 || (tls_ && tls_->pending() > 0)) && !close_after_flush_ &&
           !output_full() && !memory_wait_) {
      std::int64_t got = read_socket();
      if (got < 0) {
        peer_closed_ = true;
        break;
      }
      process_input();
      if (got == 0) break;
      budget -= std::min<std::size_t>(budget, static_cast<std::size_t>(got));
    }
  }
  // Send, then run the requests that were waiting for room in the output, until the output is
  // full again or nothing buffered can run. Requests already received must not wait for more
  // input: the client may have sent its last one.
  for (;;) {
    Result<std::uint64_t> sent = send_output();
    if (!sent.ok()) return false;
    context_.metrics.count(context_.metrics.bytes_sent, *sent);
    if (*sent > 0) last_traffic_ = std::chrono::steady_clock::now();
    if (close_after_flush_ || output_full() || !process_input()) break;
  }
  output_memory_.shrink_to(output_.held_bytes());  // what was sent gives its memory back
  std::int64_t delta = static_cast<std::int64_t>(output_.queued_bytes()) -
                       static_cast<std::int64_t>(reported_queued_);
  context_.metrics.queued_response_bytes.fetch_add(delta, std::memory_order_relaxed);
  reported_queued_ = output_.queued_bytes();
  note_reading_paused(std::chrono::steady_clock::now());
  // After an error, stay only to deliver what is queued. After the peer's EOF, stay also for the
  // requests still to run (deferred past this event's work budget, or waiting for memory): a
  // half-closed peer still reads their answers; a gone one makes the next send fail.
  if (close_after_flush_) return !output_.empty();
  if (peer_closed_) return !output_.empty() || deferred_ || memory_wait_;
  // Sending may have made room while decrypted bytes wait inside OpenSSL (the reads above stopped
  // at a full output): read them now, as no socket event will come for them.
  if (tls_ && tls_->pending() > 0 && !output_full() && !memory_wait_) return on_events(EPOLLIN);
  update_rcvlowat();
  return true;
}

bool Connection::advance_handshake() {
  switch (tls_->handshake()) {
    case net::TlsStream::Io::kDone:
      tls_wants_ = 0;
      session_.tls_client_name = tls_->peer_common_name();
      return true;
    case net::TlsStream::Io::kWantRead:
      tls_wants_ = EPOLLIN;
      return true;
    case net::TlsStream::Io::kWantWrite:
      tls_wants_ = EPOLLOUT;
      return true;
    case net::TlsStream::Io::kClosed:
    case net::TlsStream::Io::kError:
      break;
  }
  context_.metrics.count(context_.metrics.tls_handshake_failures);
  spdlog::debug("event=tls_handshake_failed peer={} error=\"{}\"", session_.peer, tls_->error());
  return false;
}

Result<std::uint64_t> Connection::send_output() {
  if (!tls_) return output_.send_to(fd_.get());
  // A write TLS could not finish is retried from the same place in the queue: the same bytes.
  return output_.send_with([this](const iovec* iov, std::size_t) -> Result<std::int64_t> {
    net::TlsStream::Io io;
    std::size_t n = tls_->write(iov[0].iov_base, iov[0].iov_len, &io);
    if (io == net::TlsStream::Io::kDone) return static_cast<std::int64_t>(n);
    if (io == net::TlsStream::Io::kWantWrite || io == net::TlsStream::Io::kWantRead) {
      if (io == net::TlsStream::Io::kWantRead) tls_wants_ = EPOLLIN;
      return OutputQueue::kWouldBlock;
    }
    return Status::IOError("TLS write: " + tls_->error());
  });
}

std::int64_t Connection::read_tls(const iovec& into) {
  net::TlsStream::Io io;
  std::size_t n = tls_->read(into.iov_base, into.iov_len, &io);
  switch (io) {
    case net::TlsStream::Io::kDone:
      return static_cast<std::int64_t>(n);
    case net::TlsStream::Io::kWantRead:
      return 0;
    case net::TlsStream::Io::kWantWrite:
      tls_wants_ = EPOLLOUT;
      return 0;
    case net::TlsStream::Io::kClosed:
    case net::TlsStream::Io::kError:
      break;
  }
  return -1;
}

void Connection::update_rcvlowat() {
  if (session_.transport != Transport::kTcp) return;  // Unix sockets ignore it in poll
  if (tls_) return;  // records, not bytes, are what arrive: the mark would not match
  std::uint64_t remaining = reader_.data_remaining();
  int want = 1;
  if (remaining >= kLargeDataBytes && input_begin_ == input_end_ && !pending_.discard_data) {
    want = static_cast<int>(std::min(remaining, kDataRcvLowat));
  }
  if (want == rcvlowat_) return;
  // Best effort: a failed setsockopt only costs wake-ups.
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want) == 0) rcvlowat_ = want;
}

std::int64_t Connection::read_socket() {
  if (input_begin_ == input_end_) input_begin_ = input_end_ = 0;
  // In the data phase with nothing buffered, value bytes go straight to where they are kept.
  std::array<iovec, kMaxDirectIov> iov;
  std::size_t iov_count = 0;
  if (input_begin_ == input_end_ && reader_.data_remaining() > 0 && !pending_.discard_data) {
    iov_count = pending_.sink.next_iovecs(iov, reader_.data_remaining());
  }
  const bool direct = iov_count > 0;
  if (!direct) {
    if (input_end_ == input_.size()) {
      // The buffer holds a partial frame at its end: move it to the front.
      std::memmove(input_.data(), input_.data() + input_begin_, input_end_ - input_begin_);
      input_end_ -= input_begin_;
      input_begin_ = 0;
    }
    std::size_t room = input_.size() - input_end_;
    if (after_large_data_) room = std::min(room, kBoundaryReadBytes);
    iov[0] = iovec{input_.data() + input_end_, room};
    iov_count = 1;
  }
  if (tls_) {
    std::int64_t got = read_tls(iov[0]);
    if (got > 0) took_bytes(static_cast<std::uint64_t>(got), direct);
    return got;
  }
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov_count;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxReceivedFdsPerConnection)];
  if (session_.transport == Transport::kUnix) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
  ssize_t n;
  do {
    n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  if (session_.transport == Transport::kUnix) queue_fds(msg);
  if (n == 0) return -1;
  took_bytes(static_cast<std::uint64_t>(n), direct);
  return n;
}

void Connection::took_bytes(std::uint64_t n, bool direct) {
  context_.metrics.count(context_.metrics.bytes_received, n);
  if (n > 0) last_traffic_ = std::chrono::steady_clock::now();
  if (direct) {
    pending_.sink.advance(n);
    reader_.consume_data(n);
  } else {
    input_end_ += static_cast<std::size_t>(n);
  }
}

void Connection::queue_fds(const msghdr& msg) {
  for (const cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      UniqueFd owned(fd);
      // Before HELLO the peer is nobody and may hold nothing; past either bound the memfd
      // closes here too (Session::memfds_lost).
      const bool room = session_.tenant != nullptr &&
                        session_.received_fds.size() < kMaxReceivedFdsPerConnection;
      if (room && context_.metrics.received_fds_held.fetch_add(1, std::memory_order_relaxed) <
                      kMaxHeldReceivedFds) {
        session_.received_fds.push_back(std::move(owned));
        continue;
      }
      if (room) context_.metrics.received_fds_held.fetch_sub(1, std::memory_order_relaxed);
      session_.memfds_lost = true;
    }
  }
}

bool Connection::process_input() {
  bool progressed = false;
  while (!close_after_flush_ && !output_full()) {
    if (work_this_event_ >= kWorkPerEvent) {
      deferred_ = input_begin_ != input_end_ || memory_wait_;
      return progressed;
    }
    if (memory_wait_) {
      if (!admit_memory(std::chrono::steady_clock::now())) return progressed;
      memory_wait_ = false;
      progressed = true;
      if (pending_.refused.ok()) prepare_request(pending_, session_, context_);
      continue;
    }
    std::span<const std::byte> in(input_.data() + input_begin_, input_end_ - input_begin_);
    protocol::ReadState state = reader_.feed(in);
    std::size_t consumed = static_cast<std::size_t>(in.data() - input_.data()) - input_begin_;
    input_begin_ += consumed;
    // Progress: bytes consumed or a frame advanced. kDataPending with no buffered bytes is not:
    // the rest of the data has to come from the socket.
    bool waiting = state == protocol::ReadState::kNeedMore ||
                   (state == protocol::ReadState::kDataPending && in.empty());
    progressed = progressed || consumed > 0 || !waiting;
    switch (state) {
      case protocol::ReadState::kNeedMore:
        return progressed;
      case protocol::ReadState::kHeaderReady:
        pending_.header = reader_.header();
        pending_.started = std::chrono::steady_clock::now();
        frame_clock_ = pending_.started;
        // A pause begun before this frame is not this frame's to be credited with.
        if (reading_paused_) paused_since_ = pending_.started;
        if (session_.tenant == nullptr && !refuse_before_hello().ok()) return true;
        if (session_.tenant != nullptr && !tenant_still_valid()) return true;
        break;
      case protocol::ReadState::kMetaReady:
        // Checked first: a request refused for its size or quota takes no memory for its data.
        if (pending_.refused.ok()) on_meta_ready();
        memory_wait_ = true;  // admitted at the top of the loop
        memory_wait_since_ = std::chrono::steady_clock::now();
        break;
      case protocol::ReadState::kDataPending: {
        if (in.empty()) return progressed;  // read_socket() moves the rest
        std::span<const std::byte> chunk = reader_.take_data(in);
        input_begin_ = static_cast<std::size_t>(in.data() - input_.data());
        on_data(chunk);
        break;
      }
      case protocol::ReadState::kFrameDone:
        on_frame_done();
        break;
      case protocol::ReadState::kError: {
        const protocol::FrameError& e = reader_.error();
        context_.metrics.count(e.status.code() == StatusCode::kTooLarge
                                   ? FrameRejection::kTooLarge
                                   : FrameRejection::kMalformed);
        output_.add_error(e.opcode, e.request_id, e.status);
        if (e.close_connection) close_after_flush_ = true;
        return true;
      }
    }
  }
  return progressed;
}

void Connection::on_meta_ready() {
  const protocol::FrameHeader& h = pending_.header;
  Status decoded = protocol::visit_meta(h, reader_.meta(), context_.config.max_batch,
                                        [this](auto& message) {
                                          using T = std::decay_t<decltype(message)>;
                                          if constexpr (std::is_constructible_v<Request, T>) {
                                            pending_.request = std::move(message);
                                          }
                                        });
  if (!decoded.ok()) {
    // A layout error means the stream cannot be trusted; a limit leaves it well delimited.
    pending_.refused = decoded;
    pending_.close_after = decoded.code() != StatusCode::kTooLarge;
    pending_.discard_data = true;
    context_.metrics.count(pending_.close_after ? FrameRejection::kMalformed
                                                : FrameRejection::kTooLarge);
    return;
  }
  check_request(pending_, session_, context_);
}

bool Connection::admit_memory(std::chrono::steady_clock::time_point now) {
  const protocol::FrameHeader& h = pending_.header;
  MemoryBudget& budget = context_.memory;
  // Frames with data hold it until they are stored; GET and GET_MANY take their response's
  // memory when they run (request_handler.cpp), and wait here only while no room is left at all.
  const bool makes_data = h.opcode == protocol::Opcode::kGet ||
                          h.opcode == protocol::Opcode::kGetMany;
  // The response's frames: its meta is at most the request's plus a little, but STATS answers
  // with up to a whole meta of text.
  const std::uint64_t frames = h.opcode == protocol::Opcode::kStats
                                   ? protocol::kMaxMetaBytes + protocol::kFrameHeaderBytes
                                   : std::uint64_t{h.meta_len} + 256;
  const bool small_frames = frames + output_memory_.bytes() <= kSmallHoldBytes;
  const std::uint64_t share = budget.tenant_share(context_.max_value_bytes);
  auto take_frames = [&] {
    if (session_.counters == nullptr) {
      // Before HELLO (at most kMaxHelloMetaBytes of meta, on at most max_pending_hello
      // connections): never waits, so a full budget cannot keep anyone from connecting.
      pending_.response_memory.force_add(budget, frames);
      return true;
    }
    if (pending_.response_memory.try_add_shared(budget, frames, small_frames,
                                                &session_.counters->held_bytes, share)) {
      return true;
    }
    pending_.data_memory.release();  // all or nothing: wait holding nothing
    return false;
  };
  // The data lands in one buffer of data_len bytes: held as what that buffer takes. Data a
  // refused request's reader drops needs none.
  const std::uint64_t data_footprint =
      h.data_len > 0 && !pending_.discard_data ? aligned_buffer_footprint(h.data_len) : 0;
  if (data_footprint > share) {
    pending_.refused = Status::TooLarge(
        "a frame of " + std::to_string(h.data_len) + " data bytes exceeds what one tenant's " +
        "values may hold of the daemon's in-flight memory, " + std::to_string(share) +
        " (half of server.max_inflight_bytes, or max_value_bytes, with buffer rounding)");
  } else if ((data_footprint > 0
                  ? session_.counters != nullptr &&
                        pending_.data_memory.try_add_shared(
                            budget, data_footprint,
                            data_footprint + output_memory_.bytes() <= kSmallHoldBytes,
                            &session_.counters->held_bytes, share)
                  : !makes_data || budget.has_room()) &&
             take_frames()) {
    return true;
  } else if (now - memory_wait_since_ < kMemoryWait) {
    if (!pending_.waited_for_memory) context_.metrics.count(context_.metrics.memory_waits);
    pending_.waited_for_memory = true;
    return false;
  } else {
    pending_.refused = Status::Busy(
        "the daemon's in-flight memory (server.max_inflight_bytes = " +
        std::to_string(budget.limit()) + ") stayed full for " +
        std::to_string(kMemoryWait.count()) + " ms; retry later");
  }
  context_.metrics.count(context_.metrics.memory_refusals);
  pending_.discard_data = true;
  return true;
}

bool Connection::tenant_still_valid() {
  // A client certificate is only as good as the CAs that verified it: when a reload changed
  // them, the session ends and the client is verified anew when it reconnects.
  const bool certificate_still_trusted = session_.certificate_still_trusted(context_);
  const std::uint64_t generation = context_.tenants.generation();
  if (generation == session_.registry_generation && certificate_still_trusted) return true;
  std::shared_ptr<const TenantRegistry> registry = context_.tenants.current();
  const Tenant* t =
      registry->authenticate(session_.token, session_.transport, session_.tls_client_name);
  if (t != nullptr && t->name == session_.tenant->name && t->ns == session_.tenant->ns &&
      certificate_still_trusted) {
    // At a frame boundary nothing holds the old Tenant (a QuotaHold lives in a pending request).
    session_.tenant = t;
    session_.registry = std::move(registry);
    session_.registry_generation = generation;
    return true;
  }
  spdlog::warn("event=session_revoked peer={} tenant={} msg=\"{}\"", session_.peer,
               session_.tenant->name,
               certificate_still_trusted
                   ? "its token no longer names the tenant after a reload"
                   : "a reload changed the client CAs that verified its certificate");
  const protocol::FrameHeader& h = pending_.header;
  context_.metrics.count(FrameRejection::kAuth);
  output_.add_error(h.opcode, h.request_id,
                    Status::InvalidArgument(
                        certificate_still_trusted
                            ? "the connection's tenant token was revoked or changed by a "
                              "configuration reload"
                            : "a configuration reload changed the client CAs that verified this "
                              "connection's certificate: reconnect"));
  close_after_flush_ = true;
  return false;
}

// Before HELLO the peer is nobody (no tenant, maybe no token): the daemon reads its header and
// nothing more unless it is a HELLO of plausible size without data. Anything else is answered
// and the connection closed before its meta or data is read, whatever limits they would pass.
Status Connection::refuse_before_hello() {
  const protocol::FrameHeader& h = pending_.header;
  Status refused;
  if (h.opcode != protocol::Opcode::kHello) {
    refused = Status::InvalidArgument("the first request on a connection must be HELLO");
  } else if (h.data_len != 0 || h.meta_len > protocol::kMaxHelloMetaBytes) {
    refused = Status::InvalidArgument(
        "HELLO carries no data and at most " + std::to_string(protocol::kMaxHelloMetaBytes) +
        " bytes of meta");
  } else {
    return Status::Ok();
  }
  context_.metrics.count(FrameRejection::kBeforeHello);
  output_.add_error(h.opcode, h.request_id, refused);
  close_after_flush_ = true;
  return refused;
}

void Connection::on_data(std::span<const std::byte> bytes) {
  if (pending_.discard_data || pending_.sink.empty()) return;
  pending_.sink.copy_in(bytes);
}

void Connection::on_frame_done() {
  pending_.connection_holds = output_memory_.bytes();
  const std::uint64_t kept_before = output_.held_bytes();
  StatusCode status = execute_request(pending_, session_, context_, output_);
  // HELLO chose the version whose flags the frames after it may carry.
  if (session_.protocol_version != 0) {
    reader_.allow_flags(protocol::known_flags(session_.protocol_version));
  }
  // The response is built: its hold becomes what it really keeps (frames, data buffers, blocks).
  const std::uint64_t kept = output_.held_bytes() - kept_before;
  MemoryHold& held = pending_.response_memory;
  if (kept > held.bytes()) {
    held.force_add(context_.memory, kept - held.bytes());
  } else {
    held.shrink_to(kept);
  }
  output_memory_.absorb(std::move(held));
  context_.metrics.count_request(pending_.header.opcode, status,
                                 std::chrono::steady_clock::now() - pending_.started);
  if (pending_.close_after) close_after_flush_ = true;
  after_large_data_ = pending_.header.data_len >= kLargeDataBytes;
  work_this_event_ += pending_.header.data_len + pending_.work_bytes;
  context_.buffers.give(std::move(pending_.data));
  pending_ = PendingRequest{};
}


}  // namespace kvtier::server
