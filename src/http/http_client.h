// HttpClient: HTTP/1.1 requests over libcurl for everything kvtier sends to an HTTP server (the
// object stores of the shared tier, `kvtier stat --url`). One call is one request with one
// deadline for all of it (connect, send, receive); responses are bounded (into the caller's
// buffer, or a string of at most max_body_bytes); redirects are never followed; only http and
// https are spoken. Connections are reused: finished easy handles go back to a bounded pool, and
// libcurl keeps their connections open.
//
// Secrets (a SigV4 secret key, a bearer token) are passed to libcurl and never appear in a
// Status message: errors name the method, the URL without its query (a SAS token lives there)
// and what failed.
//
// Thread-safety: perform() may be called from any number of threads at once; each call takes a
// handle of its own from the pool.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/status.h"

namespace kvtier::http {

using Clock = std::chrono::steady_clock;

struct Header {
  std::string name;
  std::string value;
};

// The largest response body read into a string when the request says nothing: far above an
// object store's XML answers (a listing page of 1,000 keys is ~300 KiB).
inline constexpr std::size_t kDefaultMaxBodyBytes = 16 * 1024 * 1024;

struct Request {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;             // http:// or https://, path and query already encoded
  std::vector<Header> headers;
  std::span<const std::byte> body;  // sent with its Content-Length (none for an empty body)
  // Non-empty: the response body is written here and may not exceed it (a ranged GET into the
  // caller's buffer). Empty: the body is returned as Response::body, at most max_body_bytes.
  std::span<std::byte> into;
  std::size_t max_body_bytes = kDefaultMaxBodyBytes;
  // Names (any case) of response headers to return in Response::headers.
  std::vector<std::string> want_headers;
  Clock::time_point deadline;
  // AWS Signature V4 by libcurl: CURLOPT_AWS_SIGV4's "aws:amz:<region>:<service>" and the
  // "<access key>:<secret key>" it signs with. The URL's query must already be in canonical
  // form (sorted by name, every name=value encoded): libcurl 7.88 signs the query as given.
  std::string aws_sigv4;
  std::string aws_credentials;
};

struct Response {
  long status = 0;
  // The body when Request::into was empty; and for a status other than 2xx always here (never
  // in `into`), cut at 64 KiB.
  std::string body;
  std::size_t body_bytes = 0;     // bytes of a 2xx body received (into `into` or `body`)
  std::vector<Header> headers;    // the wanted ones that came, names lower-case
  // The value of a wanted header, or empty.
  std::string_view header(std::string_view lower_name) const;
};

struct TlsOptions {
  // A CA bundle (PEM) to trust instead of the system's. Empty: the system's CAs.
  std::string ca_file;
};

class HttpClient {
 public:
  // Keeps at most `idle_handles` finished handles (and their connections) for reuse.
  explicit HttpClient(TlsOptions tls = {}, std::size_t idle_handles = 16);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // The response, whatever its status (the caller judges it). IOError when the server could not
  // be reached, TLS failed or the deadline passed; Corruption when the reply was cut short or
  // malformed (a connection reset mid-reply, a bad Content-Length or chunk); TooLarge when the
  // body exceeded `into` or max_body_bytes; InvalidArgument for a URL libcurl refuses or another
  // scheme than http/https.
  Result<Response> perform(const Request& request);

  // The URL without its query and user info, for messages (a SAS token, a signature or a
  // password must not be logged).
  static std::string redact(std::string_view url);

 private:
  struct Pool;
  std::unique_ptr<Pool> pool_;
  TlsOptions tls_;
};

// Ok when `url` parses as an http or https URL with a host; else InvalidArgument saying why.
Status check_http_url(const std::string& url);

// Percent-encodes every byte but the unreserved A-Z a-z 0-9 - _ . ~ (RFC 3986), as SigV4's
// canonical form and Azure's URLs want; '/' too unless keep_slash.
std::string uri_encode(std::string_view text, bool keep_slash);

}  // namespace kvtier::http
