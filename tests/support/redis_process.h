// RedisProcess: a real redis-server started by a test on a free loopback port, in its own
// temporary directory, with persistence off (--save "" --appendonly no). It is ready when PING
// answers and INFO names this process (not some other server that took the port). Tests freeze
// it (SIGSTOP/SIGCONT), kill it (SIGKILL) and restart it on the same port; it is killed on
// destruction. RedisCluster: three such servers joined into a cluster of three masters with
// `redis-cli --cluster create`, plus the steps of a manual slot migration.
//
// redis_cli() runs the real redis-cli with a time limit (a frozen server would hang it), so the
// helpers work whatever state a test left the server in.
//
// Thread-safety: none; one test thread drives these objects.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/proc_stats.h"
#include "support/test_support.h"

namespace kvtier::testing {

// In a forked child: closes every inherited descriptor above stderr (a test's client sockets
// must not stay open in a server it starts), then execs; exits 127 if exec fails.
[[noreturn]] inline void exec_closing_fds(std::vector<char*>& argv) {
  ::close_range(3, ~0u, 0);
  ::execvp(argv[0], argv.data());
  ::_exit(127);
}

struct CommandOutput {
  int exit_code = -1;  // -1 when killed at the time limit or not started
  std::string out;     // stdout (stderr goes to /dev/null)
};

// Runs argv (searched in PATH) with `input` on its stdin; kills it after `limit`.
inline CommandOutput run_command(const std::vector<std::string>& argv, const std::string& input = "",
                                 std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return {};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return {};
  }
  std::vector<char*> args;  // built before fork(): the child only calls async-signal-safe code
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd >= 0) ::dup2(null_fd, 2);
    exec_closing_fds(args);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  // Inputs are small (a pipe holds 64 KiB), so writing all before reading cannot deadlock.
  if (!input.empty()) {
    ssize_t n = ::write(in_pipe[1], input.data(), input.size());
    (void)n;
  }
  ::close(in_pipe[1]);
  CommandOutput result;
  auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  bool timed_out = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = ::read(out_pipe[0], buf, sizeof(buf));
    if (n <= 0) break;
    result.out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out_pipe[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = (!timed_out && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  return result;
}

struct RedisOptions {
  std::vector<std::string> extra_args;  // e.g. {"--requirepass", "secret"}
  std::string password;                 // what redis_cli() authenticates with
};

class RedisProcess {
 public:
  // Starts on a random free port (tries several). Check started() before use.
  explicit RedisProcess(RedisOptions options = {}) : options_(std::move(options)) {
    std::random_device rd;
    std::mt19937 rng(rd());
    // Below 55536 so a cluster node's bus port (port + 10000) is valid too.
    std::uniform_int_distribution<int> pick(20000, 55000);
    for (int attempt = 0; attempt < 20 && !started_; ++attempt) {
      port_ = static_cast<std::uint16_t>(pick(rng));
      start();
    }
  }
  ~RedisProcess() { kill(); }
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  bool started() const { return started_; }
  std::uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_.path(); }

  // Starts (again) on the current port; waits up to 10 s for it to answer as this process.
  bool start() {
    kill();
    std::vector<std::string> args = {"redis-server", "--port", std::to_string(port_),
                                     "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                     "--dir", dir_.path(), "--logfile", dir_.file("redis.log"),
                                     "--daemonize", "no"};
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) exec_closing_fds(argv);
    return started_ = wait_ready(std::chrono::seconds(10));
  }

  // The server stops answering (every thread stopped on return); connections stay open.
  bool pause() { return freeze_process(pid_); }
  void resume() { signal(SIGCONT); }
  // SIGKILL and reap; the port is free again afterwards.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    started_ = false;
  }
  bool restart() { return start(); }

  // redis-cli against this server; the output has the trailing newline removed.
  CommandOutput cli(const std::vector<std::string>& args, const std::string& input = "",
                    std::chrono::milliseconds limit = std::chrono::seconds(10)) const {
    std::vector<std::string> argv = {"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port_)};
    if (!options_.password.empty()) argv.insert(argv.end(), {"--no-auth-warning", "-a", options_.password});
    argv.insert(argv.end(), args.begin(), args.end());
    CommandOutput r = run_command(argv, input, limit);
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
    return r;
  }
  std::string cli_out(const std::vector<std::string>& args) const { return cli(args).out; }

 private:
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  bool wait_ready(std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::string want = "process_id:" + std::to_string(pid_);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: port taken, bad argument, ...
        pid_ = -1;
        return false;
      }
      CommandOutput info = cli({"INFO", "server"}, "", std::chrono::seconds(2));
      if (info.exit_code == 0 && info.out.find(want) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill();
    return false;
  }

  RedisOptions options_;
  TempDir dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool started_ = false;
};

// Three masters (no replicas) on loopback. cluster-require-full-coverage is off, so a killed
// master fails only its own slots (what a cache deployment would choose).
class RedisCluster {
 public:
  static constexpr int kMasters = 3;

  RedisCluster() {
    for (int i = 0; i < kMasters; ++i) {
      RedisOptions o;
      o.extra_args = {"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                      "--cluster-node-timeout", "15000", "--cluster-require-full-coverage", "no"};
      nodes_.push_back(std::make_unique<RedisProcess>(o));
      if (!nodes_.back()->started()) return;
    }
    std::vector<std::string> args = {"redis-cli", "--cluster", "create"};
    for (auto& n : nodes_) args.push_back(n->address());
    args.insert(args.end(), {"--cluster-replicas", "0", "--cluster-yes"});
    if (run_command(args, "", std::chrono::seconds(30)).exit_code != 0) return;
    started_ = wait_state_ok(std::chrono::seconds(20));
  }

  bool started() const { return started_; }
  RedisProcess& node(int i) { return *nodes_[i]; }
  std::vector<std::string> addresses() const {
    std::vector<std::string> out;
    for (auto& n : nodes_) out.push_back(n->address());
    return out;
  }
  std::string node_id(int i) { return nodes_[i]->cli_out({"CLUSTER", "MYID"}); }
  // The master serving `slot`, by index; -1 when unknown.
  int owner_of(std::uint16_t slot) {
    // CLUSTER NODES lines: <id> <ip:port@bus> <flags> ... <slot ranges...>
    std::istringstream lines(nodes_[0]->cli_out({"CLUSTER", "NODES"}));
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream f(line);
      std::vector<std::string> w;
      for (std::string t; f >> t;) w.push_back(t);
      for (std::size_t k = 8; k < w.size(); ++k) {
        if (w[k].front() == '[') continue;  // a migration marker
        std::size_t dash = w[k].find('-');
        int lo = std::stoi(w[k].substr(0, dash));
        int hi = dash == std::string::npos ? lo : std::stoi(w[k].substr(dash + 1));
        if (slot >= lo && slot <= hi) return index_of_address(w[1].substr(0, w[1].find('@')));
      }
    }
    return -1;
  }

  // The steps of moving `slot` from master `from` to master `to` by hand, as redis-cli
  // --cluster reshard does them.
  bool begin_migration(std::uint16_t slot, int from, int to) {
    std::string s = std::to_string(slot);
    return nodes_[to]->cli_out({"CLUSTER", "SETSLOT", s, "IMPORTING", node_id(from)}) == "OK" &&
           nodes_[from]->cli_out({"CLUSTER", "SETSLOT", s, "MIGRATING", node_id(to)}) == "OK";
  }
  // MIGRATEs up to `count` keys of `slot` from `from` to `to`; returns how many moved.
  int migrate_keys(std::uint16_t slot, int from, int to, int count) {
    std::istringstream keys(nodes_[from]->cli_out(
        {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), std::to_string(count)}));
    std::vector<std::string> args = {"MIGRATE", "127.0.0.1", std::to_string(nodes_[to]->port()),
                                     "", "0", "5000", "KEYS"};
    int n = 0;
    for (std::string k; std::getline(keys, k);) {
      if (k.empty()) continue;
      args.push_back(k);
      ++n;
    }
    if (n == 0) return 0;
    return nodes_[from]->cli_out(args) == "OK" ? n : -1;
  }
  // SETSLOT <slot> NODE <to> on every master, ending the migration: the destination first, then
  // the source, then the others, as the specification advises (the other order lets the two
  // bounce a client between them with MOVED until both are told).
  bool finish_migration(std::uint16_t slot, int from, int to) {
    std::string id = node_id(to);
    std::vector<int> order = {to, from};
    for (int i = 0; i < kMasters; ++i) {
      if (i != to && i != from) order.push_back(i);
    }
    bool ok = true;
    for (int i : order) {
      ok = nodes_[i]->cli_out({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", id}) == "OK" && ok;
    }
    return ok;
  }

 private:
  int index_of_address(const std::string& addr) const {
    for (int i = 0; i < kMasters; ++i) {
      if (nodes_[i]->address() == addr) return i;
    }
    return -1;
  }
  bool wait_state_ok(std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (auto& n : nodes_) {
        all = all && n->cli_out({"CLUSTER", "INFO"}).find("cluster_state:ok") != std::string::npos;
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::vector<std::unique_ptr<RedisProcess>> nodes_;
  bool started_ = false;
};

}  // namespace kvtier::testing
