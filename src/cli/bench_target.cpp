// The targets of `kvtier bench` (see bench_target.h).
#include "cli/bench_target.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "net/host_port.h"
#include "shared/redis/redis_connection.h"
#include "shared/redis/resp_pipeline.h"

namespace kvtier::cli {
namespace {

namespace redis = shared::redis;

constexpr auto kRedisTimeout = std::chrono::seconds(30);

class KvtierTarget : public BenchTarget {
 public:
  explicit KvtierTarget(std::unique_ptr<Client> c) : c_(std::move(c)) {}
  Result<PrefixMatch> lookup(std::span<const Key> chain) override { return c_->lookup(chain); }
  Status get_many(std::span<const GetItem> items, std::span<GetResult> out) override { return c_->get_many(items, out); }
  Status put_many(std::span<const PutItem> items, std::span<Status> out) override { return c_->put_many(items, out); }

 private:
  std::unique_ptr<Client> c_;
};

std::string_view key_bytes(const Key& k) {
  return {reinterpret_cast<const char*>(k.bytes.data()), k.bytes.size()};
}

// Every command of a request pipelined in one send, then the replies in order: what a Redis
// KV-cache connector does per batch.
class RedisTarget : public BenchTarget {
 public:
  explicit RedisTarget(std::unique_ptr<redis::RedisConnection> c) : c_(std::move(c)) {}

  Result<PrefixMatch> lookup(std::span<const Key> chain) override {
    redis::RespPipeline p;
    for (const Key& k : chain) p.command({"EXISTS", key_bytes(k)});
    PrefixMatch m;
    bool gap = false;
    KVTIER_RETURN_IF_ERROR(run(p, [&](const redisReply& r, std::size_t) {
      if (r.type != REDIS_REPLY_INTEGER) return Status::IOError("EXISTS answered type " + std::to_string(r.type));
      if (r.integer == 0) gap = true;
      if (!gap) ++m.cached;
      return Status::Ok();
    }));
    return m;
  }

  Status get_many(std::span<const GetItem> items, std::span<GetResult> out) override {
    redis::RespPipeline p;
    for (const GetItem& i : items) p.command({"GET", key_bytes(i.key)});
    return run(p, [&](const redisReply& r, std::size_t i) {
      GetResult& g = out[i];
      if (r.type == REDIS_REPLY_NIL) {
        g.status = Status::NotFound("absent");
      } else if (r.type != REDIS_REPLY_STRING) {
        g.status = Status::IOError("GET answered type " + std::to_string(r.type));
      } else if (r.len > items[i].dst.size()) {
        g = {Status::BufferTooSmall("value larger than the buffer"), r.len, Tier::kNone};
      } else {
        std::memcpy(items[i].dst.data(), r.str, r.len);  // the client's copy out of hiredis
        g = {Status::Ok(), r.len, Tier::kNone};
      }
      return Status::Ok();
    });
  }

  Status put_many(std::span<const PutItem> items, std::span<Status> out) override {
    redis::RespPipeline p;
    for (const PutItem& i : items) {
      p.begin(3);
      p.arg("SET");
      p.arg(key_bytes(i.key));
      p.arg_with_payload({}, i.value);
    }
    return run(p, [&](const redisReply& r, std::size_t i) {
      out[i] = r.type == REDIS_REPLY_STATUS ? Status::Ok()
                                            : Status::IOError(std::string("SET: ") + (r.str ? r.str : "no reply"));
      return Status::Ok();
    });
  }

 private:
  template <typename OnReply>
  Status run(const redis::RespPipeline& p, OnReply&& on_reply) {
    if (p.empty()) return Status::Ok();
    const auto deadline = shared::Clock::now() + kRedisTimeout;
    KVTIER_RETURN_IF_ERROR(c_->send(p, deadline));
    for (std::size_t i = 0; i < p.commands(); ++i) {
      Result<redis::ReplyPtr> r = c_->read_reply(deadline);
      if (!r.ok()) return r.status();
      KVTIER_RETURN_IF_ERROR(on_reply(**r, i));
    }
    return Status::Ok();
  }

  std::unique_ptr<redis::RedisConnection> c_;
};

// memcached's meta protocol over one TCP connection, every command of a call pipelined in one
// writev: `mg KEY` (HD hit / EN miss) for the lookup, `mg KEY v` (VA size, data) for GET,
// `ms KEY size` + data for PUT. Keys are the 32 hex digits (memcached keys are text).
class MemcachedTarget : public BenchTarget {
 public:
  explicit MemcachedTarget(int fd) : fd_(fd) {}
  ~MemcachedTarget() override { ::close(fd_); }

  static Result<std::unique_ptr<BenchTarget>> connect(const net::HostPort& hp) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (int rc = ::getaddrinfo(hp.host.c_str(), std::to_string(hp.port).c_str(), &hints, &res); rc != 0) {
      return Status::IOError("memcached " + hp.host + ": " + ::gai_strerror(rc));
    }
    int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int err = fd < 0 ? errno : (::connect(fd, res->ai_addr, res->ai_addrlen) == 0 ? 0 : errno);
    ::freeaddrinfo(res);
    if (err != 0) {
      if (fd >= 0) ::close(fd);
      return Status::FromErrno("memcached " + hp.host + ":" + std::to_string(hp.port) + ": connect", err);
    }
    timeval tv{30, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return std::unique_ptr<BenchTarget>(std::make_unique<MemcachedTarget>(fd));
  }

  Result<PrefixMatch> lookup(std::span<const Key> chain) override {
    std::string cmds;
    for (const Key& k : chain) cmds += "mg " + k.hex() + "\r\n";
    KVTIER_RETURN_IF_ERROR(send({{cmds.data(), cmds.size()}}));
    PrefixMatch m;
    bool gap = false;
    for (std::size_t i = 0; i < chain.size(); ++i) {
      Result<std::string> line = read_line();
      if (!line.ok()) return line.status();
      if (*line != "HD" && *line != "EN") return Status::IOError("memcached mg: " + *line);
      if (*line == "EN") gap = true;
      if (!gap) ++m.cached;
    }
    return m;
  }

  Status get_many(std::span<const GetItem> items, std::span<GetResult> out) override {
    std::string cmds;
    for (const GetItem& i : items) cmds += "mg " + i.key.hex() + " v\r\n";
    KVTIER_RETURN_IF_ERROR(send({{cmds.data(), cmds.size()}}));
    for (std::size_t i = 0; i < items.size(); ++i) {
      Result<std::string> line = read_line();
      if (!line.ok()) return line.status();
      if (*line == "EN") {
        out[i] = {Status::NotFound("absent"), 0, Tier::kNone};
        continue;
      }
      if (!line->starts_with("VA ")) return Status::IOError("memcached mg: " + *line);
      std::size_t size = std::stoull(line->substr(3));
      if (size > items[i].dst.size()) {
        KVTIER_RETURN_IF_ERROR(skip(size + 2));  // the data and its \r\n
        out[i] = {Status::BufferTooSmall("value larger than the buffer"), size, Tier::kNone};
        continue;
      }
      KVTIER_RETURN_IF_ERROR(read_exact(items[i].dst.data(), size));
      KVTIER_RETURN_IF_ERROR(skip(2));
      out[i] = {Status::Ok(), size, Tier::kNone};
    }
    return Status::Ok();
  }

  Status put_many(std::span<const PutItem> items, std::span<Status> out) override {
    std::vector<std::string> heads;
    heads.reserve(items.size());
    std::vector<iovec> iov;
    static const char kCrlf[] = "\r\n";
    for (const PutItem& i : items) {
      heads.push_back("ms " + i.key.hex() + " " + std::to_string(i.value.size()) + "\r\n");
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      iov.push_back({heads[i].data(), heads[i].size()});
      iov.push_back({const_cast<std::byte*>(items[i].value.data()), items[i].value.size()});
      iov.push_back({const_cast<char*>(kCrlf), 2});
    }
    KVTIER_RETURN_IF_ERROR(send(iov));
    for (std::size_t i = 0; i < items.size(); ++i) {
      Result<std::string> line = read_line();
      if (!line.ok()) return line.status();
      out[i] = *line == "HD" ? Status::Ok() : Status::IOError("memcached ms: " + *line);
    }
    return Status::Ok();
  }

 private:
  Status send(std::vector<iovec> iov) {
    std::size_t at = 0;
    while (at < iov.size()) {
      ssize_t n = ::writev(fd_, iov.data() + at, static_cast<int>(std::min<std::size_t>(iov.size() - at, IOV_MAX)));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::FromErrno("memcached: send", n < 0 ? errno : EPIPE);
      for (auto left = static_cast<std::size_t>(n); left > 0;) {
        std::size_t step = std::min(left, iov[at].iov_len);
        iov[at].iov_base = static_cast<char*>(iov[at].iov_base) + step;
        iov[at].iov_len -= step;
        left -= step;
        if (iov[at].iov_len == 0) ++at;
      }
      while (at < iov.size() && iov[at].iov_len == 0) ++at;
    }
    return Status::Ok();
  }

  Status fill() {
    if (begin_ == end_) begin_ = end_ = 0;
    if (end_ == sizeof buf_) {
      std::memmove(buf_, buf_ + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    for (;;) {
      ssize_t n = ::recv(fd_, buf_ + end_, sizeof buf_ - end_, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno("memcached: receive", errno);
      if (n == 0) return Status::IOError("memcached closed the connection");
      end_ += static_cast<std::size_t>(n);
      return Status::Ok();
    }
  }

  Result<std::string> read_line() {
    for (;;) {
      std::string_view have(buf_ + begin_, end_ - begin_);
      if (std::size_t nl = have.find("\r\n"); nl != std::string_view::npos) {
        std::string line(have.substr(0, nl));
        begin_ += nl + 2;
        return line;
      }
      if (end_ - begin_ == sizeof buf_) return Status::IOError("memcached: a reply line longer than 64 KiB");
      KVTIER_RETURN_IF_ERROR(fill());
    }
  }

  Status read_exact(std::byte* dst, std::size_t n) {
    while (n > 0) {
      if (begin_ == end_) KVTIER_RETURN_IF_ERROR(fill());
      std::size_t step = std::min(n, end_ - begin_);
      if (dst) std::memcpy(dst, buf_ + begin_, step), dst += step;
      begin_ += step;
      n -= step;
    }
    return Status::Ok();
  }
  Status skip(std::size_t n) { return read_exact(nullptr, n); }

  int fd_;
  char buf_[64 * 1024];
  std::size_t begin_ = 0, end_ = 0;
};

// One file per block, named by the key's hex under 256 subdirectories.
class DirTarget : public BenchTarget {
 public:
  explicit DirTarget(std::filesystem::path root) : root_(std::move(root)) {}

  Result<PrefixMatch> lookup(std::span<const Key> chain) override {
    PrefixMatch m;
    struct stat st;
    while (m.cached < chain.size() && ::stat(path(chain[m.cached]).c_str(), &st) == 0) ++m.cached;
    return m;
  }

  Status get_many(std::span<const GetItem> items, std::span<GetResult> out) override {
    for (std::size_t i = 0; i < items.size(); ++i) out[i] = read_file(items[i]);
    return Status::Ok();
  }

  Status put_many(std::span<const PutItem> items, std::span<Status> out) override {
    for (std::size_t i = 0; i < items.size(); ++i) out[i] = write_file(items[i]);
    return Status::Ok();
  }

 private:
  std::string path(const Key& k) const {
    std::string hex = k.hex();
    return (root_ / hex.substr(0, 2) / hex).string();
  }

  GetResult read_file(const GetItem& item) const {
    std::string p = path(item.key);
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {errno == ENOENT ? Status::NotFound(p) : Status::FromErrno("open " + p, errno), 0, Tier::kNone};
    std::size_t got = 0;
    Status s = Status::Ok();
    while (got < item.dst.size()) {
      ssize_t n = ::read(fd, item.dst.data() + got, item.dst.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) s = Status::FromErrno("read " + p, errno);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return {s, got, Tier::kNone};
  }

  Status write_file(const PutItem& item) const {
    std::string p = path(item.key);
    std::string tmp = p + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(reinterpret_cast<std::uintptr_t>(this));
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path(), ec);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("open " + tmp, errno);
    std::size_t put = 0;
    Status s = Status::Ok();
    while (put < item.value.size() && s.ok()) {
      ssize_t n = ::write(fd, item.value.data() + put, item.value.size() - put);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) s = Status::FromErrno("write " + tmp, errno);
      else put += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0 && s.ok()) s = Status::FromErrno("close " + tmp, errno);
    if (s.ok() && ::rename(tmp.c_str(), p.c_str()) != 0) s = Status::FromErrno("rename " + tmp, errno);
    if (!s.ok()) ::unlink(tmp.c_str());
    return s;
  }

  std::filesystem::path root_;
};

}  // namespace

std::unique_ptr<BenchTarget> kvtier_target(std::unique_ptr<Client> client) {
  return std::make_unique<KvtierTarget>(std::move(client));
}

Result<std::unique_ptr<BenchTarget>> open_store_target(const std::string& spec) {
  if (spec.starts_with("redis://")) {
    Result<net::HostPort> hp = net::parse_host_port(spec.substr(8));
    if (!hp.ok()) return Status::InvalidArgument("--target " + spec + ": " + hp.status().message());
    static redis::RedisCounters counters;  // connect errors of bench connections; not reported
    auto c = redis::RedisConnection::open({hp->host, hp->port}, kRedisTimeout, "", shared::Clock::now() + kRedisTimeout, counters);
    if (!c.ok()) return c.status();
    return std::unique_ptr<BenchTarget>(std::make_unique<RedisTarget>(std::move(*c)));
  }
  if (spec.starts_with("memcached://")) {
    Result<net::HostPort> hp = net::parse_host_port(spec.substr(12));
    if (!hp.ok()) return Status::InvalidArgument("--target " + spec + ": " + hp.status().message());
    return MemcachedTarget::connect(*hp);
  }
  if (spec.starts_with("dir:") && spec.size() > 4) {
    std::filesystem::path root(spec.substr(4));
    std::error_code ec;
    std::filesystem::create_directories(root, ec);
    if (ec) return Status::IOError("--target " + spec + ": " + ec.message());
    return std::unique_ptr<BenchTarget>(std::make_unique<DirTarget>(root));
  }
  return Status::InvalidArgument("--target " + spec + ": expected kvtier, redis://HOST:PORT, memcached://HOST:PORT or dir:PATH");
}

}  // namespace kvtier::cli
