// parse_host_port and is_loopback_host: the one parser of "HOST:PORT" text (see host_port.h).
#include "net/host_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "coding/ascii.h"

namespace kvtier::net {
namespace {

constexpr std::size_t kMaxHostNameBytes = 253;   // RFC 1035: 255 octets on the wire, 253 as text
constexpr std::size_t kMaxHostLabelBytes = 63;  // RFC 1035 2.3.4
constexpr std::string_view kForms = "expected HOST:PORT (e.g. \"127.0.0.1:7420\") or [IPV6]:PORT";

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

Status bad(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("address " + quoted(text) + ": " + std::string(why));
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool parse_ipv4(std::string_view host, in_addr* out) {
  std::string s(host);  // inet_pton needs a terminated string
  return ::inet_pton(AF_INET, s.c_str(), out) == 1;
}

bool parse_ipv6(std::string_view host, in6_addr* out) {
  std::string s(host);
  return ::inet_pton(AF_INET6, s.c_str(), out) == 1;
}

// A DNS name: labels of letters, digits and '-' (not at either end), separated by single dots.
bool is_host_name(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostNameBytes) return false;
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      std::string_view label = host.substr(label_start, i - label_start);
      if (label.empty() || label.size() > kMaxHostLabelBytes) return false;
      if (label.front() == '-' || label.back() == '-') return false;
      label_start = i + 1;
      continue;
    }
    char c = host[i];
    if (!is_alpha(c) && !is_ascii_digit(c) && c != '-') return false;
  }
  return true;
}

Status check_host(std::string_view text, std::string_view host) {
  bool numeric = true;  // only digits and dots: meant as an IPv4 literal, never as a name
  for (char c : host) numeric = numeric && (is_ascii_digit(c) || c == '.');
  if (numeric) {
    in_addr addr;
    if (!parse_ipv4(host, &addr)) {
      return bad(text, quoted(host) + " is not an IPv4 address (four numbers 0..255 separated by dots)");
    }
    return Status::Ok();
  }
  if (!is_host_name(host)) {
    return bad(text, quoted(host) +
                         " is not a valid host name (letters, digits, '-' and '.'; an IPv6 address "
                         "goes in brackets)");
  }
  return Status::Ok();
}

Result<std::uint16_t> parse_port(std::string_view text, std::string_view port) {
  if (port.empty()) return bad(text, "no port after ':'; " + std::string(kForms));
  std::uint32_t value = 0;
  for (char c : port) {
    if (!is_ascii_digit(c)) return bad(text, "port " + quoted(port) + " is not a decimal number");
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
    if (value > 65535) return bad(text, "port " + std::string(port) + " is out of range 0..65535");
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

Result<HostPort> parse_host_port(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("address is empty: " + std::string(kForms));
  HostPort out;
  std::string_view port_text;
  if (text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return bad(text, "missing ']' after the IPv6 address");
    std::string_view host = text.substr(1, close - 1);
    if (host.empty()) return bad(text, "empty IPv6 address between '[' and ']'");
    in6_addr addr;
    if (!parse_ipv6(host, &addr)) return bad(text, quoted(host) + " is not an IPv6 address");
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return bad(text, "expected ':' and a port after ']'");
    }
    out.host = std::string(host);
    out.is_ipv6 = true;
    port_text = text.substr(close + 2);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad(text, "no port; " + std::string(kForms));
    std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return bad(text, "an IPv6 address must be in brackets, as in \"[::1]:7420\"");
    }
    if (host.empty()) {
      return bad(text,
                 "no host before ':' (write 127.0.0.1 for this machine only, 0.0.0.0 or [::] for "
                 "every interface)");
    }
    KVTIER_RETURN_IF_ERROR(check_host(text, host));
    out.host = std::string(host);
    port_text = text.substr(colon + 1);
  }
  Result<std::uint16_t> port = parse_port(text, port_text);
  if (!port.ok()) return port.status();
  out.port = *port;
  return out;
}

bool is_loopback_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (ascii_lower(host) == "localhost") return true;
  in_addr v4;
  if (parse_ipv4(host, &v4)) {
    // s_addr is in network byte order: its first byte is the first number of the dotted quad.
    unsigned char first = 0;
    std::memcpy(&first, &v4.s_addr, 1);
    return first == 127;
  }
  in6_addr v6;
  if (parse_ipv6(host, &v6)) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace kvtier::net
