// A raw TCP connection to a daemon that says nothing: what attack tests open by the hundred
// (connection floods, descriptor exhaustion).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "posix/unique_fd.h"

namespace kvtier::testing {

// A connected TCP socket to `address` ("tcp:127.0.0.1:PORT"); invalid when the connect failed.
inline UniqueFd silent_tcp_connection(const std::string& address) {
  const std::string host_port = address.substr(4);
  const auto colon = host_port.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1))));
  ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &sa.sin_addr);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    return UniqueFd();
  }
  return fd;
}

}  // namespace kvtier::testing
