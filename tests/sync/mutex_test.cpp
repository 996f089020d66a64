// src/sync: MutexLock, MutexUnlock and a condition-variable wait, run by real threads. This file
// is also the probe of scripts/check-thread-safety.sh, which compiles it with clang's analysis:
// as it is it must compile, and with -DVIOLATE (a guarded write without the lock) or
// -DVIOLATE_UNLOCKED (one inside a MutexUnlock) it must not.
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
  }

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
  int count_ KVTIER_GUARDED_BY(mu_) = 0;
};

TEST(SyncMutex, AWaiterWakesAndMutexUnlockLetsGo) {
  Counter c;
  std::thread waiter([&] { c.wait_then_add_twice(); });
  c.add();
  waiter.join();
  EXPECT_EQ(c.count(), 3);
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
