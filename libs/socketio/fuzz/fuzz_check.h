// Invariant check for fuzz harnesses: aborts (a crash the fuzzer reports) when `cond` is false.
#pragma once

#include <cstdio>
#include <cstdlib>

#define SB_FUZZ_CHECK(cond)                                                   \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                           \
    }                                                                         \
  } while (false)
