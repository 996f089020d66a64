// Shared test fixtures: temporary directories, deterministic keys and value patterns.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kvtier/key.h"

namespace kvtier::testing {

// Built with AddressSanitizer or ThreadSanitizer (make asan / make tsan): their runtimes reserve
// terabytes of address space (RLIMIT_AS cannot be used), keep freed memory in quarantine (RSS is
// not the program's), and report a race a test creates on purpose (a client writing memory the
// daemon reads, played by a thread). Tests of those things skip themselves there, saying why.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kUnderSanitizer = true;
#else
inline constexpr bool kUnderSanitizer = false;
#endif

// A thread that writes `memory` over and over (a new byte value each pass) until destroyed: a
// client writing memory the daemon reads from or writes into, such as its shared memory after a
// timeout.
class Scribbler {
 public:
  explicit Scribbler(std::span<std::byte> memory)
      : thread_([this, memory] {
          std::uint8_t b = 0;
          while (!stop_.load(std::memory_order_relaxed)) {
            std::memset(memory.data(), ++b, memory.size());
          }
        }) {}
  ~Scribbler() { stop(); }
  Scribbler(const Scribbler&) = delete;
  Scribbler& operator=(const Scribbler&) = delete;
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Polls `done` every 20 ms for at most `limit`.
inline bool poll_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// A fresh directory under $TMPDIR (default /tmp), removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kvtier-test-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) std::abort();
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A key made from a number (not a real chain key: tests of the tiers need many distinct keys).
inline Key test_key(std::uint64_t n) {
  Key k;
  std::uint64_t s = n * 7919 + 1;
  std::uint64_t a = splitmix64(s), b = splitmix64(s);
  std::memcpy(k.bytes.data(), &a, 8);
  std::memcpy(k.bytes.data() + 8, &b, 8);
  return k;
}

// Deterministic bytes for (key, size, version): any torn, stale or misplaced read shows up as a
// mismatch against this pattern.
inline void fill_pattern(std::span<std::byte> out, const Key& key, std::uint64_t version = 0) {
  std::uint64_t s = key.word0() ^ (key.word1() * 31) ^ (version * 0x100000001b3ull) ^ out.size();
  std::size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    std::uint64_t v = splitmix64(s);
    std::memcpy(out.data() + i, &v, 8);
  }
  std::uint64_t v = splitmix64(s);
  std::memcpy(out.data() + i, &v, out.size() - i);
}

inline std::vector<std::byte> pattern(const Key& key, std::size_t size, std::uint64_t version = 0) {
  std::vector<std::byte> v(size);
  fill_pattern(v, key, version);
  return v;
}

inline bool matches_pattern(std::span<const std::byte> data, const Key& key, std::uint64_t version = 0) {
  std::vector<std::byte> want = pattern(key, data.size(), version);
  return std::memcmp(want.data(), data.data(), data.size()) == 0;
}

// The value of one counter of anything with visit_counters(CounterVisitor); -1 if it has none of
// that name.
template <typename Component>
double counter_value(Component& component, std::string_view name) {
  double value = -1;
  component.visit_counters([&](std::string_view n, double v, auto) {
    if (n == name) value = v;
  });
  return value;
}

}  // namespace kvtier::testing
