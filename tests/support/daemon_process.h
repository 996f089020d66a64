// DaemonProcess: the real kvtierd (`kvtier serve`, the built binary) started by a test in a
// temporary data dir, with TCP and /metrics on ephemeral loopback ports. It waits for the
// daemon's <data_dir>/kvtierd.ready file and reads the bound addresses from it. Tests stop it
// with SIGTERM (clean shutdown), freeze it with SIGSTOP or kill it with SIGKILL, and restart it on
// the same data dir.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/proc_stats.h"

#ifndef KVTIER_BINARY
#error "KVTIER_BINARY (the built kvtier command) must be defined for daemon tests"
#endif

namespace kvtier::testing {

// A small daemon config: 64 MiB DRAM, a 64 MiB NVMe file of 4 MiB regions.
inline std::string small_daemon_config(const std::string& extra = "") {
  return "[dram]\ncapacity_bytes = \"64MiB\"\n"
         "[nvme]\ndefault_file_bytes = \"68MiB\"\nregion_size = \"4MiB\"\n" +
         extra;
}

class DaemonProcess {
 public:
  // Writes `config_toml` to <data_dir>/test-config.toml and starts the daemon with it plus
  // `extra_args`. Check started() (and startup_error()) before use.
  DaemonProcess(std::string data_dir, const std::string& config_toml,
                std::vector<std::string> extra_args = {})
      : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
    config_path_ = data_dir_ + "/test-config.toml";
    std::ofstream(config_path_) << config_toml;
    start();
  }
  ~DaemonProcess() { kill_now(); }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts (again) on the same data dir; waits up to 30 s for the ready file.
  bool start() {
    ::unlink((data_dir_ + "/kvtierd.ready").c_str());
    std::vector<std::string> args = {KVTIER_BINARY, "serve", "--config", config_path_,
                                     "--data-dir", data_dir_, "--tcp-listen", "127.0.0.1:0",
                                     "--metrics-listen", "127.0.0.1:0"};
    // Warnings and errors only, unless the test asks for another level.
    if (std::find(extra_args_.begin(), extra_args_.end(), "--log-level") == extra_args_.end()) {
      args.insert(args.end(), {"--log-level", "warn"});
    }
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      std::string log = data_dir_ + "/kvtierd.log";
      FILE* f = std::freopen(log.c_str(), "a", stderr);
      (void)f;
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (read_ready()) return started_ = true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_status_ = status;
        return started_ = false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return started_ = false;
  }

  bool started() const { return started_; }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string unix_address() const { return "unix:" + ready_.at("unix"); }
  std::string tcp_address() const { return "tcp:" + ready_.at("tcp"); }
  std::string metrics_address() const { return ready_.at("metrics"); }
  // The default tenant's token (the daemon created it under the data dir).
  std::string default_token() const {
    std::ifstream f(data_dir_ + "/auth-token");
    std::string t;
    f >> t;
    return t;
  }
  std::string log() const {
    std::ifstream f(data_dir_ + "/kvtierd.log");
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // SIGSTOP; every thread is stopped when it returns true (freeze_process).
  bool freeze() const { return freeze_process(pid_); }
  // Rewrites the config file with `config_toml`, sends SIGHUP and waits up to 10 s for one more
  // log line containing `event` (e.g. "event=reloaded") than `*seen`, which it then counts.
  bool reload(const std::string& config_toml, const std::string& event, std::size_t* seen) const {
    std::ofstream(config_path_, std::ios::trunc) << config_toml;
    signal(SIGHUP);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string text = log();
      std::size_t n = 0;
      for (auto at = text.find(event); at != std::string::npos; at = text.find(event, at + 1)) ++n;
      if (n > *seen) {
        ++*seen;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  // Sends SIGTERM and waits up to `timeout` for the exit. Returns the exit code (-1: still
  // running, killed; 128+N: died of signal N).
  int terminate(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    signal(SIGTERM);
    return wait_exit(timeout);
  }
  int wait_exit(std::chrono::seconds timeout) {
    if (pid_ <= 0) return exit_code(exit_status_);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_status_ = status;
        return exit_code(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill_now();
    return -1;
  }
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exit_status_ = status;
    pid_ = -1;
  }
  int exit_status_code() const { return exit_code(exit_status_); }

 private:
  static int exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
  }
  bool read_ready() {
    std::ifstream f(data_dir_ + "/kvtierd.ready");
    if (!f) return false;
    std::map<std::string, std::string> m;
    std::string line;
    while (std::getline(f, line)) {
      auto eq = line.find('=');
      if (eq != std::string::npos) m[line.substr(0, eq)] = line.substr(eq + 1);
    }
    if (!m.count("pid")) return false;
    ready_ = std::move(m);
    return true;
  }

  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::string config_path_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
  bool started_ = false;
  std::map<std::string, std::string> ready_;
};

}  // namespace kvtier::testing
