// Where kvtierd keeps its state and socket, through the real process (issue 25, item 6): the data
// directory is created 0700 whatever the umask and refused when others can reach it (under umask
// 000 a local user replaced the socket in it and captured a client's token); a socket a group may
// use (server.unix_socket_group) lives outside it, in a directory only the daemon's user writes.
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kvtier/client.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

namespace kvtier::testing::daemon_private_dir_test {

mode_t mode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 07777;
}

// Sets this process's umask for the life of the object (a daemon started meanwhile inherits it).
class Umask {
 public:
  explicit Umask(mode_t m) : saved_(::umask(m)) {}
  ~Umask() { ::umask(saved_); }
  Umask(const Umask&) = delete;
  Umask& operator=(const Umask&) = delete;

 private:
  mode_t saved_;
};

bool pings(const std::string& address) {
  ClientOptions o;
  o.address = address;
  o.timeout = std::chrono::milliseconds(2000);
  auto c = Client::connect(o);
  return c.ok() && (*c)->ping().ok();
}

TEST(DaemonPrivateDir, ADataDirOthersCanReachIsRefusedWithTheFix) {
  TempDir dir;
  for (mode_t mode : {0755u, 0750u, 0701u, 0777u}) {
    ASSERT_EQ(::chmod(dir.path().c_str(), mode), 0);
    DaemonProcess d(dir.path(), small_daemon_config());
    EXPECT_FALSE(d.started());
    EXPECT_EQ(d.exit_status_code(), 1) << d.log();
    EXPECT_NE(d.log().find("chmod 700 " + dir.path()), std::string::npos) << d.log();
    EXPECT_FALSE(std::filesystem::exists(dir.file("kvtierd.sock"))) << "nothing was created in it";
  }
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
  DaemonProcess d(dir.path(), small_daemon_config());
  EXPECT_TRUE(d.started()) << d.log();
}

// Under umask 000 the data directory the daemon creates is still 0700.
TEST(DaemonPrivateDir, ADataDirTheDaemonCreatesIs0700WhateverTheUmask) {
  TempDir dir;
  const std::string config = dir.file("kvtierd.toml");
  std::ofstream(config) << small_daemon_config();
  const std::string data = dir.file("var/kvtier");
  pid_t pid = -1;
  {
    Umask open(0);
    pid = ::fork();
    if (pid == 0) {
      std::FILE* f = std::freopen(dir.file("log").c_str(), "a", stderr);
      (void)f;
      ::execl(KVTIER_BINARY, KVTIER_BINARY, "serve", "--config", config.c_str(), "--data-dir",
              data.c_str(), "--tcp-listen", "off", "--metrics-listen", "off", nullptr);
      ::_exit(127);
    }
  }
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(poll_until([&] { return std::filesystem::exists(data + "/kvtierd.ready"); },
                         std::chrono::seconds(30)));
  EXPECT_EQ(mode_of(data), 0700u);
  EXPECT_EQ(mode_of(data + "/kvtierd.sock") & 0007, 0u) << "others have no access to the socket";
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// server.unix_socket_group: the socket is in that group (0660) in a directory made 0750 for it;
// a socket inside the 0700 data directory cannot be reached by a group and is refused; so is a
// directory others may write (they could replace the socket).
TEST(DaemonPrivateDir, ASocketGroupPutsTheSocketWhereTheGroupCanReachIt) {
  TempDir dir;
  const gid_t gid = ::getegid();
  const std::string group = "unix_socket_group = \"" + std::to_string(gid) + "\"\n";
  {
    DaemonProcess inside(dir.path(), small_daemon_config("[server]\n" + group));
    EXPECT_FALSE(inside.started());
    EXPECT_NE(inside.log().find("cannot reach a socket inside the data directory"),
              std::string::npos)
        << inside.log();
  }
  TempDir run_parent;
  const std::string run = run_parent.file("run");
  const std::string socket = run + "/kvtierd.sock";
  {
    DaemonProcess d(dir.path(), small_daemon_config("[server]\n" + group + "unix_socket = \"" +
                                                    socket + "\"\n"));
    ASSERT_TRUE(d.started()) << d.log();
    EXPECT_EQ(mode_of(run), 0750u);
    EXPECT_EQ(mode_of(socket), 0660u);
    struct stat st {};
    ASSERT_EQ(::stat(socket.c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, gid);
    EXPECT_TRUE(pings("unix:" + socket));
  }
  ASSERT_EQ(::chmod(run.c_str(), 0777), 0);
  DaemonProcess open_dir(dir.path(), small_daemon_config("[server]\nunix_socket = \"" + socket +
                                                         "\"\n"));
  EXPECT_FALSE(open_dir.started());
  EXPECT_NE(open_dir.log().find("could put their own socket"), std::string::npos)
      << open_dir.log();
  // Sticky, as /tmp: others cannot remove the daemon's socket, but can bind the path first.
  ASSERT_EQ(::chmod(run.c_str(), 01777), 0);
  DaemonProcess sticky(dir.path(), small_daemon_config("[server]\nunix_socket = \"" + socket +
                                                       "\"\n"));
  EXPECT_FALSE(sticky.started());
  ASSERT_EQ(::chmod(run.c_str(), 0755), 0);
  DaemonProcess mine(dir.path(), small_daemon_config("[server]\nunix_socket = \"" + socket +
                                                     "\"\n"));
  EXPECT_TRUE(mine.started()) << mine.log();
}

TEST(DaemonPrivateDir, AnUnknownSocketGroupIsRefused) {
  TempDir dir;
  TempDir run;
  DaemonProcess d(dir.path(),
                  small_daemon_config("[server]\nunix_socket_group = \"no-such-group-kvtier\"\n"
                                      "unix_socket = \"" + run.file("kvtierd.sock") + "\"\n"));
  EXPECT_FALSE(d.started());
  EXPECT_NE(d.log().find("no such group"), std::string::npos) << d.log();
}

}  // namespace kvtier::testing::daemon_private_dir_test
