// EventLoop over a real pipe: readiness reaches the callback, interest changes take effect (and
// an unchanged one, which skips epoll_ctl, keeps what was registered), and an unknown fd is an
// error, not a crash.
#include "server/event_loop.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace kvtier::testing {
namespace {

using server::EventLoop;

TEST(EventLoop, ModifyTurnsReadinessOffAndOnAndSkipsNothingItShouldNot) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok()) << loop.status().to_string();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  int calls = 0;
  ASSERT_TRUE((*loop)->add(read_end.get(), EPOLLIN, [&](std::uint32_t) { ++calls; }).ok());
  ASSERT_EQ(::write(write_end.get(), "x", 1), 1);
  EXPECT_EQ((*loop)->run_once(std::chrono::milliseconds(0)), 1);
  EXPECT_EQ(calls, 1);
  // Level-triggered: still readable, but no longer of interest.
  ASSERT_TRUE((*loop)->modify(read_end.get(), 0).ok());
  ASSERT_TRUE((*loop)->modify(read_end.get(), 0).ok());  // unchanged: no syscall, still off
  EXPECT_EQ((*loop)->run_once(std::chrono::milliseconds(0)), 0);
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE((*loop)->modify(read_end.get(), EPOLLIN).ok());
  ASSERT_TRUE((*loop)->modify(read_end.get(), EPOLLIN).ok());
  EXPECT_EQ((*loop)->run_once(std::chrono::milliseconds(0)), 1);
  EXPECT_EQ(calls, 2);
  // Unknown and removed fds are refused.
  EXPECT_FALSE((*loop)->modify(write_end.get(), EPOLLIN).ok());
  (*loop)->remove(read_end.get());
  EXPECT_FALSE((*loop)->modify(read_end.get(), EPOLLIN).ok());
  EXPECT_EQ((*loop)->run_once(std::chrono::milliseconds(0)), 0);
}

}  // namespace
}  // namespace kvtier::testing
