// Connection: one kvtierd connection's request/response engine. It sends a batch of requests and
// reads their responses at the same time, polling for both directions, so that neither side
// stalls when both carry megabytes (a pipelined PUT stream whose responses the daemon cannot
// queue, a GET stream whose requests the client cannot finish sending). Single calls are batches
// of one.
//
// Zero-copy both ways: request value bytes go out with sendmsg straight from the caller's buffers
// (only header and meta are encoded into a frame buffer), and response value bytes are read with
// readv straight into the caller's destination. Header and meta are read with exact-length reads
// for that reason: a read never takes bytes of a value into a staging buffer.
//
// Failure rule (include/kvtier/client.h): a timeout, a socket error, the daemon closing the
// connection, or a response that breaks the protocol closes the connection for good; the failing
// batch's unanswered requests and every later batch fail.
//
// Thread-safety: none; one thread at a time.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "client/address.h"
#include "client/client_socket.h"
#include "kvtier/status.h"
#include "protocol/frame.h"
#include "protocol/meta.h"

namespace kvtier::client {

// Receives one request's response. Implementations decode the meta into their results.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // The response's header and whole meta arrived (header is validated and answers this
  // request). Decode them, record the result, and append to `data` where the header.data_len
  // data bytes go, in order (the lengths must add up to data_len; the engine checks). A non-OK
  // return means the response breaks the protocol: the connection is closed.
  // The recorded result is final once the data has arrived; if the connection fails first,
  // on_failed() follows.
  virtual Status on_response(const protocol::FrameHeader& header, std::span<const std::byte> meta,
                             std::vector<iovec>* data) = 0;
  // No (complete) response will come: the connection failed with `why` first.
  virtual void on_failed(const Status& why) = 0;
};

// Decodes an error response (response_meta_is_message) into *error: its code and message. Returns
// a protocol violation (IOError) instead when the message does not decode.
Status decode_error_response(const protocol::FrameHeader& header, std::span<const std::byte> meta,
                             Status* error);
// The IOError a response that breaks the protocol turns into ("kvtierd sent a response that
// breaks the protocol: <what>").
Status protocol_violation(const std::string& what);

// Requests to send in order, each with its sink. Frames (header + meta) are encoded into one
// buffer; value bytes stay in the caller's buffers and are only referenced.
class RequestBatch {
 public:
  // Appends a request. `data` are the value bytes that follow its meta (PUT, PUT_MANY), in order;
  // they must stay valid until Connection::run returns. `fd` (Unix sockets only) travels as
  // SCM_RIGHTS on the sendmsg that carries the frame's first byte (SHM_REGISTER). `flags`: the
  // header's (kFlagDurable on a put). Fails, adding nothing, when append_frame refuses the frame.
  template <typename T>
  Status add(std::uint64_t request_id, const T& message, ResponseSink* sink,
             std::span<const std::span<const std::byte>> data = {}, int fd = -1,
             std::uint16_t flags = 0) {
    std::uint64_t data_len = 0;
    for (const auto& d : data) data_len += d.size();
    const std::size_t frame_start = frames_.size();
    KVTIER_RETURN_IF_ERROR(protocol::append_frame(frames_, request_id, message, data_len,
                                                  StatusCode::kOk, flags));
    add_request(request_id, T::kOpcode, sink, frame_start, data, fd);
    return Status::Ok();
  }

  std::size_t size() const { return requests_.size(); }
  bool empty() const { return requests_.empty(); }
  void clear();

 private:
  friend class Connection;

  // A run of bytes to send: in frames_ (data == nullptr; `offset` into frames_) or the caller's.
  struct Segment {
    const std::byte* data = nullptr;
    std::size_t offset = 0;
    std::size_t size = 0;
  };
  struct Request {
    std::uint64_t id = 0;
    protocol::Opcode opcode = protocol::Opcode::kNone;
    ResponseSink* sink = nullptr;
    std::size_t first_segment = 0;  // its frame; its data segments follow
    int fd = -1;
  };

  void add_request(std::uint64_t id, protocol::Opcode op, ResponseSink* sink,
                   std::size_t frame_start, std::span<const std::span<const std::byte>> data,
                   int fd);

  std::vector<std::byte> frames_;
  std::vector<Segment> segments_;
  std::vector<Request> requests_;
};

class Connection {
 public:
  Connection(ClientSocket socket, ClientAddress address, std::chrono::milliseconds timeout);

  // Sends every request of `batch` and reads every response, each sink hearing its own. Each
  // response must arrive within the timeout of the run's start or of the previous response.
  // Returns OK when every response arrived (the responses themselves may be errors: those are
  // the sinks'), else the failure: IOError for a timeout, a socket error or a response that
  // breaks the protocol, Closed when the daemon closed the connection or it was closed before.
  // On failure, the sinks without a response hear on_failed() and the connection is closed.
  Status run(RequestBatch& batch);

  std::uint64_t next_request_id() { return next_request_id_++; }
  bool is_unix() const { return socket_.is_unix(); }
  bool is_open() const { return socket_.is_open(); }
  const ClientAddress& address() const { return address_; }
  std::chrono::milliseconds timeout() const { return timeout_; }
  // Closes the connection: later runs fail with Closed quoting `why`.
  void close(const Status& why);

 private:
  class Exchange;

  ClientSocket socket_;
  ClientAddress address_;
  std::chrono::milliseconds timeout_;
  std::uint64_t next_request_id_ = 1;
  Status closed_;  // why the connection was closed (OK while open)
  // The socket's SO_RCVLOWAT as last set (1 is the kernel's default); TCP only.
  int rcvlowat_ = 1;
};

}  // namespace kvtier::client
