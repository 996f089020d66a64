// AzureStore (see azure_store.h).
#include "objstore/azure_store.h"

#include <pugixml.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>

#include "coding/ascii.h"
#include "coding/base64.h"
#include "coding/byte_span.h"
#include "objstore/http_store.h"

namespace kvtier::objstore {
namespace {

// The value of header `name` (any case) among `headers`, or empty.
std::string_view header_value(const std::vector<http::Header>& headers, std::string_view name) {
  for (const http::Header& h : headers) {
    if (ascii_lower(h.name) == name) return h.value;
  }
  return {};
}

// RFC 1123 time in GMT, as x-ms-date wants it ("Tue, 08 Dec 2026 02:21:12 GMT").
std::string rfc1123_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char text[64];
  std::snprintf(text, sizeof(text), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return text;
}

// The path of an http(s) URL ("" for none), without a trailing '/'.
std::string url_path(std::string_view url) {
  const std::size_t host = url.find("://");
  const std::size_t slash = url.find('/', host == std::string_view::npos ? 0 : host + 3);
  if (slash == std::string_view::npos) return "";
  std::string path(url.substr(slash));
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

std::string random_hex16() {
  std::random_device rd;
  const std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(v));
  return text;
}

// Azure's rule for container names: 3-63 of [a-z0-9-], starting and ending with a letter or
// digit, no "--". Checked at start-up: Azure would refuse it only on the first request.
bool is_container_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  if (name.find("--") != std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// Block ids of one blob must all have the same length: the upload's id and a 6-digit part number
// (Azure allows 50,000 blocks per blob), base64.
std::string block_id(const Upload& upload, std::size_t part) {
  char number[16];
  std::snprintf(number, sizeof(number), "%06zu", part);
  return base64_encode(upload.id + "-" + number);
}

}  // namespace

std::string azure_string_to_sign(std::string_view method, const std::vector<http::Header>& headers,
                                 std::size_t content_length, std::string_view resource,
                                 const std::vector<std::pair<std::string, std::string>>& query) {
  std::string s(method);
  s += "\n";
  s += std::string(header_value(headers, "content-encoding")) + "\n";
  s += std::string(header_value(headers, "content-language")) + "\n";
  s += (content_length == 0 ? std::string() : std::to_string(content_length)) + "\n";
  s += std::string(header_value(headers, "content-md5")) + "\n";
  s += std::string(header_value(headers, "content-type")) + "\n";
  s += "\n";  // Date: x-ms-date is signed instead
  for (const char* name : {"if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range"}) {
    s += std::string(header_value(headers, name)) + "\n";
  }
  std::vector<std::pair<std::string, std::string>> ms;
  for (const http::Header& h : headers) {
    const std::string name = ascii_lower(h.name);
    if (!name.starts_with("x-ms-")) continue;
    std::string_view value = h.value;
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    ms.emplace_back(name, std::string(value));
  }
  std::sort(ms.begin(), ms.end());
  for (const auto& [name, value] : ms) s += name + ":" + value + "\n";
  s += resource;
  std::vector<std::pair<std::string, std::string>> q;
  for (const auto& [name, value] : query) q.emplace_back(ascii_lower(name), value);
  std::sort(q.begin(), q.end());
  for (std::size_t i = 0; i < q.size();) {
    // Values of one name are joined by ',' (sorted).
    std::string line = "\n" + q[i].first + ":" + q[i].second;
    std::size_t j = i + 1;
    for (; j < q.size() && q[j].first == q[i].first; ++j) line += "," + q[j].second;
    s += line;
    i = j;
  }
  return s;
}

Result<std::unique_ptr<AzureStore>> AzureStore::open(AzureOptions options) {
  KVTIER_RETURN_IF_ERROR(check_http_store_location("Azure", options.endpoint, options.prefix));
  if (options.account.empty() || !is_portable_name(options.account) ||
      options.account.find('/') != std::string::npos) {
    return Status::InvalidArgument("the Azure account name '" + options.account +
                                   "' is empty or has characters other than [A-Za-z0-9._-]");
  }
  if (!is_container_name(options.container)) {
    return Status::InvalidArgument("the Azure container name '" + options.container +
                                   "' is not 3-63 lower-case letters, digits and single '-' "
                                   "(starting and ending with a letter or digit)");
  }
  if (options.sas.starts_with('?')) options.sas.erase(0, 1);
  if (options.shared_key.empty() == options.sas.empty()) {
    return Status::InvalidArgument(
        "the Azure store needs an account key (Shared Key) or a SAS token, and not both");
  }
  std::unique_ptr<BlockMac> signer;
  if (!options.shared_key.empty()) {
    std::optional<std::string> key = base64_decode(options.shared_key);
    if (!key || key->empty()) {
      // Never the key itself in the message.
      return Status::InvalidArgument("the Azure account key of '" + options.account +
                                     "' is not base64");
    }
    signer = std::make_unique<BlockMac>(*key);
  } else if (options.sas.find("sig=") == std::string::npos ||
             options.sas.find_first_of(" #\r\n") != std::string::npos) {
    return Status::InvalidArgument("the Azure SAS token has no sig= or has characters a query cannot");
  }
  return std::unique_ptr<AzureStore>(new AzureStore(std::move(options), std::move(signer)));
}

AzureStore::AzureStore(AzureOptions options, std::unique_ptr<BlockMac> signer)
    : options_(std::move(options)),
      signer_(std::move(signer)),
      http_(http::TlsOptions{options_.ca_file}, options_.connections) {
  std::string endpoint = options_.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  container_url_ = endpoint + "/" + options_.container;
  resource_root_ = "/" + options_.account + url_path(endpoint) + "/" + options_.container;
}

std::string AzureStore::describe() const {
  return "azure:" + http::HttpClient::redact(options_.endpoint) + "/" + options_.container + "/" +
         options_.prefix;
}

http::Request AzureStore::request(std::string method, std::string_view name, Query query,
                                  Deadline deadline) const {
  http::Request r;
  r.method = std::move(method);
  r.url = container_url_;
  if (!name.empty()) r.url += "/" + http::uri_encode(options_.prefix + std::string(name), true);
  std::string q;
  for (const auto& [key, value] : query) {
    q += (q.empty() ? "" : "&") + http::uri_encode(key, false) + "=" + http::uri_encode(value, false);
  }
  if (!options_.sas.empty()) q += (q.empty() ? "" : "&") + options_.sas;
  if (!q.empty()) r.url += "?" + q;
  r.deadline = deadline;
  return r;
}

void AzureStore::finish(http::Request& r, const Query& query) const {
  r.headers.push_back({"x-ms-date", rfc1123_now()});
  r.headers.push_back({"x-ms-version", kServiceVersion});
  // Sent on every PUT, so that libcurl adds no content type of its own that would not be signed.
  if (r.method == "PUT" && header_value(r.headers, "content-type").empty()) {
    r.headers.push_back({"Content-Type", "application/octet-stream"});
  }
  if (!signer_) return;  // the SAS is in the query
  std::string path = resource_root_;
  const std::size_t name_at = container_url_.size();
  const std::size_t query_at = r.url.find('?');
  if (r.url.size() > name_at && r.url[name_at] == '/') {
    path += r.url.substr(name_at, query_at == std::string::npos ? std::string::npos : query_at - name_at);
  }
  const std::string to_sign = azure_string_to_sign(r.method, r.headers, r.body.size(), path, query);
  const BlockMac::Tag tag = signer_->tag({std::as_bytes(std::span(to_sign.data(), to_sign.size()))});
  r.headers.push_back({"Authorization", "SharedKey " + options_.account + ":" +
                                            base64_encode(std::as_bytes(std::span(tag)))});
}

Result<http::Response> AzureStore::send(http::Request& r, const Query& query) {
  finish(r, query);
  return perform_store_request(http_, r);
}

Status AzureStore::failure(const http::Request& request, const http::Response& response) const {
  const auto [code, message] = xml_error_of(response.body);
  // Azure's messages end in a request id and a time on lines of their own: the first line says it.
  const std::string first_line = message.substr(0, message.find('\n'));
  const std::string what = describe() + ": " + request.method + " " +
                           http::HttpClient::redact(request.url) + ": HTTP " +
                           std::to_string(response.status) + (code.empty() ? "" : " " + code) +
                           (first_line.empty() ? "" : " (" + first_line + ")");
  if (code == "ContainerNotFound" || code == "AuthenticationFailed" ||
      code == "AuthorizationFailure" || code == "AuthorizationPermissionMismatch" ||
      code == "InvalidAuthenticationInfo" || code == "InsufficientAccountPermissions" ||
      code == "AccountIsDisabled") {
    return Status::InvalidArgument(what);
  }
  if (code == "BlobNotFound") return Status::NotFound(what);
  if (code == "RequestBodyTooLarge") return Status::TooLarge(what);
  if (code == "InvalidRange") return Status::Corruption(what);
  return status_of_http(response.status, what);
}

Status AzureStore::put(std::string_view name, std::span<const std::byte> bytes, Deadline deadline) {
  http::Request r = request("PUT", name, {}, deadline);
  r.headers.push_back({"x-ms-blob-type", "BlockBlob"});
  r.body = bytes;
  Result<http::Response> response = send(r, {});
  if (!response.ok()) return response.status();
  if (response->status != 201) return failure(r, *response);
  return Status::Ok();
}

Result<Upload> AzureStore::begin_upload(std::string_view name, Deadline) {
  // Nothing to ask the server: blocks are staged under the blob's name and committed by a list.
  return Upload{std::string(name), random_hex16(), {}};
}

Status AzureStore::upload_part(Upload& upload, std::span<const std::byte> bytes, Deadline deadline) {
  if (upload.parts.size() >= 50'000) {
    return Status::TooLarge(describe() + ": " + upload.name + " would have more than 50,000 blocks");
  }
  const std::string id = block_id(upload, upload.parts.size() + 1);
  const Query query{{"comp", "block"}, {"blockid", id}};
  http::Request r = request("PUT", upload.name, query, deadline);
  r.body = bytes;
  Result<http::Response> response = send(r, query);
  if (!response.ok()) return response.status();
  if (response->status != 201) return failure(r, *response);
  upload.parts.push_back(id);
  return Status::Ok();
}

Status AzureStore::complete_upload(const Upload& upload, Deadline deadline) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const std::string& id : upload.parts) xml += "<Latest>" + id + "</Latest>";
  xml += "</BlockList>";
  const Query query{{"comp", "blocklist"}};
  http::Request r = request("PUT", upload.name, query, deadline);
  r.headers.push_back({"Content-Type", "application/xml"});
  r.body = bytes_of(xml);
  Result<http::Response> response = send(r, query);
  if (!response.ok()) return response.status();
  if (response->status != 201) return failure(r, *response);
  return Status::Ok();
}

Status AzureStore::abort_upload(const Upload& upload, Deadline deadline) {
  // No block went up (as far as this node knows): nothing to drop. One whose answer was lost is
  // left for Azure to discard with the others it never saw committed (after a week).
  if (upload.parts.empty()) return Status::Ok();
  // Committing an empty list discards the uncommitted blocks, and the empty blob it makes goes
  // next. Only if the name holds no blob (If-None-Match: *): an upload whose completion landed
  // though its answer was lost is a published object, which an abort must not empty.
  const Query query{{"comp", "blocklist"}};
  http::Request r = request("PUT", upload.name, query, deadline);
  r.headers.push_back({"Content-Type", "application/xml"});
  r.headers.push_back({"If-None-Match", "*"});
  const std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList></BlockList>";
  r.body = bytes_of(xml);
  Result<http::Response> response = send(r, query);
  if (!response.ok()) return response.status();
  if (response->status == 409 || response->status == 412) return Status::Ok();  // a blob is there
  if (response->status != 201) return failure(r, *response);
  return remove(upload.name, deadline);
}

Status AzureStore::read(std::string_view name, std::uint64_t offset, std::span<std::byte> dst,
                        Deadline deadline) {
  if (dst.empty()) return Status::Ok();
  if (offset > UINT64_MAX - dst.size()) {
    return Status::InvalidArgument(describe() + ": a read of " + std::string(name) + " past 2^64");
  }
  http::Request r = request("GET", name, {}, deadline);
  r.headers.push_back({"x-ms-range", "bytes=" + std::to_string(offset) + "-" +
                                         std::to_string(offset + dst.size() - 1)});
  r.into = dst;
  Result<http::Response> response = send(r, {});
  if (!response.ok()) return response.status();
  if (response->status != 206) return failure(r, *response);
  if (response->body_bytes != dst.size()) {
    return Status::Corruption(describe() + ": " + std::string(name) + " ends before byte " +
                              std::to_string(offset + dst.size()) + " (got " +
                              std::to_string(response->body_bytes) + " bytes from " +
                              std::to_string(offset) + ")");
  }
  return Status::Ok();
}

Result<std::string> AzureStore::read_all(std::string_view name, std::size_t max_bytes,
                                         Deadline deadline) {
  http::Request r = request("GET", name, {}, deadline);
  r.max_body_bytes = max_bytes;
  Result<http::Response> response = send(r, {});
  if (!response.ok()) return response.status();
  if (response->status != 200) return failure(r, *response);
  return std::move(response->body);
}

Result<ListPage> AzureStore::list(std::string_view prefix, std::string_view start_after,
                                  std::string_view next, std::size_t max_objects,
                                  Deadline deadline) {
  Query query{{"restype", "container"},
              {"comp", "list"},
              {"prefix", options_.prefix + std::string(prefix)},
              {"maxresults", std::to_string(std::clamp<std::size_t>(max_objects, 1, 5000))}};
  if (!next.empty()) query.emplace_back("marker", std::string(next));
  http::Request r = request("GET", "", query, deadline);
  Result<http::Response> response = send(r, query);
  if (!response.ok()) return response.status();
  if (response->status != 200) return failure(r, *response);
  pugi::xml_document doc;
  if (!doc.load_buffer(response->body.data(), response->body.size())) {
    return Status::IOError(describe() + ": List Blobs answered with malformed XML");
  }
  pugi::xml_node result = doc.child("EnumerationResults");
  if (!result) return Status::IOError(describe() + ": List Blobs answered without a result");
  ListPage page;
  page.next = result.child_value("NextMarker");
  for (pugi::xml_node b = result.child("Blobs").child("Blob"); b; b = b.next_sibling("Blob")) {
    std::string_view name = b.child_value("Name");
    if (!name.starts_with(options_.prefix)) continue;
    name.remove_prefix(options_.prefix.size());
    if (name <= start_after) continue;  // List Blobs cannot start after a name: skipped here
    page.objects.push_back(
        ObjectInfo{std::string(name), b.child("Properties").child("Content-Length").text().as_ullong()});
  }
  return page;
}

Status AzureStore::remove(std::string_view name, Deadline deadline) {
  http::Request r = request("DELETE", name, {}, deadline);
  Result<http::Response> response = send(r, {});
  if (!response.ok()) return response.status();
  if (response->status == 202 || response->status == 200) return Status::Ok();
  const Status s = failure(r, *response);
  return s.is_not_found() ? Status::Ok() : s;  // a missing container is not NotFound (failure())
}

Status AzureStore::ping(Deadline deadline) {
  // A listing of at most one name: what the backend needs anyway, and allowed to a SAS that may
  // list (Get Container Properties is not, to a container's SAS).
  return list("", "", "", 1, deadline).status();
}

Status AzureStore::create_container(Deadline deadline) {
  const Query query{{"restype", "container"}};
  http::Request r = request("PUT", "", query, deadline);
  Result<http::Response> response = send(r, query);
  if (!response.ok()) return response.status();
  if (response->status == 201 || xml_error_of(response->body).first == "ContainerAlreadyExists") {
    return Status::Ok();
  }
  return failure(r, *response);
}

}  // namespace kvtier::objstore
