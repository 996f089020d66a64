// src/sync: MutexLock, MutexUnlock and a condition-variable wait, run by real threads. This file
// is also the probe of scripts/check-thread-safety.sh, which compiles it with clang's analysis:
// as it is it must compile, and with -DVIOLATE (a guarded write without the lock),
// -DVIOLATE_UNLOCKED (one inside a MutexUnlock) or -DVIOLATE_WAIT (a wait on a mutex not held)
// it must not.
#include "sync/mutex.h"

#include <gtest/gtest.h>

#include <thread>

namespace kvtier::sync_test {
namespace {

class Counter {
 public:
  void add() {
#ifndef VIOLATE
    MutexLock lock(mu_);
#endif
    ++count_;
    cv_.notify_all();
    any_cv_.notify_all();
  }

  // The condition_variable_any form, in a function its caller calls locked.
  void wait_for_count(int n) KVTIER_REQUIRES(mu_) {
    while (count_ < n) wait(any_cv_, mu_);
  }
  int wait_for_count_locked(int n) {
    MutexLock lock(mu_);
    wait_for_count(n);
    return count_;
  }
#ifdef VIOLATE_WAIT
  void wait_unlocked() { wait(any_cv_, mu_); }
#endif

  // Waits for a first add(), then adds twice: once through add() while MutexUnlock has let go of
  // the mutex (add() would deadlock otherwise), once with it held again.
  void wait_then_add_twice() {
    MutexLock lock(mu_);
    cv_.wait(lock.native(), [&]() KVTIER_REQUIRES(mu_) { return count_ > 0; });
    {
      MutexUnlock unlocked(mu_);
#ifdef VIOLATE_UNLOCKED
      ++count_;
#endif
      add();
    }
    ++count_;
  }

  int count() {
    MutexLock lock(mu_);
    return count_;
  }

 private:
  Mutex mu_;
  std::condition_variable cv_;
  std::condition_variable_any any_cv_;
  int count_ KVTIER_GUARDED_BY(mu_) = 0;
};

TEST(SyncMutex, AWaiterWakesAndMutexUnlockLetsGo) {
  Counter c;
  std::thread waiter([&] { c.wait_then_add_twice(); });
  c.add();
  waiter.join();
  EXPECT_EQ(c.count(), 3);
}

TEST(SyncMutex, AWaitOnTheMutexItselfWakes) {
  Counter c;
  std::thread adder([&] {
    c.add();
    c.add();
  });
  EXPECT_GE(c.wait_for_count_locked(2), 2);
  adder.join();
}

TEST(SyncMutex, ReaderLocksShare) {
  SharedMutex mu;
  ReaderLock held(mu);
  // Would wait forever if readers excluded each other.
  std::thread other([&] { ReaderLock also(mu); });
  other.join();
}

}  // namespace
}  // namespace kvtier::sync_test
