// AzureStore: ObjectStore over the Azure Blob Storage REST API (Azure, and Azurite, its emulator),
// with block blobs in one container. Authorized by Shared Key (an account key: each request
// signed here with HMAC-SHA256, as libcurl has no Azure signing) or by a SAS token (a query
// string the account's owner made, appended to every request as given).
//
// Requests (service version kServiceVersion): Put Blob (whole objects); Put Block and Put Block
// List (uploads: parts are blocks, committed at completion); Get Blob with x-ms-range; List Blobs;
// Delete Blob; List Blobs of one name as the ping. Azure has no call that drops an upload's
// uncommitted blocks: abort_upload commits an empty block list (which discards them) and deletes
// the empty blob. Nothing here creates the container but create_container(), for tests and tools.
//
// List Blobs cannot start after a name (its marker is opaque, and StartFrom needs a service
// version Azurite does not speak): a listing with start_after pages through the prefix from its
// start and drops the names up to start_after (object_store.h).
//
// Thread-safety: as ObjectStore; const after construction but for the connection pool.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "http/http_client.h"
#include "integrity/block_mac.h"
#include "objstore/object_store.h"

namespace kvtier::objstore {

struct AzureOptions {
  // The account's blob endpoint: "https://<account>.blob.core.windows.net", or with the account
  // in the path, as Azurite serves it: "http://127.0.0.1:10000/devstoreaccount1".
  std::string endpoint;
  std::string account;
  std::string container;
  std::string prefix;       // prepended to every blob name ("kvtier/")
  std::string shared_key;   // the account key, base64 (Shared Key); or
  std::string sas;          // a SAS token ("sv=...&sig=..."; a leading '?' is dropped)
  std::string ca_file;      // empty: the system's CAs
  std::size_t connections = 16;
};

class AzureStore final : public ObjectStore {
 public:
  // The x-ms-version every request is sent with.
  static constexpr const char* kServiceVersion = "2021-08-06";

  // Checks the options only (no request: kvtier starts while the store is down). Exactly one of
  // shared_key and sas must be set; the key must be base64.
  static Result<std::unique_ptr<AzureStore>> open(AzureOptions options);

  std::string describe() const override;
  Status put(std::string_view name, std::span<const std::byte> bytes, Deadline deadline) override;
  // Azure has no smallest block.
  std::size_t min_part_bytes() const override { return 1; }
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
  bool starts_listings_after_names() const override { return false; }
  Status remove(std::string_view name, Deadline deadline) override;
  Status ping(Deadline deadline) override;

  // Creates the container; OK when it exists already.
  Status create_container(Deadline deadline);

  const std::string& account() const { return options_.account; }
  bool uses_sas() const { return !options_.sas.empty(); }

 private:
  using Query = std::vector<std::pair<std::string, std::string>>;
  AzureStore(AzureOptions options, std::unique_ptr<BlockMac> signer);

  // A request to the container (`name` empty) or to a blob, with its query; signed (Shared Key)
  // or carrying the SAS, by finish().
  http::Request request(std::string method, std::string_view name, Query query,
                        Deadline deadline) const;
  // Adds the date and version headers and the Authorization (Shared Key) or the SAS query. Call
  // once the request's headers and body are final.
  void finish(http::Request& r, const Query& query) const;
  Result<http::Response> send(http::Request& r, const Query& query);
  // What a response other than the one expected means, as a Status naming the request.
  Status failure(const http::Request& request, const http::Response& response) const;

  AzureOptions options_;
  std::unique_ptr<BlockMac> signer_;  // HMAC-SHA256 with the decoded account key; null with a SAS
  std::string container_url_;       // endpoint/container
  std::string resource_root_;       // "/<account><endpoint path>/<container>", as Shared Key signs
  mutable http::HttpClient http_;
};

// What Shared Key signs for a request (exposed for the tests): the verb, the standard headers
// Azure lists (Content-Length empty when 0), the x-ms- headers sorted, the canonical resource
// (`resource`: "/<account>/<path>" with the path as sent) and the query's names (lower-case)
// and decoded values, sorted.
std::string azure_string_to_sign(std::string_view method, const std::vector<http::Header>& headers,
                                 std::size_t content_length, std::string_view resource,
                                 const std::vector<std::pair<std::string, std::string>>& query);

}  // namespace kvtier::objstore
