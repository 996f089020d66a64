// Lock annotations that clang's thread-safety analysis checks (-Wthread-safety; the
// KVTIER_THREAD_SAFETY build, mk/thread_safety.mk). Under gcc they expand to nothing: the
// annotations are then documentation the clang build keeps true.
//
//   KVTIER_GUARDED_BY(mu)    a member read or written only with `mu` held
//   KVTIER_REQUIRES(mu)      a function called with `mu` held (by the caller)
//   KVTIER_EXCLUDES(mu)      a function that takes `mu` itself, so its caller must not hold it
//   KVTIER_ACQUIRED_AFTER(mu) a lock order: this mutex is taken after `mu`, never before
//
// The rest (CAPABILITY, SCOPED_CAPABILITY, ACQUIRE, RELEASE) mark the lock types of mutex.h.
#pragma once

#if defined(__clang__)
#define KVTIER_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define KVTIER_THREAD_ANNOTATION(x)
#endif

#define KVTIER_CAPABILITY(x) KVTIER_THREAD_ANNOTATION(capability(x))
#define KVTIER_SCOPED_CAPABILITY KVTIER_THREAD_ANNOTATION(scoped_lockable)
#define KVTIER_GUARDED_BY(x) KVTIER_THREAD_ANNOTATION(guarded_by(x))
#define KVTIER_PT_GUARDED_BY(x) KVTIER_THREAD_ANNOTATION(pt_guarded_by(x))
#define KVTIER_ACQUIRED_AFTER(...) KVTIER_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define KVTIER_REQUIRES(...) KVTIER_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define KVTIER_REQUIRES_SHARED(...) \
  KVTIER_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define KVTIER_ACQUIRE(...) KVTIER_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define KVTIER_ACQUIRE_SHARED(...) KVTIER_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define KVTIER_RELEASE(...) KVTIER_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define KVTIER_RELEASE_SHARED(...) KVTIER_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define KVTIER_RELEASE_GENERIC(...) KVTIER_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define KVTIER_EXCLUDES(...) KVTIER_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define KVTIER_RETURN_CAPABILITY(x) KVTIER_THREAD_ANNOTATION(lock_returned(x))
#define KVTIER_NO_THREAD_SAFETY_ANALYSIS KVTIER_THREAD_ANNOTATION(no_thread_safety_analysis)
