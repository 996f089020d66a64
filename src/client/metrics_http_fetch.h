// fetch_metrics_url: one HTTP/1.1 GET of kvtierd's /metrics endpoint (or any plain-HTTP
// Prometheus endpoint), for `kvtier stat --url`. Deliberately minimal: "http://HOST:PORT/PATH"
// only (no TLS, no redirects, no chunked encoding: kvtierd answers with a Content-Length and
// closes), every wait bounded by one deadline, the response bounded in size.
//
// Thread-safety: a free function; calls on different threads are independent.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "kvtier/status.h"

namespace kvtier::client {

// The largest response accepted (head and body): far above a daemon's metrics (~100 KiB).
inline constexpr std::size_t kMaxMetricsResponseBytes = 64 * 1024 * 1024;

// "http://HOST:PORT/PATH" -> host:port and path. HOST:PORT as net::parse_host_port reads it
// ("[::1]:7421" for IPv6); the port may be left out (80); PATH defaults to "/". InvalidArgument
// for another scheme or a malformed address.
struct HttpUrl {
  std::string host_port;  // "HOST:PORT", always with the port
  std::string path;       // "/metrics"
};
Result<HttpUrl> parse_http_url(std::string_view url);

// GETs `url` and returns the body of a 200 response. IOError when the connection fails or
// `timeout` passes, InvalidArgument for a bad URL, a malformed or oversized response, or any
// status other than 200 (the message quotes the status line).
Result<std::string> fetch_metrics_url(std::string_view url, std::chrono::milliseconds timeout);

}  // namespace kvtier::client
