// A FUSE mount that a test can freeze or kill: bindfs in the foreground (so the test owns its
// pid) mirroring `source` at `mount`. SIGSTOP makes every access hang, as on a dead NFS hard
// mount; SIGKILL makes every access fail (ENOTCONN), and a loop device backed by a file there
// then fails every I/O with EIO. Needs /dev/fuse and bindfs (scripts/install-deps.sh).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include "support/test_support.h"

namespace kvtier::testing {

class BindfsMount {
 public:
  static bool available() {
    return ::access("/dev/fuse", R_OK | W_OK) == 0 && std::system("command -v bindfs >/dev/null") == 0;
  }

  BindfsMount(const std::string& source, const std::string& mount) : mount_(mount) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      if (null >= 0) {
        ::dup2(null, STDERR_FILENO);
        ::dup2(null, STDOUT_FILENO);
      }
      ::execlp("bindfs", "bindfs", "-f", source.c_str(), mount.c_str(), nullptr);
      ::_exit(127);
    }
    mounted_ = poll_until([&] { return is_mounted(); }, std::chrono::seconds(10));
  }
  ~BindfsMount() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGTERM);
      reap();
    }
    if (is_mounted()) {
      (void)std::system(("fusermount3 -u -z " + mount_ + " 2>/dev/null || fusermount -u -z " + mount_ +
                         " 2>/dev/null || umount -l " + mount_ + " 2>/dev/null")
                            .c_str());
    }
  }
  BindfsMount(const BindfsMount&) = delete;
  BindfsMount& operator=(const BindfsMount&) = delete;

  bool mounted() const { return mounted_; }
  void freeze() const { ::kill(pid_, SIGSTOP); }
  void thaw() const { ::kill(pid_, SIGCONT); }
  // The file system's process dies; the mount stays, and every access to it fails.
  void kill() {
    ::kill(pid_, SIGKILL);
    reap();
  }

 private:
  void reap() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  bool is_mounted() const {
    std::ifstream mounts("/proc/self/mounts");
    std::string line;
    while (std::getline(mounts, line)) {
      if (line.find(" " + mount_ + " ") != std::string::npos) return true;
    }
    return false;
  }
  std::string mount_;
  pid_t pid_ = -1;
  bool mounted_ = false;
};

}  // namespace kvtier::testing
