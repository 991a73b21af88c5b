/* The tests' assertion: counts a failure and says where and why, then
 * carries on, so one run reports every failing check. */
#ifndef SHARDML_TESTS_EXPECT_H
#define SHARDML_TESTS_EXPECT_H

#include <stdio.h>
#include <stdlib.h>

#include "shardml/comm.h"
#include "kernels/kernels.h"

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

/* The launcher started as many ranks as the test asked for (SML_TEST_RANKS,
 * set by tests/CMakeLists.txt): another MPI's mpiexec starts N singletons,
 * each of which would pass on its own as "1 rank". */
static inline void tests_check_ranks(const char *prog) {
  const char *want = getenv("SML_TEST_RANKS");
  const sml_comm world = sml_comm_world();
  if (want && atoi(want) != world.size) {
    fprintf(stderr, "%s: started as %d rank(s) of %s: is MPIEXEC the launcher of the MPI it was built with?\n", prog,
            world.size, want);
    exit(1);
  }
}

#endif
