// AuthThrottle (see auth_throttle.h).
#include "server/auth_throttle.h"

#include <algorithm>

namespace kvtier::server {

std::string_view AuthThrottle::peer_key(std::string_view peer) {
  if (peer.rfind("unix", 0) == 0) return peer;
  const auto colon = peer.rfind(':');
  return colon == std::string_view::npos ? peer : peer.substr(0, colon);
}

bool AuthThrottle::allowed(std::string_view peer, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(std::string(peer_key(peer)));
  return it == peers_.end() || now >= it->second.blocked_until;
}

bool AuthThrottle::failed(std::string_view peer, Clock::time_point now, std::uint64_t* held_back) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key(peer_key(peer));
  auto it = peers_.find(key);
  if (it == peers_.end()) {
    if (peers_.size() >= kMaxPeers) {
      auto first = std::min_element(peers_.begin(), peers_.end(), [](const auto& a, const auto& b) {
        return a.second.window_start < b.second.window_start;
      });
      peers_.erase(first);
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
