// S3Store: ObjectStore over the S3 API (AWS S3, Ceph RADOS Gateway, MinIO, VAST, ...), signed with
// AWS Signature V4 by libcurl (CURLOPT_AWS_SIGV4). libcurl 7.88 (Debian 12) signs a request's
// query exactly as given, so every URL here is built with its query already canonical (names
// sorted, every name=value percent-encoded: s3_canonical_query), which is what SigV4 signs.
//
// Requests: PutObject; CreateMultipartUpload, UploadPart, CompleteMultipartUpload and
// AbortMultipartUpload; GetObject with a Range; ListObjectsV2; DeleteObject; HeadBucket (ping).
// Bodies are sent with x-amz-content-sha256: UNSIGNED-PAYLOAD (hashing every segment would cost
// a SHA-256 pass over all uploaded bytes; each block carries its own checksum and, per tenant, an
// HMAC, verified when read back), and small XML bodies with their SHA-256.
//
// Thread-safety: as ObjectStore; const after construction but for the connection pool.
#pragma once

#include <memory>
#include <string>

#include "http/http_client.h"
#include "objstore/aws_credentials.h"
#include "objstore/object_store.h"

namespace kvtier::objstore {

// SigV4's canonical query string: every name and value percent-encoded (RFC 3986 unreserved
// kept), sorted by name then value, "name=value" joined by '&' (a name without a value keeps its
// '='). Sent as the URL's query, it is also exactly what libcurl signs.
std::string s3_canonical_query(const std::vector<std::pair<std::string, std::string>>& query);

struct S3Options {
  std::string endpoint;          // "http://127.0.0.1:7480", "https://s3.eu-west-1.amazonaws.com"
  std::string bucket;
  std::string region = "us-east-1";
  bool virtual_host = false;     // bucket.host/name instead of host/bucket/name
  std::string prefix;            // prepended to every object name ("kvtier/")
  AwsCredentials credentials;
  std::string ca_file;           // empty: the system's CAs
  std::size_t connections = 16;  // idle connections kept for reuse
};

class S3Store final : public ObjectStore {
 public:
  // Checks the options only (no request: kvtier starts while the store is down).
  static Result<std::unique_ptr<S3Store>> open(S3Options options);

  std::string describe() const override;
  Status put(std::string_view name, std::span<const std::byte> bytes, Deadline deadline) override;
  std::size_t min_part_bytes() const override { return kMinPartBytes; }
  Result<Upload> begin_upload(std::string_view name, Deadline deadline) override;
  Status upload_part(Upload& upload, std::span<const std::byte> bytes, Deadline deadline) override;
  Status complete_upload(const Upload& upload, Deadline deadline) override;
  Status abort_upload(const Upload& upload, Deadline deadline) override;
  Status read(std::string_view name, std::uint64_t offset, std::span<std::byte> dst,
              Deadline deadline) override;
  Result<std::string> read_all(std::string_view name, std::size_t max_bytes,
                               Deadline deadline) override;
  Result<ListPage> list(std::string_view prefix, std::string_view start_after,
                        std::string_view next, std::size_t max_objects, Deadline deadline) override;
  Status remove(std::string_view name, Deadline deadline) override;
  Status ping(Deadline deadline) override;

  const std::string& access_key_id() const { return options_.credentials.access_key_id; }

  // S3's smallest part but the last (AWS; Ceph RGW's default rgw_multipart_min_part_size too).
  static constexpr std::size_t kMinPartBytes = 5 * 1024 * 1024;

 private:
  explicit S3Store(S3Options options);

  // A request to the bucket (`key` empty) or to an object, with a canonical query.
  http::Request request(std::string method, std::string_view key,
                        const std::vector<std::pair<std::string, std::string>>& query,
                        Deadline deadline) const;
  // The request through http_; a reply cut short is an IOError.
  Result<http::Response> send(const http::Request& r);
  // What a response other than `expected` means, as a Status naming the request.
  Status failure(const http::Request& request, const http::Response& response) const;

  S3Options options_;
  std::string base_url_;  // scheme://host[:port][/bucket]
  std::string sigv4_;     // "aws:amz:<region>:s3"
  mutable http::HttpClient http_;
};

}  // namespace kvtier::objstore
