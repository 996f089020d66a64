// Connection: sending a batch of requests while reading their responses (see connection.h).
#include "client/connection.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "integrity/check.h"

namespace kvtier::client {
namespace {

using protocol::FrameHeader;
using protocol::FrameKind;
using protocol::FrameReader;
using protocol::Opcode;
using protocol::ReadState;

// Most iovec entries one sendmsg/readv takes (Linux's UIO_MAXIOV).
constexpr std::size_t kMaxIov = IOV_MAX;

// While a value's bytes are arriving over TCP, poll() wakes only once this many of them (or the
// rest of the value, if less) are queued: a 1 MiB value then costs a few wake-ups and readv calls
// instead of one per segment the kernel delivers. The kernel caps the mark at half the receive
// buffer and a closed or failed connection still wakes poll, so it cannot stall a read.
constexpr std::size_t kDataRcvLowat = 256 * 1024;

bool is_disconnect(int err) { return err == EPIPE || err == ECONNRESET || err == ENOTCONN; }

}  // namespace

Status protocol_violation(const std::string& what) {
  return Status::IOError("kvtierd sent a response that breaks the protocol: " + what);
}

Status decode_error_response(const FrameHeader& header, std::span<const std::byte> meta,
                             Status* error) {
  std::optional<StatusCode> code = protocol::status_code_from_wire(header.status);
  if (!code || *code == StatusCode::kOk) {
    return protocol_violation("an error response without an error status");
  }
  Result<std::string> text = protocol::decode_error_message(meta);
  if (!text.ok()) return protocol_violation(text.status().message());
  std::string message = std::move(text).value();
  if (message.empty()) message = "kvtierd answered " + std::string(status_code_name(*code));
  *error = Status(*code, std::move(message));
  return Status::Ok();
}

// ---- RequestBatch ----

void RequestBatch::add_request(std::uint64_t id, Opcode op, ResponseSink* sink,
                               std::size_t frame_start,
                               std::span<const std::span<const std::byte>> data, int fd) {
  Request r;
  r.id = id;
  r.opcode = op;
  r.sink = sink;
  r.first_segment = segments_.size();
  r.fd = fd;
  requests_.push_back(r);
  segments_.push_back(Segment{nullptr, frame_start, frames_.size() - frame_start});
  for (const auto& d : data) {
    if (!d.empty()) segments_.push_back(Segment{d.data(), 0, d.size()});
  }
}

void RequestBatch::clear() {
  frames_.clear();
  segments_.clear();
  requests_.clear();
}

// ---- Connection ----

Connection::Connection(ClientSocket socket, ClientAddress address,
                       std::chrono::milliseconds timeout)
    : socket_(std::move(socket)), address_(std::move(address)), timeout_(timeout) {}

void Connection::close(const Status& why) {
  socket_.close();
  if (!closed_.ok()) return;  // keep the first reason
  closed_ = Status::Closed("the connection to kvtierd at " + address_.to_string() + " is closed" +
                           (why.ok() ? std::string() : ": " + why.to_string()));
}

// One run of a batch: the writer and reader state of Connection::run.
class Connection::Exchange {
 public:
  Exchange(Connection& conn, RequestBatch& batch, FrameReader reader)
      : conn_(conn), batch_(batch), reader_(std::move(reader)) {
    for (const auto& r : batch_.requests_) {
      if (r.fd >= 0) fd_requests_.push_back(&r - batch_.requests_.data());
    }
    deadline_ = Clock::now() + conn_.timeout_;
  }

  Status run() {
    const int fd = conn_.socket_.fd();
    skip_empty_segments();
    while (next_response_ < batch_.requests_.size()) {
      bool progressed = false;
      if (writing()) KVTIER_RETURN_IF_ERROR(fail_if(write_some(fd, &progressed)));
      KVTIER_RETURN_IF_ERROR(fail_if(read_some(fd, &progressed)));
      if (next_response_ == batch_.requests_.size()) break;
      if (Clock::now() >= deadline_) return fail(timed_out());
      if (progressed) continue;
      set_rcvlowat(fd);
      pollfd p{fd, static_cast<short>(POLLIN | (writing() || tls_wants_write_ ? POLLOUT : 0)), 0};
      tls_wants_write_ = false;
      int n = ::poll(&p, 1, poll_timeout_ms(deadline_));
      if (n < 0 && errno != EINTR) return fail(Status::FromErrno("poll", errno));
      if (n == 0) return fail(timed_out());
    }
    if (!write_done()) {
      // Every request was answered, yet some of its bytes were never sent (the daemon answered
      // early and stopped reading): the stream is no longer framed.
      conn_.close(write_error_.ok()
                      ? Status::IOError("kvtierd answered before reading a whole request")
                      : write_error_);
    }
    return Status::Ok();
  }

 private:
  using Segment = RequestBatch::Segment;

  bool write_done() const { return segment_ == batch_.segments_.size(); }

  // Raises SO_RCVLOWAT while a value's bytes are awaited and lowers it back to 1 otherwise, so a
  // header or a short reply wakes the reader at once. Best effort: a failed setsockopt only costs
  // wake-ups. Unix sockets ignore the mark in poll(), so it is left alone there.
  void set_rcvlowat(int fd) {
    // TLS: records, partly buffered inside OpenSSL, are what arrive; a mark counted in value
    // bytes could wait for bytes that never come.
    if (conn_.is_unix() || conn_.socket_.tls() != nullptr) return;
    std::size_t want = 1;
    if (phase_ == Phase::kData) want = std::clamp<std::size_t>(reader_.data_remaining(), 1, kDataRcvLowat);
    int mark = static_cast<int>(want);
    if (mark == conn_.rcvlowat_) return;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &mark, sizeof mark) == 0) conn_.rcvlowat_ = mark;
  }
  bool writing() const { return !write_done() && write_error_.ok(); }

  const std::byte* segment_bytes(const Segment& s) const {
    return s.data != nullptr ? s.data : batch_.frames_.data() + s.offset;
  }

  void skip_empty_segments() {
    while (segment_ < batch_.segments_.size() && offset_ == batch_.segments_[segment_].size) {
      ++segment_;
      offset_ = 0;
    }
  }

  void advance_write(std::size_t n) {
    while (n > 0) {
      std::size_t left = batch_.segments_[segment_].size - offset_;
      std::size_t step = std::min(n, left);
      offset_ += step;
      n -= step;
      if (offset_ == batch_.segments_[segment_].size) {
        ++segment_;
        offset_ = 0;
      }
    }
    skip_empty_segments();
  }

  // Writes until the socket would block or everything is sent. A request carrying an fd is sent
  // by a sendmsg of its own that starts at its first byte, so the fd arrives with that frame.
  Status write_some(int fd, bool* progressed) {
    while (!write_done()) {
      while (next_fd_ < fd_requests_.size() && fd_segment(next_fd_) < segment_) ++next_fd_;
      if (next_fd_ < fd_requests_.size() && fd_segment(next_fd_) == segment_ && offset_ > 0) {
        ++next_fd_;  // its fd went with the bytes already sent
      }
      const bool with_fd =
          next_fd_ < fd_requests_.size() && fd_segment(next_fd_) == segment_ && offset_ == 0;
      std::size_t end = batch_.segments_.size();
      if (with_fd) {
        end = segment_ + 1;
      } else if (next_fd_ < fd_requests_.size()) {
        end = fd_segment(next_fd_);
      }
      end = std::min(end, segment_ + kMaxIov);

      iov_.clear();
      for (std::size_t i = segment_; i < end; ++i) {
        const Segment& s = batch_.segments_[i];
        std::size_t skip = i == segment_ ? offset_ : 0;
        iov_.push_back(iovec{const_cast<std::byte*>(segment_bytes(s)) + skip, s.size - skip});
      }
      if (net::TlsStream* tls = conn_.socket_.tls()) {  // TCP: no fds ride along
        Result<std::size_t> n = tls_write(*tls, iov_.front());
        if (!n.ok()) return n.status();
        if (*n == 0) return Status::Ok();  // waits for the socket
        *progressed = true;
        advance_write(*n);
        continue;
      }
      msghdr msg{};
      msg.msg_iov = iov_.data();
      msg.msg_iovlen = iov_.size();
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
      if (with_fd) {
        std::memset(control, 0, sizeof control);
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        int passed = batch_.requests_[fd_requests_[next_fd_]].fd;
        std::memcpy(CMSG_DATA(c), &passed, sizeof passed);
      }
      ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) return Status::Ok();
        if (is_disconnect(err)) {
          // Keep reading: the daemon may have answered (an error) before closing.
          write_error_ = Status::Closed(std::string("kvtierd closed the connection while a request "
                                                    "was being sent (") +
                                        std::strerror(err) + ")");
          return Status::Ok();
        }
        return Status::FromErrno("send to kvtierd at " + conn_.address_.to_string(), err);
      }
      *progressed = true;
      advance_write(static_cast<std::size_t>(n));
    }
    return Status::Ok();
  }

  // One TLS write from `from`: the bytes sent, or 0 when it waits for the socket (the next call
  // starts at the same byte, as TlsStream's retry needs).
  Result<std::size_t> tls_write(net::TlsStream& tls, const iovec& from) {
    net::TlsStream::Io io;
    const std::size_t n = tls.write(from.iov_base, from.iov_len, &io);
    if (io == net::TlsStream::Io::kDone) return n;
    if (io == net::TlsStream::Io::kWantRead || io == net::TlsStream::Io::kWantWrite) {
      return std::size_t{0};
    }
    return Status::IOError("TLS write to kvtierd at " + conn_.address_.to_string() + ": " +
                           tls.error());
  }

  // One TLS read into `into`: the bytes (> 0), 0 when it waits for the socket, -1 at the end.
  Result<std::int64_t> tls_read(net::TlsStream& tls, void* into, std::size_t len) {
    net::TlsStream::Io io;
    const std::size_t n = tls.read(into, len, &io);
    switch (io) {
      case net::TlsStream::Io::kDone:
        return static_cast<std::int64_t>(n);
      case net::TlsStream::Io::kWantWrite:
        tls_wants_write_ = true;
        return std::int64_t{0};
      case net::TlsStream::Io::kWantRead:
        return std::int64_t{0};
      case net::TlsStream::Io::kClosed:
        return std::int64_t{-1};
      case net::TlsStream::Io::kError:
        break;
    }
    return Status::IOError("TLS read from kvtierd at " + conn_.address_.to_string() + ": " +
                           tls.error());
  }

  std::size_t fd_segment(std::size_t i) const {
    return batch_.requests_[fd_requests_[i]].first_segment;
  }

  // Reads until the socket would block or every response arrived.
  Status read_some(int fd, bool* progressed) {
    std::byte buf[8192];
    while (next_response_ < batch_.requests_.size()) {
      ssize_t n;
      if (net::TlsStream* tls = conn_.socket_.tls()) {
        void* into = buf;
        std::size_t len = 0;
        if (phase_ == Phase::kData) {
          into = static_cast<std::byte*>(data_[data_index_].iov_base) + data_offset_;
          len = data_[data_index_].iov_len - data_offset_;
        } else {
          len = std::min(phase_ == Phase::kHeader ? protocol::kFrameHeaderBytes - header_have_
                                                  : reader_.header().meta_len - meta_have_,
                         sizeof buf);
        }
        Result<std::int64_t> got = tls_read(*tls, into, len);
        if (!got.ok()) return got.status();
        if (*got == 0) return Status::Ok();
        if (*got < 0) return eof("end of stream");
        n = static_cast<ssize_t>(*got);
      } else if (phase_ == Phase::kData) {
        iov_.clear();
        for (std::size_t i = data_index_; i < data_.size() && iov_.size() < kMaxIov; ++i) {
          std::size_t skip = i == data_index_ ? data_offset_ : 0;
          iov_.push_back(
              iovec{static_cast<std::byte*>(data_[i].iov_base) + skip, data_[i].iov_len - skip});
        }
        n = ::readv(fd, iov_.data(), static_cast<int>(iov_.size()));
      } else {  // header or meta: no more than they need, so a value's bytes go straight to it
        std::size_t want = phase_ == Phase::kHeader ? protocol::kFrameHeaderBytes - header_have_
                                                    : reader_.header().meta_len - meta_have_;
        n = ::recv(fd, buf, std::min(want, sizeof buf), MSG_DONTWAIT);
      }
      if (n < 0) {
        int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) return Status::Ok();
        if (is_disconnect(err)) return eof(std::strerror(err));
        return Status::FromErrno("receive from kvtierd at " + conn_.address_.to_string(), err);
      }
      if (n == 0) return eof("end of stream");
      *progressed = true;
      auto got = static_cast<std::size_t>(n);
      if (phase_ == Phase::kData) {
        reader_.consume_data(got);
        advance_data(got);
        if (reader_.data_remaining() == 0) KVTIER_RETURN_IF_ERROR(drive({}));
      } else {
        (phase_ == Phase::kHeader ? header_have_ : meta_have_) += got;
        KVTIER_RETURN_IF_ERROR(drive(std::span<const std::byte>(buf, got)));
      }
    }
    return Status::Ok();
  }

  void advance_data(std::size_t n) {
    while (n > 0) {
      std::size_t step = std::min(n, data_[data_index_].iov_len - data_offset_);
      data_offset_ += step;
      n -= step;
      if (data_offset_ == data_[data_index_].iov_len) {
        ++data_index_;
        data_offset_ = 0;
      }
    }
  }

  // Feeds header or meta bytes to the reader and acts on what it reports.
  Status drive(std::span<const std::byte> in) {
    for (;;) {
      switch (reader_.feed(in)) {
        case ReadState::kNeedMore:
          return Status::Ok();
        case ReadState::kHeaderReady:
          KVTIER_RETURN_IF_ERROR(check_header(reader_.header()));
          phase_ = Phase::kMeta;
          meta_have_ = 0;
          continue;
        case ReadState::kMetaReady:
          KVTIER_RETURN_IF_ERROR(on_meta());
          phase_ = Phase::kData;
          continue;
        case ReadState::kDataPending:
          return Status::Ok();
        case ReadState::kFrameDone:
          ++next_response_;
          phase_ = Phase::kHeader;
          header_have_ = 0;
          deadline_ = Clock::now() + conn_.timeout_;
          return Status::Ok();
        case ReadState::kError:
          return protocol_violation(reader_.error().status.message());
      }
    }
  }

  Status check_header(const FrameHeader& h) const {
    const RequestBatch::Request& r = batch_.requests_[next_response_];
    // The daemon answers a frame it could not read at all with opcode NONE and request_id 0.
    bool unreadable = h.opcode == Opcode::kNone && h.status != 0;
    if (h.request_id != r.id && !(unreadable && h.request_id == 0)) {
      return protocol_violation("response to request " + std::to_string(h.request_id) +
                                " where request " + std::to_string(r.id) + " was next");
    }
    if (h.opcode != r.opcode && !unreadable) {
      return protocol_violation(std::string(protocol::opcode_name(h.opcode)) + " response to a " +
                                std::string(protocol::opcode_name(r.opcode)) + " request");
    }
    return Status::Ok();
  }

  Status on_meta() {
    const RequestBatch::Request& r = batch_.requests_[next_response_];
    data_.clear();
    data_index_ = 0;
    data_offset_ = 0;
    KVTIER_RETURN_IF_ERROR(r.sink->on_response(reader_.header(), reader_.meta(), &data_));
    std::uint64_t sum = 0;
    for (const iovec& v : data_) sum += v.iov_len;
    if (sum != reader_.header().data_len) {
      return protocol_violation(std::string(protocol::opcode_name(r.opcode)) + " response has " +
                                std::to_string(reader_.header().data_len) +
                                " data bytes where its meta accounts for " + std::to_string(sum));
    }
    while (data_index_ < data_.size() && data_[data_index_].iov_len == 0) ++data_index_;
    return Status::Ok();
  }

  Status eof(const std::string& how) const {
    if (!write_error_.ok()) return write_error_;
    return Status::Closed("kvtierd at " + conn_.address_.to_string() + " closed the connection (" +
                          how + ")");
  }

  Status timed_out() const {
    const RequestBatch::Request& r = batch_.requests_[next_response_];
    return Status::IOError("no response from kvtierd at " + conn_.address_.to_string() + " to a " +
                           std::string(protocol::opcode_name(r.opcode)) + " request within " +
                           std::to_string(conn_.timeout_.count()) + " ms");
  }

  Status fail_if(Status s) { return s.ok() ? s : fail(std::move(s)); }

  Status fail(Status why) {
    for (std::size_t i = next_response_; i < batch_.requests_.size(); ++i) {
      batch_.requests_[i].sink->on_failed(why);
    }
    next_response_ = batch_.requests_.size();
    conn_.close(why);
    return why;
  }

  enum class Phase { kHeader, kMeta, kData };

  Connection& conn_;
  RequestBatch& batch_;
  FrameReader reader_;
  Clock::time_point deadline_;
  bool tls_wants_write_ = false;   // a TLS read waits for the socket to be writable
  std::vector<iovec> iov_;  // scratch for one sendmsg or readv

  // Writer: the next byte to send is batch_.segments_[segment_] at offset_.
  std::size_t segment_ = 0;
  std::size_t offset_ = 0;
  std::vector<std::size_t> fd_requests_;  // requests carrying an fd, in order
  std::size_t next_fd_ = 0;
  Status write_error_;  // set when the daemon stopped reading; reading goes on

  // Reader: responses are read in request order.
  std::size_t next_response_ = 0;
  Phase phase_ = Phase::kHeader;
  std::size_t header_have_ = 0;
  std::size_t meta_have_ = 0;
  std::vector<iovec> data_;  // where the current response's data goes
  std::size_t data_index_ = 0;
  std::size_t data_offset_ = 0;
};

Status Connection::run(RequestBatch& batch) {
  if (batch.empty()) return Status::Ok();
  if (!socket_.is_open()) {
    Status why = closed_.ok() ? Status::Closed("the connection to kvtierd is closed") : closed_;
    for (auto& r : batch.requests_) r.sink->on_failed(why);
    return why;
  }
  // Responses carry at most kDefaultMaxDataBytes (the most a value, or a GET_MANY's values
  // together, may be in version 1); a header announcing more is refused before any data.
  Result<FrameReader> reader = FrameReader::create(FrameKind::kResponse);
  KVTIER_CHECK(reader.ok());
  Exchange exchange(*this, batch, std::move(reader).value());
  return exchange.run();
}

}  // namespace kvtier::client
