// Listen and connect addresses as people write them ("127.0.0.1:7420", "[::1]:7420",
// "localhost:7420"), shared by the daemon config, the client and the metrics listener so that all
// three accept exactly the same forms with the same messages.
//
// Thread-safety: pure functions of their arguments; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kvtier/status.h"

namespace kvtier::net {

struct HostPort {
  // The host without brackets: an IPv4 literal ("127.0.0.1"), an IPv6 literal ("::1") or a DNS
  // name ("localhost", "cache-01.example"). Never empty.
  std::string host;
  // 0 asks the kernel for an ephemeral port (useful to a listener in a test).
  std::uint16_t port = 0;
  // True when the text used the bracketed "[v6addr]:PORT" form (host is then an IPv6 literal).
  bool is_ipv6 = false;
};

// Parses "HOST:PORT" or "[IPV6]:PORT". HOST is an IPv4 dotted quad, or a DNS name (letters,
// digits, '-' and '.'; labels of 1..63 characters, 253 in all); an IPv6 literal must be in
// brackets because its colons would make the port ambiguous. PORT is 1..5 decimal digits,
// 0..65535. Surrounding spaces are not accepted. InvalidArgument, quoting the text and saying
// what is wrong, otherwise. Names are not resolved here (that is the connect/bind caller's job).
Result<HostPort> parse_host_port(std::string_view text);

// True for a host that can only be reached from this machine: any IPv4 address in 127.0.0.0/8,
// the IPv6 loopback ::1 (also written in full, or IPv4-mapped as ::ffff:127.x.y.z, with or
// without brackets) and the name "localhost" (any case). False for everything else, including
// wildcard addresses (0.0.0.0, ::) and names that might resolve to a loopback address: a caller
// deciding whether a listener is exposed must not rely on DNS.
bool is_loopback_host(std::string_view host);

}  // namespace kvtier::net
