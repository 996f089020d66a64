// fetch_metrics_url (see metrics_url_fetch.h) over the HTTP client of src/http.
#include "scrape/metrics_url_fetch.h"

#include "http/http_client.h"

namespace kvtier {

Status check_metrics_url(const std::string& url) { return http::check_http_url(url); }

Result<std::string> fetch_metrics_url(const MetricsFetch& fetch) {
  KVTIER_RETURN_IF_ERROR(check_metrics_url(fetch.url));
  http::HttpClient client(http::TlsOptions{fetch.ca_file}, 0);
  http::Request request;
  request.url = fetch.url;
  request.max_body_bytes = kMaxMetricsResponseBytes;
  request.deadline = http::Clock::now() + fetch.timeout;
  if (!fetch.bearer_token.empty()) {
    request.headers.push_back({"Authorization", "Bearer " + fetch.bearer_token});
  }
  Result<http::Response> response = client.perform(request);
  if (!response.ok()) {
    // A body past the limit, or a malformed reply, is the server's doing, like a status other
    // than 200.
    if (response.status().code() == StatusCode::kTooLarge ||
        response.status().code() == StatusCode::kCorruption) {
      return Status::InvalidArgument(response.status().message());
    }
    return response.status();
  }
  if (response->status != 200) {
    return Status::InvalidArgument(
        fetch.url + ": HTTP status " + std::to_string(response->status) +
        (response->status == 401 ? " (a bearer token is required: --metrics-token-file)" : ""));
  }
  return std::move(response->body);
}

}  // namespace kvtier
