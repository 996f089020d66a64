// AuthThrottle (see auth_throttle.h).
#include "server/auth_throttle.h"
#include "sync/mutex.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace kvtier::server {

std::string AuthThrottle::peer_key(std::string_view peer) {
  if (peer.rfind("unix", 0) == 0) return std::string(peer);
  const auto colon = peer.rfind(':');
  std::string_view host = colon == std::string_view::npos ? peer : peer.substr(0, colon);
  // Any local user may take any source address in 127.0.0.0/8 (or ::1): one peer, or a guesser
  // would get a fresh key every kMaxFailures tries.
  if (host.rfind("127.", 0) == 0 || host == "[::1]" || host.rfind("[::ffff:127.", 0) == 0) {
    return "loopback";
  }
  // An IPv6 host holds a /64 at least: its first 64 bits name it, however the address is
  // written (compressed with "::" or not).
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    const std::string addr(host.substr(1, host.size() - 2));
    in6_addr a{};
    if (::inet_pton(AF_INET6, addr.c_str(), &a) == 1) {
      std::memset(a.s6_addr + 8, 0, 8);
      char text[INET6_ADDRSTRLEN] = {};
      if (::inet_ntop(AF_INET6, &a, text, sizeof text) != nullptr) {
        return "[" + std::string(text) + "/64]";
      }
    }
  }
  return std::string(host);
}

bool AuthThrottle::allowed(std::string_view peer, Clock::time_point now) {
  MutexLock lock(mu_);
  auto it = peers_.find(peer_key(peer));
  return it == peers_.end() || now >= it->second.blocked_until;
}

bool AuthThrottle::failed(std::string_view peer, Clock::time_point now, std::uint64_t* held_back) {
  MutexLock lock(mu_);
  const std::string key = peer_key(peer);
  auto it = peers_.find(key);
  if (it == peers_.end()) {
    // Full: one peer is forgotten, never a blocked one while an unblocked one is among the
    // first few looked at (a stream of fresh addresses must not free the blocked guessers).
    if (peers_.size() >= kMaxPeers) {
      auto victim = peers_.begin();
      std::size_t looked = 0;
      for (auto at = peers_.begin(); at != peers_.end() && looked < kEvictionScan; ++at, ++looked) {
        if (now >= at->second.blocked_until) {
          victim = at;
          break;
        }
      }
      peers_.erase(victim);
    }
    it = peers_.emplace(key, Peer{0, now, {}}).first;
  }
  Peer& p = it->second;
  if (now - p.window_start > kWindow) {
    p.failures = 0;
    p.window_start = now;
  }
  if (++p.failures >= kMaxFailures) {
    p.blocked_until = now + kBlock;
    p.failures = 0;
    p.window_start = p.blocked_until;
  }
  return log_.allow(now, held_back);
}

}  // namespace kvtier::server
