// parse_host_port and is_loopback_host: accepted forms, every rejection and its message.
#include "net/host_port.h"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace kvtier::net {
namespace {

void ExpectRejected(std::string_view text, std::string_view part) {
  Result<HostPort> r = parse_host_port(text);
  ASSERT_FALSE(r.ok()) << "accepted \"" << text << "\"";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().to_string();
  EXPECT_NE(r.status().message().find(part), std::string::npos)
      << "\"" << part << "\" not in: " << r.status().message();
  if (!text.empty()) {
    // Every message quotes what the user wrote, so it can be found in a config file.
    EXPECT_NE(r.status().message().find("\"" + std::string(text) + "\""), std::string::npos)
        << r.status().message();
  }
}

TEST(HostPort, ParsesIpv4NamesAndBracketedIpv6) {
  struct Case {
    std::string_view text;
    std::string_view host;
    std::uint16_t port;
    bool is_ipv6;
  };
  const Case cases[] = {
      {"127.0.0.1:7420", "127.0.0.1", 7420, false},
      {"0.0.0.0:0", "0.0.0.0", 0, false},
      {"localhost:65535", "localhost", 65535, false},
      {"cache-01.example.com:80", "cache-01.example.com", 80, false},
      {"[::1]:7420", "::1", 7420, true},
      {"[::]:1", "::", 1, true},
      {"[2001:db8::1]:443", "2001:db8::1", 443, true},
      {"[::ffff:127.0.0.1]:9", "::ffff:127.0.0.1", 9, true},
      {"h:007", "h", 7, false},
  };
  for (const Case& c : cases) {
    Result<HostPort> r = parse_host_port(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().to_string();
    EXPECT_EQ(r->host, c.host) << c.text;
    EXPECT_EQ(r->port, c.port) << c.text;
    EXPECT_EQ(r->is_ipv6, c.is_ipv6) << c.text;
  }
}

TEST(HostPort, RejectsMalformedAddressesWithTheReason) {
  {
    Result<HostPort> r = parse_host_port("");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("empty"), std::string::npos) << r.status().message();
  }
  ExpectRejected("localhost", "no port");
  ExpectRejected("localhost:", "no port after ':'");
  ExpectRejected(":7420", "no host");
  ExpectRejected("::1:7420", "must be in brackets");
  ExpectRejected("[::1:7420", "missing ']'");
  ExpectRejected("[::1]7420", "expected ':' and a port after ']'");
  ExpectRejected("[::1]", "expected ':' and a port after ']'");
  ExpectRejected("[]:80", "empty IPv6 address");
  ExpectRejected("[1.2.3.4]:80", "is not an IPv6 address");
  ExpectRejected("[zz::1]:80", "is not an IPv6 address");
  ExpectRejected("256.0.0.1:80", "is not an IPv4 address");
  ExpectRejected("127.1:80", "is not an IPv4 address");
  ExpectRejected("1.2.3.4.5:80", "is not an IPv4 address");
  ExpectRejected("bad_name:80", "is not a valid host name");
  ExpectRejected("-lead:80", "is not a valid host name");
  ExpectRejected("a..b:80", "is not a valid host name");
  ExpectRejected(" localhost:80", "is not a valid host name");
  ExpectRejected("localhost:80 ", "is not a decimal number");
  ExpectRejected("localhost:+80", "is not a decimal number");
  ExpectRejected("localhost:-1", "is not a decimal number");
  ExpectRejected("localhost:0x50", "is not a decimal number");
  ExpectRejected("localhost:65536", "out of range 0..65535");
  ExpectRejected("localhost:99999999999999999999", "out of range 0..65535");
  ExpectRejected(std::string(64, 'a') + ".com:80", "is not a valid host name");
}

TEST(HostPort, AcceptsTheLongestHostName) {
  // Four labels of 63 plus three dots would be 255; 253 is the limit.
  std::string label(63, 'a');
  std::string name = label + "." + label + "." + label + "." + std::string(61, 'b');
  ASSERT_EQ(name.size(), 253u);
  EXPECT_TRUE(parse_host_port(name + ":1").ok());
  ExpectRejected(name + "b:1", "is not a valid host name");
}

TEST(HostPort, LoopbackHosts) {
  for (std::string_view host : {"127.0.0.1", "127.255.255.254", "127.0.0.0", "::1", "[::1]",
                                "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost", "LocalHost"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (std::string_view host : {"0.0.0.0", "::", "[::]", "128.0.0.1", "10.0.0.1", "126.255.255.255",
                                "::2", "::ffff:10.0.0.1", "localhost.example", "example.com",
                                "", "[", "localhos", "127.1"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
}

TEST(HostPort, ParsedLoopbackAgreesWithIsLoopback) {
  Result<HostPort> v6 = parse_host_port("[::1]:7420");
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(is_loopback_host(v6->host));
  Result<HostPort> any = parse_host_port("0.0.0.0:7420");
  ASSERT_TRUE(any.ok());
  EXPECT_FALSE(is_loopback_host(any->host));
}

}  // namespace
}  // namespace kvtier::net
