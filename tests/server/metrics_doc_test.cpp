// docs/METRICS.md against real daemons: every family a kvtierd with a shared fs tier, and one with
// the redis backend (a real redis-server), exports in STATS has an entry in the doc, with the
// exported type; STATS and /metrics name the same families; and every entry in the doc names a
// family one of the two daemons exports (so a family removed from the code leaves the doc too).
//
// An entry is a line "- `kvtier_NAME` (TYPE" (docs/METRICS.md says so at its top).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "scrape/metrics_url_fetch.h"
#include "kvtier/client.h"
#include "scrape/prometheus_parse.h"
#include "support/azurite.h"
#include "support/ceph_rgw.h"
#include "support/daemon_process.h"
#include "support/redis_process.h"
#include "support/test_support.h"

namespace kvtier::testing {
namespace {

using namespace std::chrono_literals;

const std::string kMetricsDocPath = std::string(KVTIER_SOURCE_DIR) + "/docs/METRICS.md";

// Family name -> type, as docs/METRICS.md documents them.
std::map<std::string, std::string> metrics_doc_entries() {
  std::ifstream in(kMetricsDocPath);
  EXPECT_TRUE(in.good()) << "cannot read " << kMetricsDocPath;
  std::map<std::string, std::string> out;
  const std::string open = "- `kvtier_";
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(open)) continue;
    const std::size_t name_end = line.find('`', 3);
    if (name_end == std::string::npos || line.compare(name_end, 3, "` (") != 0) continue;
    const std::string name = line.substr(3, name_end - 3);
    const std::size_t type_begin = name_end + 3;
    std::size_t type_end = type_begin;
    while (type_end < line.size() && line[type_end] >= 'a' && line[type_end] <= 'z') ++type_end;
    out[name] = line.substr(type_begin, type_end - type_begin);
    // The doc's rule: the azure backend exports the s3 backend's families under its own name.
    const std::string s3 = "kvtier_shared_s3_";
    if (name.starts_with(s3)) out["kvtier_shared_azure_" + name.substr(s3.size())] = out[name];
  }
  return out;
}

// The families (name -> type) a daemon's STATS exports, after checking that /metrics exports
// the same ones.
std::map<std::string, std::string> metrics_doc_exported(const DaemonProcess& d) {
  ClientOptions o;
  o.address = d.unix_address();
  o.client_name = "metrics-doc-test";
  auto client = Client::connect(o);
  EXPECT_TRUE(client.ok()) << client.status().to_string();
  if (!client.ok()) return {};
  Result<std::string> text = (*client)->stats();
  EXPECT_TRUE(text.ok()) << text.status().to_string();
  if (!text.ok()) return {};
  Result<ParsedMetrics> parsed = parse_prometheus_text(*text);
  EXPECT_TRUE(parsed.ok()) << parsed.status().to_string();
  if (!parsed.ok()) return {};
  std::map<std::string, std::string> out(parsed->types.begin(), parsed->types.end());

  Result<std::string> http =
      fetch_metrics_url({"http://" + d.metrics_address() + "/metrics", 10s, "", ""});
  EXPECT_TRUE(http.ok()) << http.status().to_string();
  if (http.ok()) {
    Result<ParsedMetrics> from_http = parse_prometheus_text(*http);
    EXPECT_TRUE(from_http.ok()) << from_http.status().to_string();
    if (from_http.ok()) {
      std::map<std::string, std::string> h(from_http->types.begin(), from_http->types.end());
      EXPECT_EQ(h, out) << "STATS and /metrics export different families";
    }
  }
  return out;
}

// Every exported family has an entry of its type in the doc.
void metrics_doc_expect_documented(const std::map<std::string, std::string>& exported,
                                   const std::map<std::string, std::string>& doc) {
  std::ostringstream missing, wrong_type;
  int n_missing = 0;
  for (const auto& [name, type] : exported) {
    auto it = doc.find(name);
    if (it == doc.end()) {
      missing << "\n  " << name << " (" << type << ")";
      ++n_missing;
    } else if (it->second != type) {
      wrong_type << "\n  " << name << ": the daemon exports a " << type << ", the doc says "
                 << it->second;
    }
  }
  EXPECT_EQ(n_missing, 0) << n_missing << " families the daemon exports are not documented; "
                          << "add them to docs/METRICS.md (a line \"- `NAME` (TYPE ...): "
                          << "meaning\" under their component):" << missing.str();
  EXPECT_TRUE(wrong_type.str().empty())
      << "fix these types in docs/METRICS.md:" << wrong_type.str();
}

std::string metrics_doc_config() {
  // A quick first probe, so the breaker and the health counters are in a settled state.
  return small_daemon_config("[shared]\nprobe_interval_ms = 100\n");
}

std::map<std::string, std::string> metrics_doc_fs_daemon_families() {
  TempDir dir, shared;
  DaemonProcess d(dir.path(), metrics_doc_config(), {"--shared-fs", shared.path()});
  EXPECT_TRUE(d.started()) << d.log();
  if (!d.started()) return {};
  return metrics_doc_exported(d);
}

std::map<std::string, std::string> metrics_doc_redis_daemon_families() {
  RedisProcess redis;
  EXPECT_TRUE(redis.started()) << "redis-server did not start";
  if (!redis.started()) return {};
  TempDir dir;
  DaemonProcess d(dir.path(), metrics_doc_config(), {"--shared-redis", redis.address()});
  EXPECT_TRUE(d.started()) << d.log();
  if (!d.started()) return {};
  return metrics_doc_exported(d);
}

// A daemon with the S3 shared tier (Ceph's RADOS Gateway), the credentials in its environment.
std::map<std::string, std::string> metrics_doc_s3_daemon_families() {
  CephRgw rgw;
  EXPECT_TRUE(rgw.started()) << "the Ceph RADOS Gateway did not start:\n" << rgw.failures();
  if (!rgw.started() || !rgw.create_bucket("metrics")) return {};
  ::setenv("AWS_ACCESS_KEY_ID", rgw.access_key().c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", rgw.secret_key().c_str(), 1);
  TempDir dir;
  DaemonProcess d(dir.path(), metrics_doc_config(),
                  {"--shared-s3", rgw.endpoint(), "--shared-s3-bucket", "metrics"});
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  EXPECT_TRUE(d.started()) << d.log();
  if (!d.started()) return {};
  return metrics_doc_exported(d);
}

TEST(MetricsDoc, EveryFamilyOfADaemonWithTheS3SharedTierIsDocumented) {
  std::map<std::string, std::string> exported = metrics_doc_s3_daemon_families();
  ASSERT_FALSE(exported.empty());
  EXPECT_TRUE(exported.count("kvtier_shared_s3_staged_puts_total")) << "not the s3 backend?";
  metrics_doc_expect_documented(exported, metrics_doc_entries());
}

// A daemon with the Azure Blob shared tier (Azurite), the account and key in its environment.
std::map<std::string, std::string> metrics_doc_azure_daemon_families() {
  Azurite azurite("metrics");
  EXPECT_TRUE(azurite.ready()) << "Azurite did not start:\n" << azurite.log();
  if (!azurite.ready()) return {};
  ::setenv("AZURE_STORAGE_ACCOUNT", Azurite::kAccount, 1);
  ::setenv("AZURE_STORAGE_KEY", Azurite::kKey, 1);
  TempDir dir;
  DaemonProcess d(dir.path(), metrics_doc_config(),
                  {"--shared-azure", azurite.endpoint(), "--shared-azure-container", "metrics"});
  ::unsetenv("AZURE_STORAGE_ACCOUNT");
  ::unsetenv("AZURE_STORAGE_KEY");
  EXPECT_TRUE(d.started()) << d.log();
  if (!d.started()) return {};
  return metrics_doc_exported(d);
}

TEST(MetricsDoc, EveryFamilyOfADaemonWithTheAzureSharedTierIsDocumented) {
  std::map<std::string, std::string> exported = metrics_doc_azure_daemon_families();
  ASSERT_FALSE(exported.empty());
  EXPECT_TRUE(exported.count("kvtier_shared_azure_staged_puts_total")) << "not the azure backend?";
  metrics_doc_expect_documented(exported, metrics_doc_entries());
}

TEST(MetricsDoc, EveryFamilyOfADaemonWithTheFsSharedTierIsDocumented) {
  std::map<std::string, std::string> exported = metrics_doc_fs_daemon_families();
  ASSERT_FALSE(exported.empty());
  EXPECT_TRUE(exported.count("kvtier_shared_fs_puts_total")) << "not the fs backend?";
  EXPECT_TRUE(exported.count("kvtier_nvme_hits_total")) << "no NVMe tier?";
  metrics_doc_expect_documented(exported, metrics_doc_entries());
}

TEST(MetricsDoc, EveryFamilyOfADaemonWithTheRedisSharedTierIsDocumented) {
  std::map<std::string, std::string> exported = metrics_doc_redis_daemon_families();
  ASSERT_FALSE(exported.empty());
  EXPECT_TRUE(exported.count("kvtier_shared_redis_puts_total")) << "not the redis backend?";
  metrics_doc_expect_documented(exported, metrics_doc_entries());
}

// Between them the four daemons export every family there is (NVMe tier, shared tier with each
// backend, the HTTP server), so an entry none exports is a family the code no longer has.
TEST(MetricsDoc, EveryDocumentedFamilyIsExported) {
  std::map<std::string, std::string> exported = metrics_doc_fs_daemon_families();
  ASSERT_FALSE(exported.empty());
  std::map<std::string, std::string> redis = metrics_doc_redis_daemon_families();
  ASSERT_FALSE(redis.empty());
  exported.insert(redis.begin(), redis.end());
  std::map<std::string, std::string> s3 = metrics_doc_s3_daemon_families();
  ASSERT_FALSE(s3.empty());
  exported.insert(s3.begin(), s3.end());
  std::map<std::string, std::string> azure = metrics_doc_azure_daemon_families();
  ASSERT_FALSE(azure.empty());
  exported.insert(azure.begin(), azure.end());
  std::map<std::string, std::string> doc = metrics_doc_entries();
  ASSERT_FALSE(doc.empty()) << "no entries found in " << kMetricsDocPath;
  std::ostringstream stale;
  int n_stale = 0;
  for (const auto& [name, type] : doc) {
    if (exported.count(name) == 0) {
      stale << "\n  " << name;
      ++n_stale;
    }
  }
  EXPECT_EQ(n_stale, 0) << n_stale << " entries in docs/METRICS.md name a family no daemon "
                        << "exports (renamed or removed in the code?); remove or rename them:"
                        << stale.str();
}

}  // namespace
}  // namespace kvtier::testing
