// parse_client_address: the address forms a kvtier client accepts (see address.h).
#include "client/address.h"

#include <string>

namespace kvtier::client {
namespace {

constexpr std::string_view kForms =
    "expected unix:PATH, a path containing '/', tcp:HOST:PORT, tls:HOST:PORT, HOST:PORT or "
    "[IPV6]:PORT";

Status bad(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("address \"" + std::string(text) + "\": " + std::string(why));
}

Result<ClientAddress> unix_address(std::string_view text, std::string_view path) {
  if (path.empty()) return bad(text, "no socket path after \"unix:\"");
  if (path.find('\0') != std::string_view::npos) return bad(text, "the path contains a NUL byte");
  if (path.size() > kMaxUnixPathBytes) {
    return bad(text, "the socket path is " + std::to_string(path.size()) +
                         " bytes; a Unix socket path holds at most " +
                         std::to_string(kMaxUnixPathBytes) +
                         " (use a shorter path, e.g. relative to the current directory)");
  }
  ClientAddress a;
  a.kind = ClientAddress::Kind::kUnix;
  a.unix_path = std::string(path);
  return a;
}

Result<ClientAddress> tcp_address(std::string_view text, std::string_view host_port) {
  Result<net::HostPort> hp = net::parse_host_port(host_port);
  if (!hp.ok()) {
    // parse_host_port's message already quotes the HOST:PORT part; add the "tcp:" text when
    // that is what the user wrote, and the Unix forms they may have meant.
    std::string why = hp.status().message();
    if (text.size() != host_port.size()) why = "\"" + std::string(text) + "\": " + why;
    return Status::InvalidArgument(why +
                                   " (a Unix socket is written unix:PATH or as a path "
                                   "containing '/')");
  }
  if (hp->port == 0) return bad(text, "port 0 names no listener; give the daemon's port");
  ClientAddress a;
  a.kind = ClientAddress::Kind::kTcp;
  a.tcp = std::move(hp).value();
  return a;
}

}  // namespace

std::string ClientAddress::to_string() const {
  if (kind == Kind::kUnix) return "unix:" + unix_path;
  std::string host = tcp.is_ipv6 ? "[" + tcp.host + "]" : tcp.host;
  return (tls ? "tls:" : "tcp:") + host + ":" + std::to_string(tcp.port);
}

Result<ClientAddress> parse_client_address(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("address is empty; " + std::string(kForms));
  if (text.starts_with("unix:")) return unix_address(text, text.substr(5));
  if (text.starts_with("tcp:")) return tcp_address(text, text.substr(4));
  if (text.starts_with("tls:")) {
    Result<ClientAddress> a = tcp_address(text, text.substr(4));
    if (a.ok()) a->tls = true;
    return a;
  }
  // A '/' never appears in HOST:PORT, so any text with one is a path ("./kvtierd.sock").
  if (text.find('/') != std::string_view::npos) return unix_address(text, text);
  return tcp_address(text, text);
}

}  // namespace kvtier::client
