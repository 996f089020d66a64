// Listener (see listener.h).
#include "server/listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "net/host_port.h"

namespace kvtier::server {

namespace {
constexpr int kBacklog = 1024;

std::string format_sockaddr(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    ::inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a.sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    ::inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a.sin6_port));
  }
  return "unix";
}
}  // namespace

Result<std::unique_ptr<Listener>> Listener::unix_socket(const std::string& path, gid_t gid) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return Status::InvalidArgument("unix socket path \"" + path + "\" is empty or longer than " +
                                   std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno("socket(AF_UNIX)", errno);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status::InvalidArgument("unix socket path " + path +
                                     " exists and is not a socket; refusing to replace it");
    }
    ::unlink(path.c_str());
  }
  // The socket file is created with the process umask's mode. Nobody can connect to it before
  // listen(), so making it 0660 in between leaves no moment in which others could, without
  // changing the umask (process-wide: it would strip bits from whatever another thread creates
  // meanwhile).
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::FromErrno("bind(" + path + ")", errno);
  }
  if (::chmod(path.c_str(), 0660) != 0) return Status::FromErrno("chmod(" + path + ")", errno);
  if (gid != static_cast<gid_t>(-1) && ::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    return Status::FromErrno("chown(" + path + ", group " + std::to_string(gid) + ")", errno);
  }
  if (::listen(fd.get(), kBacklog) != 0) return Status::FromErrno("listen(" + path + ")", errno);
  return std::unique_ptr<Listener>(
      new Listener(std::move(fd), Transport::kUnix, "unix:" + path, path));
}

Result<std::unique_ptr<Listener>> Listener::tcp(const std::string& host_port) {
  Result<net::HostPort> hp = net::parse_host_port(host_port);
  if (!hp.ok()) return hp.status();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(hp->port);
  int gai = ::getaddrinfo(hp->host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) {
    return Status::InvalidArgument("cannot resolve " + host_port + ": " + ::gai_strerror(gai));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(res, ::freeaddrinfo);
  Status last = Status::IOError("no address for " + host_port);
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         ai->ai_protocol));
    if (!fd.valid()) {
      last = Status::FromErrno("socket", errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      last = Status::FromErrno("bind(" + host_port + ")", errno);
      continue;
    }
    if (::listen(fd.get(), kBacklog) != 0) {
      last = Status::FromErrno("listen(" + host_port + ")", errno);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
    return std::unique_ptr<Listener>(
        new Listener(std::move(fd), Transport::kTcp, "tcp:" + format_sockaddr(bound), ""));
  }
  return last;
}

Listener::~Listener() {
  if (!unlink_path_.empty()) ::unlink(unlink_path_.c_str());
}

UniqueFd Listener::accept(std::string* peer, int* error) const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int fd;
  do {
    fd = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len,
                   SOCK_NONBLOCK | SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    *error = errno;
    return UniqueFd();
  }
  *error = 0;
  if (transport_ == Transport::kTcp) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *peer = format_sockaddr(ss);
  } else {
    // Who is on the other end: the uid tells local clients apart (AuthThrottle, logs).
    ucred cred{};
    socklen_t cred_len = sizeof cred;
    *peer = ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0
                ? "unix:uid=" + std::to_string(cred.uid)
                : "unix";
  }
  return UniqueFd(fd);
}

void Listener::stop_listening() const { ::shutdown(fd_.get(), SHUT_RD); }

}  // namespace kvtier::server
