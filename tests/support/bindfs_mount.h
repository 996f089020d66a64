// FUSE mounts that a test can freeze, kill or make lose requests, each run in the foreground by a
// process the test owns:
// - BindfsMount: bindfs mirroring `source` at `mount`. SIGSTOP makes every access hang, as on a
//   dead NFS hard mount; SIGKILL makes every access fail (ENOTCONN), and a loop device backed by a
//   file there then fails every I/O with EIO. Needs /dev/fuse and bindfs.
// - StallingFuseMount: tests/support/stalling_fuse.c mirroring `source` at `mount`;
//   toggle_stall() makes it lose every stat of the mount's root from then on (the caller blocks
//   until the process dies), while every other call is answered; toggle_failing_reads() makes
//   every read fail with EIO until toggled back, toggle_failing_dir_syncs() every fsync of a
//   directory. Needs /dev/fuse and libfuse 3 at build.
// Packages: scripts/install-deps.sh.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "support/proc_stats.h"
#include "support/test_support.h"

namespace kvtier::testing {

class FuseMount {
 public:
  // Runs `program` with `args` (execvp) and waits until `mount` appears in /proc/self/mounts.
  FuseMount(const std::string& program, const std::vector<std::string>& args, const std::string& mount)
      : mount_(mount) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      if (null >= 0) {
        ::dup2(null, STDERR_FILENO);
        ::dup2(null, STDOUT_FILENO);
      }
      std::vector<char*> argv{const_cast<char*>(program.c_str())};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execvp(program.c_str(), argv.data());
      ::_exit(127);
    }
    mounted_ = poll_until([&] { return is_mounted(); }, std::chrono::seconds(10));
  }
  ~FuseMount() {
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
  FuseMount(const FuseMount&) = delete;
  FuseMount& operator=(const FuseMount&) = delete;

  bool mounted() const { return mounted_; }
  bool freeze() const { return freeze_process(pid_); }  // every thread stopped on return
  void thaw() const { ::kill(pid_, SIGCONT); }
  // The file system's process dies; the mount stays, and every access to it fails (a call
  // blocked in it returns ENOTCONN).
  void kill() {
    ::kill(pid_, SIGKILL);
    reap();
  }

 protected:
  pid_t pid() const { return pid_; }

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

class BindfsMount : public FuseMount {
 public:
  static bool available() {
    return ::access("/dev/fuse", R_OK | W_OK) == 0 && std::system("command -v bindfs >/dev/null") == 0;
  }
  BindfsMount(const std::string& source, const std::string& mount)
      : FuseMount("bindfs", {"-f", source, mount}, mount) {}
};

#ifdef KVTIER_STALLING_FUSE
class StallingFuseMount : public FuseMount {
 public:
  static bool available() { return ::access("/dev/fuse", R_OK | W_OK) == 0; }
  StallingFuseMount(const std::string& source, const std::string& mount)
      : FuseMount(KVTIER_STALLING_FUSE, {source, mount}, mount) {}
  // Toggles the loss of root stats (SIGUSR1); those lost while it was on stay lost.
  void toggle_stall() const { ::kill(pid(), SIGUSR1); }
  // Toggles EIO for every read (SIGUSR2).
  void toggle_failing_reads() const { ::kill(pid(), SIGUSR2); }
  // Toggles EIO for every fsync of a directory (SIGRTMIN).
  void toggle_failing_dir_syncs() const { ::kill(pid(), SIGRTMIN); }
};

// A StallingFuseMount of a fresh temporary directory at a fresh mount point (path()).
class TempStallingFuseMount {
 public:
  TempStallingFuseMount() : mount_point_(make_mount_point(mounts_)), fuse_(source_.path(), mount_point_) {}
  const std::string& path() const { return mount_point_; }
  const StallingFuseMount& fuse() const { return fuse_; }
  bool mounted() const { return fuse_.mounted(); }
  // Ends the lost calls (ENOTCONN) now, before the objects blocked in them go away.
  void kill() { fuse_.kill(); }

 private:
  static std::string make_mount_point(const TempDir& parent) {
    std::string p = parent.file("mnt");
    ::mkdir(p.c_str(), 0755);
    return p;
  }
  TempDir source_, mounts_;
  std::string mount_point_;
  StallingFuseMount fuse_;
};
#endif

}  // namespace kvtier::testing
