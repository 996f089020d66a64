// ClientAddress: where a client finds kvtierd, parsed from the forms people write on the command
// line and in ClientOptions::address: "unix:PATH", "tcp:HOST:PORT", "tls:HOST:PORT" (TCP with
// TLS), "[::1]:PORT", "HOST:PORT", or a bare path (any text containing '/'). HOST:PORT is parsed by net::parse_host_port, the one
// parser the daemon's config uses too, so both accept exactly the same forms.
//
// Thread-safety: pure functions and plain values.
#pragma once

#include <string>
#include <string_view>

#include "kvtier/status.h"
#include "net/host_port.h"

namespace kvtier::client {

// Longest Unix socket path connect() can take: sockaddr_un::sun_path holds 108 bytes, one of
// them the terminating NUL.
inline constexpr std::size_t kMaxUnixPathBytes = 107;

struct ClientAddress {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string unix_path;  // kUnix: the socket's path (relative paths are relative to the cwd)
  net::HostPort tcp;      // kTcp: host (a literal or a name, resolved at connect) and port
  bool tls = false;       // kTcp written "tls:HOST:PORT": TLS over the connection

  bool is_unix() const { return kind == Kind::kUnix; }
  // "unix:./var/kvtier/kvtierd.sock", "tcp:127.0.0.1:7420", "tcp:[::1]:7420": for messages.
  std::string to_string() const;
};

// Parses an address. InvalidArgument, quoting the text and listing the accepted forms, for an
// empty text, "unix:" without a path, a path longer than kMaxUnixPathBytes or containing a NUL,
// port 0 (a client must name the port it connects to) and anything parse_host_port refuses.
Result<ClientAddress> parse_client_address(std::string_view text);

}  // namespace kvtier::client
