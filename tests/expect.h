/* The tests' assertion: counts a failure and says where and why, then
 * carries on, so one run reports every failing check. */
#ifndef SHARDML_TESTS_EXPECT_H
#define SHARDML_TESTS_EXPECT_H

#include <stdio.h>

static int failures = 0;
#define EXPECT(cond, ...)                                             \
  do {                                                                \
    if (!(cond)) {                                                    \
      failures++;                                                     \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                   \
      fprintf(stderr, "\n");                                          \
    }                                                                 \
  } while (0)

#endif
