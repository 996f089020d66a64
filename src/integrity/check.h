// KVTIER_CHECK: an invariant check that stays on in release builds. A failure is a bug in kvtier,
// not bad input: it prints the condition and aborts rather than risk returning wrong bytes.
#pragma once

#include <cstdio>
#include <cstdlib>

#define KVTIER_CHECK(cond)                                                              \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "kvtier: invariant failed at %s:%d: %s\n", __FILE__, __LINE__, \
                   #cond);                                                              \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
