// Azurite, Azure Storage's emulator (npm, installed by scripts/install-azurite.sh), as a real
// Azure Blob server on loopback for the tests: its blob service on a free port with a fresh data
// directory, the emulator's well-known account, a container made for the tests. Freeze it
// (SIGSTOP), stop it and start it again on the same port and data.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "objstore/azure_store.h"
#include "support/proc_stats.h"
#include "support/test_support.h"

#ifndef KVTIER_SOURCE_DIR
#error "KVTIER_SOURCE_DIR must be defined for the Azurite tests"
#endif

namespace kvtier::testing {

class Azurite {
 public:
  // Azurite's one built-in account and its published key (not a secret).
  static constexpr const char* kAccount = "devstoreaccount1";
  static constexpr const char* kKey =
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

  // $KVTIER_AZURITE, else where scripts/install-azurite.sh puts it.
  static std::string binary() {
    const char* env = std::getenv("KVTIER_AZURITE");
    return env && *env ? env : KVTIER_SOURCE_DIR "/build-tools/azurite/node_modules/.bin/azurite-blob";
  }

  // Starts on a random free port (tries several), then makes `container`. Check ready().
  explicit Azurite(std::string container) : container_(std::move(container)) {
    std::random_device rd;
    std::mt19937 rng(rd());
    std::uniform_int_distribution<int> pick(20000, 60000);
    for (int attempt = 0; attempt < 5 && !ready_; ++attempt) {
      port_ = static_cast<std::uint16_t>(pick(rng));
      ready_ = start() && make_container();
    }
  }
  ~Azurite() { kill(); }
  Azurite(const Azurite&) = delete;
  Azurite& operator=(const Azurite&) = delete;

  bool ready() const { return ready_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/" + kAccount; }
  const std::string& container() const { return container_; }
  pid_t pid() const { return pid_; }
  // What went wrong in starting it, and its own log.
  std::string log() const { return failures_ + read_text(dir_.file("azurite.log")); }

  objstore::AzureOptions options(std::string prefix = "") const {
    objstore::AzureOptions o;
    o.endpoint = endpoint();
    o.account = kAccount;
    o.container = container_;
    o.prefix = std::move(prefix);
    o.shared_key = kKey;
    return o;
  }

  bool pause() const { return freeze_process(pid_); }
  void resume() const { ::kill(pid_, SIGCONT); }
  // The server goes away: SIGTERM, then SIGKILL if it is still there after 10 s. Not SIGKILL
  // first: Azurite keeps its metadata (containers, committed block lists) in memory and saves it
  // every few seconds, so a SIGKILL loses what it had not saved, which Azure itself never does.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGTERM);
    if (!poll_until([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; }, std::chrono::seconds(10))) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  // Starts again on the same port and data directory; waits until it answers.
  bool start() {
    kill();
    std::vector<std::string> args = {binary(), "--blobHost", "127.0.0.1", "--blobPort",
                                     std::to_string(port_), "--location", dir_.file("data"),
                                     "--silent", "--disableTelemetry"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log_path = dir_.file("azurite.log");
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::close_range(3, ~0u, 0);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return wait_answering(std::chrono::seconds(30));
  }

 private:
  static std::string read_text(const std::string& path) {
    std::ifstream f(path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }

  // Until a listing of the account's containers is answered at all (any HTTP status).
  bool wait_answering(std::chrono::seconds limit) {
    auto store = objstore::AzureStore::open(options());
    if (!store.ok()) return false;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {  // exited: port taken, not installed, ...
        pid_ = -1;
        return false;
      }
      const Status s = (*store)->ping(std::chrono::steady_clock::now() + std::chrono::seconds(2));
      if (s.ok() || s.code() != StatusCode::kIOError) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill();
    return false;
  }

  bool make_container() {
    auto store = objstore::AzureStore::open(options());
    Status s = store.ok() ? (*store)->create_container(std::chrono::steady_clock::now() +
                                                       std::chrono::seconds(10))
                          : store.status();
    if (!s.ok()) failures_ += "creating the container: " + s.to_string() + "\n";
    return s.ok();
  }

  std::string container_;
  std::string failures_;
  TempDir dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool ready_ = false;
};

}  // namespace kvtier::testing
