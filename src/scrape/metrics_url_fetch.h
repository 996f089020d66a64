// fetch_metrics_url: one GET of a Prometheus endpoint (kvtierd's /metrics), for `kvtier stat
// --url`, by http::HttpClient: http and https (the system's CAs, or a CA file), an optional bearer token,
// redirects not followed, one deadline for the whole transfer, the response bounded in size.
// It lives beside the metrics parser, not in the client library: only the CLI needs HTTP.
//
// Thread-safety: a free function; calls on different threads are independent.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "kvtier/status.h"

namespace kvtier {

// The largest response body accepted: far above a daemon's metrics (~100 KiB).
inline constexpr std::size_t kMaxMetricsResponseBytes = 64 * 1024 * 1024;

struct MetricsFetch {
  std::string url;                  // "http://HOST:PORT/metrics" or "https://..."
  std::chrono::milliseconds timeout{5000};
  std::string bearer_token;         // non-empty: sent as "Authorization: Bearer <token>"
  std::string ca_file;              // non-empty: trust this CA bundle instead of the system's
};

// Ok when `url` parses (libcurl's URL parser) as an http or https URL with a host; else
// InvalidArgument saying why. fetch_metrics_url checks it first.
Status check_metrics_url(const std::string& url);

// The body of a 200 response. InvalidArgument for a URL libcurl refuses or another scheme than
// http/https, a malformed or oversized response, or any status other than 200 (the message has
// the status); IOError when the connection fails, TLS fails or the timeout passes.
Result<std::string> fetch_metrics_url(const MetricsFetch& fetch);

}  // namespace kvtier
