// fetch_metrics_url (see metrics_url_fetch.h) over libcurl's easy interface.
#include "scrape/metrics_url_fetch.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace kvtier {
namespace {

struct Body {
  std::string text;
  bool too_large = false;
};

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* user) {
  Body* body = static_cast<Body*>(user);
  const std::size_t n = size * count;
  if (body->text.size() + n > kMaxMetricsResponseBytes) {
    body->too_large = true;
    return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
  }
  body->text.append(data, n);
  return n;
}

// Errors of the peer's making (what it sent) are InvalidArgument; failing to reach it is IOError.
Status curl_failure(CURLcode code, const char* detail, const std::string& url) {
  const std::string what = url + ": " + (detail[0] != '\0' ? detail : curl_easy_strerror(code));
  switch (code) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
      return Status::InvalidArgument(what);
    default:
      return Status::IOError(what);
  }
}

}  // namespace

Status check_metrics_url(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
  if (!u) return Status::NoSpace("cannot create a libcurl URL handle");
  if (CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0); rc != CURLUE_OK) {
    return Status::InvalidArgument(url + ": not a URL (" + curl_url_strerror(rc) + ")");
  }
  char* scheme = nullptr;
  std::string s;
  if (curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK) {
    s = scheme;
    curl_free(scheme);
  }
  if (s != "http" && s != "https") {
    return Status::InvalidArgument(url + ": the scheme must be http or https");
  }
  return Status::Ok();
}

Result<std::string> fetch_metrics_url(const MetricsFetch& fetch) {
  KVTIER_RETURN_IF_ERROR(check_metrics_url(fetch.url));
  static std::once_flag global_init;
  std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Status::NoSpace("cannot create a libcurl handle");
  CURL* c = curl.get();
  Body body;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, fetch.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(fetch.timeout.count()));
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "kvtier-stat");
  if (!fetch.bearer_token.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
    curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, fetch.bearer_token.c_str());
  }
  if (!fetch.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, fetch.ca_file.c_str());
  const CURLcode code = curl_easy_perform(c);
  if (body.too_large) {
    return Status::InvalidArgument(fetch.url + ": the response is larger than " +
                                   std::to_string(kMaxMetricsResponseBytes) + " bytes");
  }
  if (code != CURLE_OK) return curl_failure(code, error, fetch.url);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    return Status::InvalidArgument(fetch.url + ": HTTP status " + std::to_string(status) +
                                   (status == 401 ? " (a bearer token is required: "
                                                    "--metrics-token-file)"
                                                  : ""));
  }
  return std::move(body.text);
}

}  // namespace kvtier
