/* The tests' assertion: counts a failure and says where and why, then
 * carries on, so one run reports every failing check. */
#ifndef SHARDML_TESTS_EXPECT_H
#define SHARDML_TESTS_EXPECT_H

#include <stdio.h>
#include <stdlib.h>

#include "shardml/kernels.h"

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

/* The kernel level as shardml chooses it (SHARDML_ISA caps it), so that a
 * capped run of the suite tests the capped level. */
static inline void tests_select_kernels(const char *prog) {
  sml_err err;
  if (sml_kernels_init(&err) != 0) {
    fprintf(stderr, "%s: %s\n", prog, err.msg);
    exit(2);
  }
  if (getenv(SML_ISA_ENV)) fprintf(stderr, "%s: kernel level %s\n", prog, sml_kernels_active()->name);
}

#endif
