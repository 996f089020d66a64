// Mutex, SharedMutex and their scoped locks: std::mutex and std::shared_mutex with the
// annotations clang's thread-safety analysis needs (libstdc++'s own types carry none), so a
// member declared KVTIER_GUARDED_BY(mu_) is checked to be used only under MutexLock(mu_).
//
// Waiting on a condition variable: cv_.wait(lock.native(), [&]() KVTIER_REQUIRES(mu_) {...})
// with `lock` a MutexLock, or, in a function that REQUIRES the mutex and has no lock of its own,
// wait(cv_, mu_) on a std::condition_variable_any. The wait releases and retakes the mutex
// inside the call, so to the analysis the mutex stays held, which is what the code after the
// wait may assume. The predicate says it runs with the mutex held: the analysis checks a lambda
// apart from the function that holds the lock.
//
// Thread-safety: these are the primitives; one MutexLock belongs to one thread.
#pragma once

#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "sync/thread_annotations.h"

namespace kvtier {

class KVTIER_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() KVTIER_ACQUIRE() { mu_.lock(); }
  void unlock() KVTIER_RELEASE() { mu_.unlock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds a Mutex for its scope. unlock() and lock() let a function let go of it around slow work
// (I/O, a callback) and take it back; the destructor releases it only if held.
class KVTIER_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) KVTIER_ACQUIRE(mu) : lock_(mu.mu_) {}
  ~MutexLock() KVTIER_RELEASE() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void unlock() KVTIER_RELEASE() { lock_.unlock(); }
  void lock() KVTIER_ACQUIRE() { lock_.lock(); }

  // For std::condition_variable's wait functions only (see the top of this file).
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

// Lets go of a Mutex the caller holds for its scope and takes it back at the end: slow work (I/O,
// a callback) inside a function that REQUIRES the mutex.
class KVTIER_SCOPED_CAPABILITY MutexUnlock {
 public:
  explicit MutexUnlock(Mutex& mu) KVTIER_RELEASE(mu) : mu_(mu) { mu_.unlock(); }
  ~MutexUnlock() KVTIER_RELEASE() { mu_.lock(); }
  MutexUnlock(const MutexUnlock&) = delete;
  MutexUnlock& operator=(const MutexUnlock&) = delete;

 private:
  Mutex& mu_;
};

// Waits on `cv` for a notification, letting go of `mu` meanwhile; `mu` is held again on return.
// The annotation makes the analysis check what condition_variable_any::wait(mu) cannot: that the
// caller holds `mu`.
inline void wait(std::condition_variable_any& cv, Mutex& mu) KVTIER_REQUIRES(mu) { cv.wait(mu); }

class KVTIER_CAPABILITY("shared mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() KVTIER_ACQUIRE() { mu_.lock(); }
  void unlock() KVTIER_RELEASE() { mu_.unlock(); }
  void lock_shared() KVTIER_ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() KVTIER_RELEASE_SHARED() { mu_.unlock_shared(); }

 private:
  std::shared_mutex mu_;
};

// Holds a SharedMutex exclusively for its scope.
class KVTIER_SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex& mu) KVTIER_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterLock() KVTIER_RELEASE() { mu_.unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex& mu_;
};

// Holds a SharedMutex shared for its scope.
class KVTIER_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(SharedMutex& mu) KVTIER_ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() KVTIER_RELEASE() { mu_.unlock_shared(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex& mu_;
};

}  // namespace kvtier
