// AuthThrottle: failures per peer, the block after kMaxFailures in kWindow, peers told apart by
// address (not port) or Unix uid, the bound on peers remembered, and one log line per 10 s.
#include "server/auth_throttle.h"

#include <gtest/gtest.h>

namespace kvtier::server::auth_throttle_test {

using Clock = AuthThrottle::Clock;
using std::chrono::seconds;

TEST(AuthThrottle, TenFailuresInTheWindowBlockThePeerForTheBlockTime) {
  AuthThrottle t;
  const auto t0 = Clock::now();
  std::uint64_t held = 0;
  for (int i = 0; i < AuthThrottle::kMaxFailures - 1; ++i) {
    t.failed("10.0.0.7:4000" + std::to_string(i), t0, &held);  // another port each time
    EXPECT_TRUE(t.allowed("10.0.0.7:5000", t0)) << i;
  }
  t.failed("10.0.0.7:4100", t0, &held);
  EXPECT_FALSE(t.allowed("10.0.0.7:6000", t0)) << "the address is blocked, whatever the port";
  EXPECT_TRUE(t.allowed("10.0.0.8:6000", t0)) << "another address is not";
  EXPECT_TRUE(t.allowed("unix:uid=1000", t0));
  EXPECT_FALSE(t.allowed("10.0.0.7:6000", t0 + AuthThrottle::kBlock - seconds(1)));
  EXPECT_TRUE(t.allowed("10.0.0.7:6000", t0 + AuthThrottle::kBlock));
}

TEST(AuthThrottle, FailuresFurtherApartThanTheWindowNeverBlock) {
  AuthThrottle t;
  auto now = Clock::now();
  std::uint64_t held = 0;
  for (int i = 0; i < 3 * AuthThrottle::kMaxFailures; ++i) {
    t.failed("[::1]:9000", now, &held);
    EXPECT_TRUE(t.allowed("[::1]:9001", now)) << i;
    now += AuthThrottle::kWindow / (AuthThrottle::kMaxFailures - 2);
  }
}

TEST(AuthThrottle, OneLogLinePerTenSecondsWithTheCountHeldBack) {
  AuthThrottle t;
  const auto t0 = Clock::now();
  std::uint64_t held = 99;
  EXPECT_TRUE(t.failed("a:1", t0, &held));
  EXPECT_EQ(held, 0u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(t.failed("b:1", t0 + seconds(1), &held));
  EXPECT_TRUE(t.failed("c:1", t0 + seconds(10), &held));
  EXPECT_EQ(held, 5u);
}

TEST(AuthThrottle, RemembersABoundedNumberOfPeers) {
  AuthThrottle t;
  const auto t0 = Clock::now();
  std::uint64_t held = 0;
  // One failure short of a block, then twice as many other peers as it remembers: its count is
  // forgotten, so one more failure does not block it.
  for (int i = 0; i < AuthThrottle::kMaxFailures - 1; ++i) t.failed("10.9.9.9:1", t0, &held);
  for (std::size_t i = 0; i < 2 * AuthThrottle::kMaxPeers; ++i) {
    t.failed("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":1", t0, &held);
  }
  t.failed("10.9.9.9:1", t0, &held);
  EXPECT_TRUE(t.allowed("10.9.9.9:1", t0));
}

// Audit of issue 25: a full table forgot whichever peer came first, blocked or not, so a stream
// of fresh addresses freed a blocked guesser. Now an unblocked peer is forgotten first.
TEST(AuthThrottle, FreshPeersDoNotFreeABlockedOne) {
  AuthThrottle t;
  const auto t0 = Clock::now();
  std::uint64_t held = 0;
  for (int i = 0; i < AuthThrottle::kMaxFailures; ++i) t.failed("10.9.9.9:1", t0, &held);
  ASSERT_FALSE(t.allowed("10.9.9.9:2", t0));
  for (std::size_t i = 0; i < 3 * AuthThrottle::kMaxPeers; ++i) {
    t.failed("10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) + "." +
                 std::to_string(i & 255) + ":1",
             t0, &held);
  }
  EXPECT_FALSE(t.allowed("10.9.9.9:2", t0)) << "fresh peers pushed a blocked one out";
}

// Found by the audit: any local user may take any address in 127.0.0.0/8, so keyed by address a
// guesser got a fresh key every ten tries. Every loopback address is one peer, an IPv6 host its /64.
TEST(AuthThrottle, PeerKeysDropThePortJoinLoopbackAndKeepUnixUids) {
  EXPECT_EQ(AuthThrottle::peer_key("10.0.0.7:41234"), "10.0.0.7");
  EXPECT_EQ(AuthThrottle::peer_key("127.0.0.1:5000"), "loopback");
  EXPECT_EQ(AuthThrottle::peer_key("127.8.9.10:5000"), "loopback");
  EXPECT_EQ(AuthThrottle::peer_key("[::1]:5000"), "loopback");
  EXPECT_EQ(AuthThrottle::peer_key("[2001:db8:1:2:3:4:5:6]:5000"), "[2001:db8:1:2::/64]");
  // However written (audit of issue 25: compressed addresses each had a key of their own).
  EXPECT_EQ(AuthThrottle::peer_key("[2001:db8:1:2::1]:5000"), "[2001:db8:1:2::/64]");
  EXPECT_EQ(AuthThrottle::peer_key("[2001:db8:1:2::2]:5000"), "[2001:db8:1:2::/64]");
  EXPECT_EQ(AuthThrottle::peer_key("[2001:DB8:1:2:0:0:0:9]:5000"), "[2001:db8:1:2::/64]");
  EXPECT_EQ(AuthThrottle::peer_key("unix:uid=1000"), "unix:uid=1000");
  AuthThrottle t;
  const auto t0 = Clock::now();
  std::uint64_t held = 0;
  for (int i = 0; i < AuthThrottle::kMaxFailures; ++i) {
    t.failed("127.0.0." + std::to_string(i + 1) + ":4000", t0, &held);
  }
  EXPECT_FALSE(t.allowed("127.0.0.200:4000", t0));
}

}  // namespace kvtier::server::auth_throttle_test
