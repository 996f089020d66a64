// The factories of the packed backends (shared_backend.h): an object store from the config, a
// PackedBackend over it.
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "objstore/aws_credentials.h"
#include "objstore/azure_store.h"
#include "objstore/s3_store.h"
#include "shared/packed/packed_backend.h"
#include "shared/shared_backend.h"

namespace kvtier::shared {

packed::PackedOptions packed_options(const PackingConfig& c, std::string counter_prefix) {
  packed::PackedOptions o;
  o.segment_bytes = c.segment_bytes;
  o.part_bytes = static_cast<std::size_t>(c.part_bytes);
  o.refresh_interval = c.refresh_interval;
  o.max_garbage = c.max_garbage;
  o.max_age = c.max_age;
  o.capacity_bytes = c.capacity_bytes;
  o.counter_prefix = std::move(counter_prefix);
  return o;
}

Result<std::unique_ptr<SharedBackend>> open_s3_backend(const S3BackendConfig& config) {
  KVTIER_RETURN_IF_ERROR(config.validate());
  std::string source;
  Result<objstore::AwsCredentials> credentials = objstore::resolve_aws_credentials(
      {{config.access_key_id, config.secret_access_key, config.session_token},
       config.credentials_file,
       config.profile},
      &source);
  if (!credentials.ok()) return credentials.status();
  objstore::S3Options options;
  options.endpoint = config.endpoint;
  options.bucket = config.bucket;
  options.region = config.region;
  options.virtual_host = config.virtual_host;
  options.prefix = config.prefix;
  options.credentials = std::move(*credentials);
  options.ca_file = config.ca_file;
  Result<std::unique_ptr<objstore::S3Store>> store = objstore::S3Store::open(std::move(options));
  if (!store.ok()) return store.status();
  // The access key id says which credentials are in use; the secret is never logged.
  spdlog::info("event=shared_s3_credentials source=\"{}\" access_key_id={}", source,
               (*store)->access_key_id());
  return std::unique_ptr<SharedBackend>(std::make_unique<packed::PackedBackend>(
      std::move(*store), packed_options(config.packing, "shared_s3")));
}

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

Result<std::unique_ptr<SharedBackend>> open_azure_backend(const AzureBackendConfig& config) {
  KVTIER_RETURN_IF_ERROR(config.validate());
  objstore::AzureOptions options;
  options.endpoint = config.endpoint;
  options.account = config.account.empty() ? env("AZURE_STORAGE_ACCOUNT") : config.account;
  options.container = config.container;
  options.prefix = config.prefix;
  options.ca_file = config.ca_file;
  // The config's credential, else the environment's (the names Azure's own tools read).
  std::string source = "config";
  options.shared_key = config.account_key;
  options.sas = config.sas_token;
  if (options.shared_key.empty() && options.sas.empty()) {
    source = "environment";
    options.shared_key = env("AZURE_STORAGE_KEY");
    if (options.shared_key.empty()) options.sas = env("AZURE_STORAGE_SAS_TOKEN");
  }
  if (options.account.empty()) {
    return Status::InvalidArgument(
        "shared.azure.account is not set and neither is $AZURE_STORAGE_ACCOUNT");
  }
  if (options.shared_key.empty() && options.sas.empty()) {
    return Status::InvalidArgument(
        "shared.azure has no credentials: set account_key or sas_token, or $AZURE_STORAGE_KEY or "
        "$AZURE_STORAGE_SAS_TOKEN");
  }
  Result<std::unique_ptr<objstore::AzureStore>> store = objstore::AzureStore::open(std::move(options));
  if (!store.ok()) return store.status();
  // Which kind of credential and where it came from; never the secret.
  spdlog::info("event=shared_azure_credentials source={} kind={} account={}", source,
               (*store)->uses_sas() ? "sas" : "shared_key", (*store)->account());
  return std::unique_ptr<SharedBackend>(std::make_unique<packed::PackedBackend>(
      std::move(*store), packed_options(config.packing, "shared_azure")));
}

}  // namespace kvtier::shared
