// What /proc says about a process the tests started: CPU seconds used, peak and current RSS, and
// whether it is stopped (freeze_process).
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>

namespace kvtier::testing {

// User + system CPU seconds the process has used.
inline double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  std::uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A "Vm...:" line of /proc/<pid>/status, in bytes.
inline std::uint64_t proc_status_bytes(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream in(line.substr(field.size() + 1));
    std::uint64_t kib = 0;
    in >> kib;
    return kib * 1024;
  }
  return 0;
}
inline std::uint64_t peak_rss(pid_t pid) { return proc_status_bytes(pid, "VmHWM"); }
inline std::uint64_t current_rss(pid_t pid) { return proc_status_bytes(pid, "VmRSS"); }

// Sends SIGSTOP and waits (up to 10 s) until every thread of `pid` is stopped. SIGSTOP is
// delivered asynchronously: until the thread that takes it has stopped the others, another thread
// can still answer a request. A test that freezes a server to see a deadline or a breaker must
// not send its request before then. False when the threads did not all stop.
inline bool freeze_process(pid_t pid) {
  if (pid <= 0 || ::kill(pid, SIGSTOP) != 0) return false;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (int i = 0; i < 10'000; ++i) {
    bool all = true;
    std::error_code ec;
    for (const auto& t : std::filesystem::directory_iterator(tasks, ec)) {
      std::ifstream f(t.path() / "stat");
      std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      if (stat.empty()) continue;  // the thread ended
      // "pid (comm) S ...": the state follows the last ')'.
      const std::size_t close = stat.rfind(')');
      if (close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'T') all = false;
    }
    if (ec) return false;
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

}  // namespace kvtier::testing
