// HttpClient (see http_client.h) over libcurl's easy interface.
#include "http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

#include "sync/mutex.h"

namespace kvtier::http {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The most of an error response's body kept (an S3 or Azure XML error is under 1 KiB).
constexpr std::size_t kMaxErrorBodyBytes = 64 * 1024;

// Where the body of the response goes, and what was said about it. A response that is not a
// success never lands in `into` (the caller's buffer is for the object's bytes): its body goes
// to `text`, truncated at kMaxErrorBodyBytes.
struct Sink {
  CURL* curl = nullptr;
  std::span<std::byte> into;
  std::string* text = nullptr;
  std::size_t limit = 0;
  std::size_t received = 0;
  bool too_large = false;
  bool judged = false;
  bool error_body = false;
};

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
  Sink* sink = static_cast<Sink*>(user);
  const std::size_t n = size * count;
  if (!sink->judged) {
    sink->judged = true;
    long status = 0;
    curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &status);
    sink->error_body = status < 200 || status > 299;
  }
  if (sink->error_body) {
    const std::size_t room = kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, sink->text->size());
    sink->text->append(data, std::min(n, room));
    return n;
  }
  if (sink->received + n > sink->limit) {
    sink->too_large = true;
    return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
  }
  if (sink->into.empty()) {
    sink->text->append(data, n);
  } else {
    std::memcpy(sink->into.data() + sink->received, data, n);
  }
  sink->received += n;
  return n;
}

struct HeaderSink {
  const std::vector<std::string>* wanted;  // lower-case
  std::vector<Header>* out;
};

std::size_t read_header(char* data, std::size_t size, std::size_t count, void* user) {
  HeaderSink* sink = static_cast<HeaderSink*>(user);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    sink->out->clear();  // a new response (after a 100 Continue): only the last one's count
    return n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name = lower(line.substr(0, colon));
  if (std::find(sink->wanted->begin(), sink->wanted->end(), name) == sink->wanted->end()) return n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  sink->out->push_back(Header{std::move(name), std::string(value)});
  return n;
}

// Failing to reach the server, or the deadline passing, is IOError; a reply that was cut short
// or malformed (what the server sent that libcurl could not take) is Corruption; a URL libcurl
// refuses is InvalidArgument.
Status curl_failure(CURLcode code, const char* detail, const std::string& what) {
  const std::string message = what + ": " + (detail[0] != '\0' ? detail : curl_easy_strerror(code));
  switch (code) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Status::InvalidArgument(message);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
      return Status::Corruption(message);
    default:
      return Status::IOError(message);
  }
}

struct CurlSlist {
  curl_slist* list = nullptr;
  ~CurlSlist() { curl_slist_free_all(list); }
  bool add(const std::string& line) {
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (next == nullptr) return false;
    list = next;
    return true;
  }
};

bool has_header(const std::vector<Header>& headers, std::string_view lower_name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const Header& h) { return lower(h.name) == lower_name; });
}

}  // namespace

struct HttpClient::Pool {
  Mutex mu;
  std::vector<CURL*> idle KVTIER_GUARDED_BY(mu);
  std::size_t limit;

  explicit Pool(std::size_t n) : limit(n) {}
  ~Pool() {
    MutexLock lock(mu);
    for (CURL* c : idle) curl_easy_cleanup(c);
  }
  CURL* take() {
    {
      MutexLock lock(mu);
      if (!idle.empty()) {
        CURL* c = idle.back();
        idle.pop_back();
        curl_easy_reset(c);  // options gone; its connection and DNS cache stay
        return c;
      }
    }
    return curl_easy_init();
  }
  void give_back(CURL* c) {
    {
      MutexLock lock(mu);
      if (idle.size() < limit) {
        idle.push_back(c);
        return;
      }
    }
    curl_easy_cleanup(c);
  }
};

std::string_view Response::header(std::string_view lower_name) const {
  for (const Header& h : headers) {
    if (h.name == lower_name) return h.value;
  }
  return {};
}

HttpClient::HttpClient(TlsOptions tls, std::size_t idle_handles)
    : pool_(std::make_unique<Pool>(idle_handles)), tls_(std::move(tls)) {
  global_init_once();
}

HttpClient::~HttpClient() = default;

std::string HttpClient::redact(std::string_view url) {
  std::string out(url.substr(0, url.find('?')));
  // No user:password@ either.
  const auto scheme_end = out.find("://");
  const auto host_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const auto at = out.find('@', host_start);
  if (at != std::string::npos && at < out.find('/', host_start)) out.erase(host_start, at + 1 - host_start);
  return out;
}

Result<Response> HttpClient::perform(const Request& request) {
  const std::string what = request.method + " " + redact(request.url);
  const auto now = Clock::now();
  if (request.deadline <= now) return Status::IOError(what + ": deadline passed before sending");
  const long timeout_ms = std::max<long>(
      1, static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                               request.deadline - now)
                               .count()));

  CURL* c = pool_->take();
  if (c == nullptr) return Status::NoSpace("cannot create a libcurl handle");
  struct GiveBack {
    Pool* pool;
    CURL* c;
    ~GiveBack() { pool->give_back(c); }
  } give_back{pool_.get(), c};

  Response response;
  Sink sink;
  sink.curl = c;
  sink.text = &response.body;
  if (!request.into.empty()) {
    sink.into = request.into;
    sink.limit = request.into.size();
  } else {
    sink.limit = request.max_body_bytes;
  }
  std::vector<std::string> wanted;
  for (const std::string& name : request.want_headers) wanted.push_back(lower(name));
  HeaderSink header_sink{&wanted, &response.headers};

  CurlSlist headers;
  for (const Header& h : request.headers) {
    if (!headers.add(h.name + ": " + h.value)) return Status::NoSpace("libcurl header list");
  }
  // No "Expect: 100-continue" round trip before a large body. Not on a signed request: libcurl
  // 7.88 signs the empty header that removes it as a header of its own, which no server sends
  // back in its canonical request. No form content type on a body.
  if (request.aws_sigv4.empty() && !headers.add("Expect:")) {
    return Status::NoSpace("libcurl header list");
  }
  if (!request.body.empty() && !has_header(request.headers, "content-type") &&
      !headers.add("Content-Type: application/octet-stream")) {
    return Status::NoSpace("libcurl header list");
  }

  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, read_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &header_sink);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "kvtier");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.list);
  if (!tls_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, tls_.ca_file.c_str());
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (request.method == "PUT" || request.method == "POST") {
    // The body is sent from the caller's memory (not copied); an empty one as Content-Length: 0.
    static const char kEmpty[1] = {0};
    const char* data = request.body.empty() ? kEmpty
                                            : reinterpret_cast<const char*>(request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  if (!request.aws_sigv4.empty()) {
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, request.aws_sigv4.c_str());
    curl_easy_setopt(c, CURLOPT_USERPWD, request.aws_credentials.c_str());
  }

  const CURLcode code = curl_easy_perform(c);
  // A pooled handle keeps neither the secret nor pointers into this frame.
  curl_easy_setopt(c, CURLOPT_USERPWD, nullptr);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, nullptr);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  if (sink.too_large) {
    return Status::TooLarge(what + ": the response body is larger than " +
                            std::to_string(sink.limit) + " bytes");
  }
  if (code != CURLE_OK) return curl_failure(code, error, what);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  response.body_bytes = sink.received;
  return response;
}

Status check_http_url(const std::string& url) {
  global_init_once();
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
  if (!u) return Status::NoSpace("cannot create a libcurl URL handle");
  if (CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0); rc != CURLUE_OK) {
    return Status::InvalidArgument(HttpClient::redact(url) + ": not a URL (" +
                                   curl_url_strerror(rc) + ")");
  }
  char* scheme = nullptr;
  std::string s;
  if (curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK) {
    s = scheme;
    curl_free(scheme);
  }
  if (s != "http" && s != "https") {
    return Status::InvalidArgument(HttpClient::redact(url) + ": the scheme must be http or https");
  }
  return Status::Ok();
}

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto b = static_cast<unsigned char>(ch);
    const bool alnum = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9');
    if (alnum || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
        (keep_slash && ch == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  }
  return out;
}

}  // namespace kvtier::http
