// Shared pieces of the benchmark programs: fatal errors that clean up, sizes on the command line,
// token files, deterministic keys and order statistics. Benchmarks only; tests have tests/support/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/size_parse.h"
#include "kvtier/key.h"

namespace kvtier::bench {

// Set by each program's main(): its name for messages, and a data directory to remove if it dies.
inline std::string& program_name() {
  static std::string name = "bench";
  return name;
}
inline std::string& cleanup_dir() {
  static std::string dir;
  return dir;
}

[[noreturn]] inline void die(const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n", program_name().c_str(), msg.c_str());
  if (!cleanup_dir().empty()) {
    std::error_code ec;
    std::filesystem::remove_all(cleanup_dir(), ec);
  }
  std::exit(1);
}

// The first word of a file (a daemon's auth-token file).
inline std::string read_token_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) die("cannot read token file " + path);
  std::string t;
  f >> t;
  return t;
}

// "4096", "64MiB", "4GiB", and the shorthands "4K", "4M", "4G" (powers of 1024).
inline std::uint64_t parse_bytes(const std::string& text) {
  std::string t = text;
  if (!t.empty() && std::strchr("KMGkmg", t.back()) != nullptr) t += "iB";
  Result<std::uint64_t> v = parse_byte_size(t);
  if (!v.ok()) die("bad size " + text + ": " + v.status().message());
  return *v;
}

inline std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A uniform key drawn from `state`.
inline Key random_key(std::uint64_t& state) {
  Key k;
  std::uint64_t a = splitmix(state), b = splitmix(state);
  std::memcpy(k.bytes.data(), &a, 8);
  std::memcpy(k.bytes.data() + 8, &b, 8);
  return k;
}

// Key number i of a program's key set `salt` (the same on every run).
inline Key numbered_key(std::uint64_t i, std::uint64_t salt) {
  std::uint64_t s = i * 0x2545F4914F6CDD1Dull + salt;
  return random_key(s);
}

inline double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace kvtier::bench
