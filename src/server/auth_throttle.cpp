// AuthThrottle (see auth_throttle.h).
#include "server/auth_throttle.h"

#include <algorithm>

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
  // An IPv6 host holds a /64 at least: its first four groups name it.
  if (!host.empty() && host.front() == '[') {
    std::string_view addr = host.substr(1, host.size() - 2);
    if (addr.find("::") == std::string_view::npos) {
      std::size_t at = 0;
      for (int groups = 0; groups < 4 && at != std::string_view::npos; ++groups) {
        at = addr.find(':', at == 0 && groups == 0 ? 0 : at + 1);
      }
      if (at != std::string_view::npos) return "[" + std::string(addr.substr(0, at)) + "::/64]";
    }
  }
  return std::string(host);
}

bool AuthThrottle::allowed(std::string_view peer, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(peer_key(peer));
  return it == peers_.end() || now >= it->second.blocked_until;
}

bool AuthThrottle::failed(std::string_view peer, Clock::time_point now, std::uint64_t* held_back) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = peer_key(peer);
  auto it = peers_.find(key);
  if (it == peers_.end()) {
    // Full: one peer is forgotten, in O(1) (an unblocked one if the first bucket's is).
    if (peers_.size() >= kMaxPeers) peers_.erase(peers_.begin());
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
