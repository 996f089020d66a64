// Runs a program to completion for tests (the kvtier binary, headless Chromium):
// stdout and stderr collected, killed at a deadline so a hung child fails the test instead of
// hanging it.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace kvtier::testing {

// Waits for the forked child `pid`: its exit code, 128 + N when signal N ended it, -1 otherwise.
inline int child_exit_code(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

namespace detail {
// Forks; the child runs `fn`, writes the text it returns to a pipe and closes it, then exits 0 or,
// with `kill_after_answer`, waits to be killed. The parent reads the text to the pipe's end.
template <typename Fn>
std::string run_child(Fn fn, bool kill_after_answer) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const std::string text = fn();
    (void)!::write(fds[1], text.data(), text.size());
    ::close(fds[1]);  // the parent's read ends here
    if (!kill_after_answer) ::_exit(0);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  std::string text;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  if (kill_after_answer) {
    // Still there (waiting) means it answered; gone already means it died before.
    const bool answered = ::waitpid(pid, &status, WNOHANG) == 0;
    ::kill(pid, SIGKILL);
    if (answered) ::waitpid(pid, &status, 0);
    return answered ? text : "child failed";
  }
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child failed";
  return text;
}
}  // namespace detail

// Runs `fn` in a forked child (which may set its own resource limits) and returns the text it
// returned (the child's verdict for the parent to check), or "child failed" when it did not exit
// cleanly.
template <typename Fn>
std::string in_child(Fn fn) {
  return detail::run_child(fn, /*kill_after_answer=*/false);
}

// Runs `fn` in a forked child, takes the text it returns (its verdict: what it did before the
// crash), then kills the child with SIGKILL: the crash a test recovers from. What fn destroys as
// it returns is gone before the kill, so what must still be open at the crash (a store) goes in
// a variable of the caller's that fn assigns (the child's copy lives until the kill). Returns the
// text, or "child failed" when the child died before answering.
template <typename Fn>
std::string in_child_then_sigkill(Fn fn) {
  return detail::run_child(fn, /*kill_after_answer=*/true);
}

struct ProcessResult {
  int exit_code = -1;  // -1: killed at the deadline, or did not exit normally
  std::string out, err;
};

// Runs argv[0] (a path) with argv, for at most `timeout`. The child gets its own process group,
// so that a program that forks helpers (Chromium) is killed whole at the deadline.
inline ProcessResult run_process(std::vector<std::string> argv,
                                 std::chrono::seconds timeout = std::chrono::seconds(60)) {
  ProcessResult r;
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return r;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return r;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true, err_open = true, exited = false;
  int status = 0;
  char buf[65536];
  while ((out_open || err_open) && std::chrono::steady_clock::now() < deadline) {
    // A helper the program left behind may hold the pipes open: once the program itself has
    // exited, read what is left for at most two seconds.
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      deadline = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2));
    }
    pollfd fds[2] = {{out_open ? out_pipe[0] : -1, POLLIN, 0},
                     {err_open ? err_pipe[0] : -1, POLLIN, 0}};
    if (::poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        (i == 0 ? out_open : err_open) = false;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  // The pipes closed (or the deadline passed): wait for the exit until the deadline.
  while (!exited && std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
    } else {
      ::usleep(10000);
    }
  }
  ::kill(-pid, SIGKILL);  // the program if it is still running, and whatever it left behind
  if (!exited) ::waitpid(pid, &status, 0);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  if (exited && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

// The built `kvtier` with `args`.
inline ProcessResult run_kvtier(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {KVTIER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(std::move(argv));
}

}  // namespace kvtier::testing
