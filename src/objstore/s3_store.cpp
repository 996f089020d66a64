// S3Store (see s3_store.h).
#include "objstore/s3_store.h"

#include <openssl/evp.h>
#include <pugixml.hpp>

#include <algorithm>

#include "coding/byte_span.h"
#include "objstore/http_store.h"

namespace kvtier::objstore {
namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

// The SHA-256 of an empty payload, which SigV4 wants for bodiless requests.
constexpr const char* kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

}  // namespace

std::string s3_canonical_query(const Query& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [name, value] : query) {
    encoded.emplace_back(http::uri_encode(name, false), http::uri_encode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name + "=" + value;
  }
  return out;
}

Result<http::Response> S3Store::send(const http::Request& r) {
  return perform_store_request(http_, r);
}

Result<std::unique_ptr<S3Store>> S3Store::open(S3Options options) {
  KVTIER_RETURN_IF_ERROR(check_http_store_location("S3", options.endpoint, options.prefix));
  if (options.bucket.empty() || !is_portable_name(options.bucket) ||
      options.bucket.find('/') != std::string::npos) {
    return Status::InvalidArgument("the S3 bucket name '" + options.bucket +
                                   "' is empty or has characters other than [A-Za-z0-9._-]");
  }
  if (options.region.empty()) return Status::InvalidArgument("the S3 region is empty");
  if (options.credentials.access_key_id.empty() || options.credentials.secret_access_key.empty()) {
    return Status::InvalidArgument("the S3 store needs an access key id and a secret access key");
  }
  return std::unique_ptr<S3Store>(new S3Store(std::move(options)));
}

S3Store::S3Store(S3Options options)
    : options_(std::move(options)),
      sigv4_("aws:amz:" + options_.region + ":s3"),
      http_(http::TlsOptions{options_.ca_file}, options_.connections) {
  std::string endpoint = options_.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (options_.virtual_host) {
    const auto scheme_end = endpoint.find("://") + 3;
    base_url_ = endpoint.substr(0, scheme_end) + options_.bucket + "." + endpoint.substr(scheme_end);
  } else {
    base_url_ = endpoint + "/" + options_.bucket;
  }
}

std::string S3Store::describe() const {
  return "s3:" + http::HttpClient::redact(options_.endpoint) + "/" + options_.bucket + "/" +
         options_.prefix;
}

http::Request S3Store::request(std::string method, std::string_view key, const Query& query,
                               Deadline deadline) const {
  http::Request r;
  r.method = std::move(method);
  r.url = base_url_;
  if (!key.empty()) {
    r.url += "/" + http::uri_encode(options_.prefix + std::string(key), true);
  } else if (options_.virtual_host) {
    r.url += "/";
  }
  if (!query.empty()) r.url += "?" + s3_canonical_query(query);
  r.deadline = deadline;
  r.aws_sigv4 = sigv4_;
  r.aws_credentials = options_.credentials.access_key_id + ":" + options_.credentials.secret_access_key;
  r.headers.push_back({"x-amz-content-sha256", kEmptySha256});
  if (!options_.credentials.session_token.empty()) {
    r.headers.push_back({"x-amz-security-token", options_.credentials.session_token});
  }
  return r;
}

Status S3Store::failure(const http::Request& request, const http::Response& response) const {
  const auto [code, message] = xml_error_of(response.body);
  const std::string what = describe() + ": " + request.method + " " +
                           http::HttpClient::redact(request.url) + ": HTTP " +
                           std::to_string(response.status) + (code.empty() ? "" : " " + code) +
                           (message.empty() ? "" : " (" + message + ")");
  if (code == "NoSuchBucket" || code == "AccessDenied" || code == "InvalidAccessKeyId" ||
      code == "SignatureDoesNotMatch" || code == "RequestTimeTooSkewed") {
    return Status::InvalidArgument(what);
  }
  if (code == "QuotaExceeded" || code == "InsufficientCapacity") return Status::NoSpace(what);
  if (code == "EntityTooLarge") return Status::TooLarge(what);
  return status_of_http(response.status, what);
}

Status S3Store::put(std::string_view name, std::span<const std::byte> bytes, Deadline deadline) {
  http::Request r = request("PUT", name, {}, deadline);
  r.headers[0].value = "UNSIGNED-PAYLOAD";
  r.body = bytes;
  Result<http::Response> response = send(r);
  if (!response.ok()) return response.status();
  if (response->status != 200) return failure(r, *response);
  return Status::Ok();
}

Result<Upload> S3Store::begin_upload(std::string_view name, Deadline deadline) {
  http::Request r = request("POST", name, {{"uploads", ""}}, deadline);
  Result<http::Response> response = send(r);
  if (!response.ok()) return response.status();
  if (response->status != 200) return failure(r, *response);
  pugi::xml_document doc;
  doc.load_buffer(response->body.data(), response->body.size());
  std::string id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (id.empty()) {
    return Status::IOError(describe() + ": CreateMultipartUpload of " + std::string(name) +
                           " answered without an UploadId");
  }
  return Upload{std::string(name), std::move(id), {}};
}

Status S3Store::upload_part(Upload& upload, std::span<const std::byte> bytes, Deadline deadline) {
  const std::string number = std::to_string(upload.parts.size() + 1);
  http::Request r =
      request("PUT", upload.name, {{"partNumber", number}, {"uploadId", upload.id}}, deadline);
  r.headers[0].value = "UNSIGNED-PAYLOAD";
  r.body = bytes;
  r.want_headers = {"etag"};
  Result<http::Response> response = send(r);
  if (!response.ok()) return response.status();
  if (response->status != 200) return failure(r, *response);
  const std::string_view etag = response->header("etag");
  if (etag.empty()) {
    return Status::IOError(describe() + ": UploadPart " + number + " of " + upload.name +
                           " answered without an ETag");
  }
  upload.parts.emplace_back(etag);
  return Status::Ok();
}

Status S3Store::complete_upload(const Upload& upload, Deadline deadline) {
  std::string xml = "<CompleteMultipartUpload>";
  for (std::size_t i = 0; i < upload.parts.size(); ++i) {
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + upload.parts[i] +
           "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  http::Request r = request("POST", upload.name, {{"uploadId", upload.id}}, deadline);
  r.headers[0].value = sha256_hex(xml);
  r.headers.push_back({"Content-Type", "application/xml"});
  r.body = bytes_of(xml);
  Result<http::Response> response = send(r);
  if (!response.ok()) return response.status();
  // S3 may answer 200 and still fail: the error is then the body.
  if (response->status != 200 || !xml_error_of(response->body).first.empty()) {
    if (response->status == 200) response->status = 500;
    return failure(r, *response);
  }
  return Status::Ok();
}

Status S3Store::abort_upload(const Upload& upload, Deadline deadline) {
  http::Request r = request("DELETE", upload.name, {{"uploadId", upload.id}}, deadline);
  Result<http::Response> response = send(r);
  if (!response.ok()) return response.status();
  if (response->status == 204 || response->status == 200 || response->status == 404) {
    return Status::Ok();
  }
  return failure(r, *response);
}

Status S3Store::read(std::string_view name, std::uint64_t offset, std::span<std::byte> dst,
                     Deadline deadline) {
  if (dst.empty()) return Status::Ok();
  if (offset > UINT64_MAX - dst.size()) {
    return Status::InvalidArgument(describe() + ": a read of " + std::string(name) + " past 2^64");
  }
  http::Request r = request("GET", name, {}, deadline);
  r.headers.push_back({"Range", "bytes=" + std::to_string(offset) + "-" +
                                    std::to_string(offset + dst.size() - 1)});
  r.into = dst;
  Result<http::Response> response = send(r);
  if (!response.ok()) return response.status();
  const bool whole_object = response->status == 200 && offset == 0;  // a server that ignores Range
  if (response->status != 206 && !whole_object) return failure(r, *response);
  if (response->body_bytes != dst.size()) {
    return Status::Corruption(describe() + ": " + std::string(name) + " ends before byte " +
                              std::to_string(offset + dst.size()) + " (got " +
                              std::to_string(response->body_bytes) + " bytes from " +
                              std::to_string(offset) + ")");
  }
  return Status::Ok();
}

Result<std::string> S3Store::read_all(std::string_view name, std::size_t max_bytes,
                                      Deadline deadline) {
  http::Request r = request("GET", name, {}, deadline);
  r.max_body_bytes = max_bytes;
  Result<http::Response> response = send(r);
  if (!response.ok()) return response.status();
  if (response->status != 200) return failure(r, *response);
  return std::move(response->body);
}

Result<ListPage> S3Store::list(std::string_view prefix, std::string_view start_after,
                               std::string_view next, std::size_t max_objects, Deadline deadline) {
  Query query{{"list-type", "2"},
              {"max-keys", std::to_string(std::clamp<std::size_t>(max_objects, 1, 1000))},
              {"prefix", options_.prefix + std::string(prefix)}};
  if (!start_after.empty()) query.emplace_back("start-after", options_.prefix + std::string(start_after));
  if (!next.empty()) query.emplace_back("continuation-token", std::string(next));
  http::Request r = request("GET", "", query, deadline);
  Result<http::Response> response = send(r);
  if (!response.ok()) return response.status();
  if (response->status != 200) return failure(r, *response);
  pugi::xml_document doc;
  if (!doc.load_buffer(response->body.data(), response->body.size())) {
    return Status::IOError(describe() + ": ListObjectsV2 answered with malformed XML");
  }
  pugi::xml_node result = doc.child("ListBucketResult");
  if (!result) return Status::IOError(describe() + ": ListObjectsV2 answered without a result");
  ListPage page;
  if (std::string_view(result.child_value("IsTruncated")) == "true") {
    page.next = result.child_value("NextContinuationToken");
    if (page.next.empty()) {
      return Status::IOError(describe() + ": ListObjectsV2 answered a truncated page without a continuation token");
    }
  }
  for (pugi::xml_node c = result.child("Contents"); c; c = c.next_sibling("Contents")) {
    std::string_view key = c.child_value("Key");
    if (!key.starts_with(options_.prefix)) continue;
    key.remove_prefix(options_.prefix.size());
    page.objects.push_back(ObjectInfo{std::string(key), c.child("Size").text().as_ullong()});
  }
  return page;
}

Status S3Store::remove(std::string_view name, Deadline deadline) {
  http::Request r = request("DELETE", name, {}, deadline);
  Result<http::Response> response = send(r);
  if (!response.ok()) return response.status();
  if (response->status == 204 || response->status == 200 || response->status == 404) {
    return Status::Ok();
  }
  return failure(r, *response);
}

Status S3Store::ping(Deadline deadline) {
  http::Request r = request("HEAD", "", {}, deadline);
  Result<http::Response> response = send(r);
  if (!response.ok()) return response.status();
  if (response->status == 200) return Status::Ok();
  // HEAD has no body to say why: the status alone.
  if (response->status == 404) {
    return Status::InvalidArgument(describe() + ": the bucket does not exist (HTTP 404)");
  }
  return failure(r, *response);
}

}  // namespace kvtier::objstore
