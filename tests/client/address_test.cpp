// parse_client_address: every accepted form, and a clear InvalidArgument for each refused one.
#include "client/address.h"

#include <gtest/gtest.h>

#include <string>

namespace kvtier::client {
namespace {

TEST(ClientAddress, UnixForms) {
  auto a = parse_client_address("unix:./var/kvtier/kvtierd.sock");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_TRUE(a->is_unix());
  EXPECT_EQ(a->unix_path, "./var/kvtier/kvtierd.sock");
  EXPECT_EQ(a->to_string(), "unix:./var/kvtier/kvtierd.sock");

  auto bare = parse_client_address("/run/kvtier/kvtierd.sock");
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->is_unix());
  EXPECT_EQ(bare->unix_path, "/run/kvtier/kvtierd.sock");

  // "unix:" decides even when the rest has no '/'.
  auto rel = parse_client_address("unix:kvtierd.sock");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(rel->unix_path, "kvtierd.sock");
}

TEST(ClientAddress, TcpForms) {
  auto a = parse_client_address("tcp:127.0.0.1:7420");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_FALSE(a->is_unix());
  EXPECT_EQ(a->tcp.host, "127.0.0.1");
  EXPECT_EQ(a->tcp.port, 7420);
  EXPECT_EQ(a->to_string(), "tcp:127.0.0.1:7420");

  auto bare = parse_client_address("localhost:9000");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->is_unix());
  EXPECT_EQ(bare->tcp.host, "localhost");
  EXPECT_EQ(bare->tcp.port, 9000);

  auto v6 = parse_client_address("[::1]:7420");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->tcp.host, "::1");
  EXPECT_TRUE(v6->tcp.is_ipv6);
  EXPECT_EQ(v6->to_string(), "tcp:[::1]:7420");

  auto tcp_v6 = parse_client_address("tcp:[::1]:1");
  ASSERT_TRUE(tcp_v6.ok());
  EXPECT_EQ(tcp_v6->tcp.port, 1);
}

// Each refused text is InvalidArgument and its message quotes the text and says what is wrong.
void expect_refused(const std::string& text, const std::string& says) {
  auto a = parse_client_address(text);
  ASSERT_FALSE(a.ok()) << text;
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument) << text;
  if (!text.empty()) {
    EXPECT_NE(a.status().message().find(text), std::string::npos) << a.status().message();
  }
  EXPECT_NE(a.status().message().find(says), std::string::npos) << a.status().message();
}

TEST(ClientAddress, RefusedForms) {
  expect_refused("", "empty");
  expect_refused("unix:", "no socket path");
  expect_refused("tcp:", "empty");
  expect_refused("kvtierd.sock", "no port");  // neither a path nor HOST:PORT
  expect_refused("tcp:127.0.0.1", "no port");
  expect_refused("127.0.0.1:notaport", "not a decimal number");
  expect_refused("127.0.0.1:70000", "out of range");
  expect_refused("::1:7420", "brackets");
  expect_refused("tcp:[::1]7420", "after ']'");
  expect_refused("127.0.0.1:0", "port 0");
  expect_refused("unix:/" + std::string(200, 'a'), "at most 107");
  expect_refused(std::string("unix:/tmp/a\0b", 13), "NUL");
}

TEST(ClientAddress, LongestUnixPathIsAccepted) {
  std::string path = "/" + std::string(kMaxUnixPathBytes - 1, 's');
  auto a = parse_client_address("unix:" + path);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->unix_path.size(), kMaxUnixPathBytes);
  EXPECT_FALSE(parse_client_address("unix:" + path + "s").ok());
}

}  // namespace
}  // namespace kvtier::client
