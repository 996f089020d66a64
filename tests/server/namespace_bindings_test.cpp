// Namespace bindings: a data dir remembers which tenant owns each namespace, so a tenant whose
// derived namespace collides with a former tenant's is refused instead of reading its blocks.
#include "server/namespace_bindings.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace kvtier::server {
namespace {

using kvtier::testing::TempDir;

TenantConfig tenant(const std::string& name, std::optional<NamespaceId> ns = std::nullopt) {
  TenantConfig t;
  t.name = name;
  t.token = name + "-token-0123456789";
  t.namespace_id = ns;
  return t;
}

std::string file_of(const TempDir& dir) {
  std::ifstream f(dir.path() + "/" + kNamespaceBindingsFile);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// "alice" and "team-l32ibn" have the same FNV-1a namespace (found by brute force in seconds).
TEST(NamespaceBindings, ANameCollidingWithAFormerTenantIsRefused) {
  ASSERT_EQ(tenant_namespace(tenant("alice")), tenant_namespace(tenant("team-l32ibn")));
  TempDir dir;
  std::vector<std::string> warnings;
  ASSERT_TRUE(check_and_record_namespaces(dir.path(), {tenant("alice"), tenant("bob")}, &warnings).ok());
  EXPECT_NE(file_of(dir).find(" alice\n"), std::string::npos);
  // Alice leaves the config; her blocks stay.
  ASSERT_TRUE(check_and_record_namespaces(dir.path(), {tenant("bob")}, &warnings).ok());
  Status s = check_and_record_namespaces(dir.path(), {tenant("team-l32ibn")}, &warnings);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_NE(s.message().find("\"alice\""), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("namespace_id"), std::string::npos) << s.message();
  // With an unused explicit id it starts; with alice's id explicitly it takes her blocks over,
  // with a warning.
  EXPECT_TRUE(check_and_record_namespaces(dir.path(), {tenant("team-l32ibn", 77)}, &warnings).ok());
  EXPECT_TRUE(warnings.empty());
  const NamespaceId alice = tenant_namespace(tenant("alice"));
  EXPECT_TRUE(check_and_record_namespaces(dir.path(), {tenant("carol", alice)}, &warnings).ok());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("\"alice\""), std::string::npos) << warnings[0];
  // Now alice's derived id belongs to carol: alice herself, back without an id, is refused.
  EXPECT_FALSE(check_and_record_namespaces(dir.path(), {tenant("alice")}, &warnings).ok());
  // The default tenant is namespace 0 and never recorded.
  EXPECT_TRUE(check_and_record_namespaces(dir.path(), {tenant("default")}, &warnings).ok());
  EXPECT_EQ(file_of(dir).find("default"), std::string::npos);
}

TEST(NamespaceBindings, ADamagedFileIsAClearErrorAndIsNotReplaced) {
  for (const std::string text : {"12 alice\n12 bob\n", "x alice\n", "0 alice\n", "5 bad name\n",
                                 "5\n", "99999999999 alice\n"}) {
    TempDir dir;
    std::ofstream(dir.path() + "/" + kNamespaceBindingsFile) << text;
    std::vector<std::string> warnings;
    Status s = check_and_record_namespaces(dir.path(), {tenant("alice")}, &warnings);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << text << ": " << s.to_string();
    EXPECT_NE(s.message().find(kNamespaceBindingsFile), std::string::npos) << s.message();
    EXPECT_EQ(file_of(dir), text);
  }
  TempDir dir;
  std::filesystem::create_directory(dir.path() + "/" + kNamespaceBindingsFile);
  std::vector<std::string> warnings;
  EXPECT_FALSE(check_and_record_namespaces(dir.path(), {tenant("alice")}, &warnings).ok());
}

}  // namespace
}  // namespace kvtier::server
