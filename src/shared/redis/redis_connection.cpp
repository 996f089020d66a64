// One deadline-bounded hiredis connection (redis_connection.h).
#include "shared/redis/redis_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace kvtier::shared::redis {
namespace {

constexpr auto kRearmInterval = std::chrono::milliseconds(1);

timeval to_timeval(Clock::duration d) {
  auto us = std::chrono::ceil<std::chrono::microseconds>(d).count();
  // A zero socket timeout means "wait forever"; the smallest real wait is 1 us (the kernel
  // rounds it up to one tick).
  us = std::max<std::int64_t>(us, 1);
  return timeval{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
}

// Drops the first `n` sent bytes from the front of `iov[idx..]`; returns the new first index.
std::size_t advance(std::vector<iovec>& iov, std::size_t idx, std::size_t n) {
  while (idx < iov.size() && n >= iov[idx].iov_len) {
    n -= iov[idx].iov_len;
    ++idx;
  }
  if (n > 0) {
    iov[idx].iov_base = static_cast<char*>(iov[idx].iov_base) + n;
    iov[idx].iov_len -= n;
  }
  return idx;
}

}  // namespace

std::string NodeAddress::text() const {
  std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::open(
    const NodeAddress& node, std::chrono::milliseconds connect_timeout,
    const std::string& password, Deadline deadline, RedisCounters& counters) {
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) {
    return Status::IOError("redis " + node.text() + ": deadline passed before connecting");
  }
  timeval tv = to_timeval(std::min<Clock::duration>(connect_timeout, left));
  ContextPtr context(redisConnectWithTimeout(node.host.c_str(), node.port, tv));
  if (context == nullptr || context->err != 0) {
    RedisCounters::add(counters.connect_errors);
    std::string why = context == nullptr ? "out of memory" : context->errstr;
    return Status::IOError("redis " + node.text() + ": connect: " + why);
  }
  std::unique_ptr<RedisConnection> conn(new RedisConnection(node, std::move(context), counters));
  if (!password.empty()) {
    RespPipeline auth;
    auth.command({"AUTH", password});
    Result<ReplyPtr> reply = conn->call(auth, deadline);
    Status s = reply.ok() ? Status::Ok() : reply.status();
    if (s.ok() && reply.value()->type == REDIS_REPLY_ERROR) {
      s = Status::IOError("redis " + node.text() + ": AUTH refused: " + reply.value()->str);
    }
    if (!s.ok()) {
      RedisCounters::add(counters.connect_errors);
      return s;
    }
  }
  return conn;
}

bool RedisConnection::arm_timeout(Deadline deadline) {
  Clock::time_point now = Clock::now();
  if (now >= deadline) return false;
  if (armed_for_ == deadline && now - armed_at_ < kRearmInterval) return true;
  if (redisSetTimeout(context_.get(), to_timeval(deadline - now)) != REDIS_OK) return false;
  armed_at_ = now;
  armed_for_ = deadline;
  return true;
}

Status RedisConnection::fail(ConnectionFailure kind, const std::string& what) {
  if (failure_ == ConnectionFailure::kNone && kind == ConnectionFailure::kTimeout) {
    RedisCounters::add(counters_.timeouts);
  }
  if (failure_ == ConnectionFailure::kNone) failure_ = kind;
  return Status::IOError("redis " + node_.text() + ": " + what);
}

Status RedisConnection::send(const RespPipeline& pipeline, Deadline deadline) {
  if (broken()) return Status::IOError("redis " + node_.text() + ": connection is broken");
  std::vector<iovec> iov = pipeline.iovecs();
  std::size_t idx = advance(iov, 0, 0);
  bool sent_any = false;
  while (idx < iov.size()) {
    if (!arm_timeout(deadline)) {
      if (!sent_any) return Status::IOError("redis " + node_.text() + ": deadline passed");
      return fail(ConnectionFailure::kTimeout, "send timed out at the deadline");
    }
    msghdr msg{};
    msg.msg_iov = &iov[idx];
    msg.msg_iovlen = std::min<std::size_t>(iov.size() - idx, IOV_MAX);
    // MSG_NOSIGNAL: a peer that closed the connection is an EPIPE here, not a SIGPIPE.
    ssize_t n = ::sendmsg(context_->fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        return fail(ConnectionFailure::kTimeout, "send timed out at the deadline");
      }
      return fail(ConnectionFailure::kIO, std::string("send: ") + std::strerror(err));
    }
    sent_any = true;
    idx = advance(iov, idx, static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

Result<ReplyPtr> RedisConnection::read_reply(Deadline deadline) {
  if (broken()) return Status::IOError("redis " + node_.text() + ": connection is broken");
  redisContext* c = context_.get();
  void* reply = nullptr;
  if (redisGetReplyFromReader(c, &reply) != REDIS_OK) {
    return fail(ConnectionFailure::kIO, std::string("protocol: ") + c->errstr);
  }
  while (reply == nullptr) {
    if (!arm_timeout(deadline)) return fail(ConnectionFailure::kTimeout, "no reply by the deadline");
    if (redisBufferRead(c) != REDIS_OK) {
      int err = errno;
      if (c->err == REDIS_ERR_IO && (err == EAGAIN || err == EWOULDBLOCK)) {
        return fail(ConnectionFailure::kTimeout, "no reply by the deadline");
      }
      if (c->err == REDIS_ERR_EOF) return fail(ConnectionFailure::kIO, "server closed the connection");
      return fail(ConnectionFailure::kIO, std::string("read: ") + c->errstr);
    }
    if (redisGetReplyFromReader(c, &reply) != REDIS_OK) {
      return fail(ConnectionFailure::kIO, std::string("protocol: ") + c->errstr);
    }
  }
  return ReplyPtr(static_cast<redisReply*>(reply));
}

Result<ReplyPtr> RedisConnection::call(const RespPipeline& pipeline, Deadline deadline) {
  KVTIER_RETURN_IF_ERROR(send(pipeline, deadline));
  return read_reply(deadline);
}

bool RedisConnection::idle_and_alive() const {
  if (broken()) return false;
  char byte;
  ssize_t n = ::recv(context_->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace kvtier::shared::redis
