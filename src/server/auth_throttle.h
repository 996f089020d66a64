// AuthThrottle: failed authentications per peer (a TCP client's address without its port, a Unix
// client's uid). After kMaxFailures failures within kWindow, the peer's HELLOs that carry a token
// are refused for kBlock without being compared, so guessing runs at most kMaxFailures tries per
// kWindow + kBlock from one peer, and each failure is logged with the peer, one line per 10 s
// with the count held back. At most kMaxPeers peers are remembered (past that an
// arbitrary one is forgotten for a new one, in O(1)).
//
// The price: clients that share an address with a guesser (behind one NAT, or on the same host
// over TCP: every loopback address is one peer, since any local user can use any of them) wait
// out its block; a Unix client is told apart by its uid.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/log_throttle.h"
#include "sync/mutex.h"

namespace kvtier::server {

class AuthThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int kMaxFailures = 10;
  static constexpr Clock::duration kWindow = std::chrono::seconds(10);
  static constexpr Clock::duration kBlock = std::chrono::seconds(10);
  static constexpr std::size_t kMaxPeers = 4096;
  // How many remembered peers a new one looks through for an unblocked one to forget.
  static constexpr std::size_t kEvictionScan = 64;

  // Whether `peer` may try to authenticate at `now`.
  bool allowed(std::string_view peer, Clock::time_point now);
  // Records a failure of `peer`. True when it is to be logged; *held_back is then the number of
  // failures (of any peer) not logged since the last line.
  bool failed(std::string_view peer, Clock::time_point now, std::uint64_t* held_back);

  // The part of a session's peer that names the client: "10.0.0.7:41234" -> "10.0.0.7",
  // "[2001:db8:1:2:3:4:5:6]:5000" -> "[2001:db8:1:2::/64]", every loopback address ->
  // "loopback", "unix:uid=1000" as it is.
  static std::string peer_key(std::string_view peer);

 private:
  struct Peer {
    int failures = 0;
    Clock::time_point window_start{};
    Clock::time_point blocked_until{};
  };

  Mutex mu_;
  std::unordered_map<std::string, Peer> peers_ KVTIER_GUARDED_BY(mu_);
  LogThrottle log_ KVTIER_GUARDED_BY(mu_){std::chrono::seconds(10)};
};

}  // namespace kvtier::server
