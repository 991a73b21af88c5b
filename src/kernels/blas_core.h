/* Making Debian's OpenBLAS run the kernels this CPU supports.
 *
 * OpenBLAS (DYNAMIC_ARCH) picks its kernels once, when the library loads.
 * Debian 12's 0.3.21 does not recognise recent Xeons and falls back to the
 * SSE3 "Prescott" kernels, 5x slower for sgemm, unless OPENBLAS_CORETYPE is
 * set in the environment before the process starts. So shardml checks the
 * choice at start-up, before MPI_Init, and if it is weaker than the CPU
 * allows, sets the variable and re-executes itself. */
#ifndef SHARDML_BLAS_CORE_H
#define SHARDML_BLAS_CORE_H

#include "shardml/error.h"

/* Opt-out: SHARDML_BLAS_AUTOCORE=0 keeps whatever OpenBLAS chose. */
#define SML_BLAS_AUTOCORE_ENV "SHARDML_BLAS_AUTOCORE"
/* Set by shardml on re-exec to the core OpenBLAS had first chosen. */
#define SML_BLAS_REEXEC_ENV "SHARDML_BLAS_REEXEC_FROM"

/* Call first thing in main(). Returns only when no re-exec is needed (or
 * exec failed, in which case shardml carries on with the slow kernels). */
void sml_blas_core_fix(int argc, char **argv);

/* A forced OPENBLAS_CORETYPE whose kernels need instructions this CPU lacks
 * (an environment copied from another node, an emulator): OpenBLAS would
 * run them and die of an illegal instruction at the first product. Returns
 * SML_EINPUT naming the variable and both levels; SML_OK otherwise, and
 * where the linked CBLAS is not OpenBLAS. Local: the caller agrees on it. */
int sml_blas_core_check(sml_err *err);

/* The kernel set OpenBLAS is running ("SkylakeX", "Haswell", "Prescott"...),
 * or NULL when the CBLAS linked is not OpenBLAS. */
const char *sml_blas_core_name(void);
/* Which CBLAS is linked: "OpenBLAS 0.3.21", "BLIS", "MKL" or "CBLAS". */
const char *sml_blas_vendor(void);
/* The vendor and, for OpenBLAS, its kernel set: "OpenBLAS 0.3.21 core Zen". */
const char *sml_blas_summary(void);
/* The file it was loaded from (resolved path), "linked statically" if none. */
const char *sml_blas_library(void);
/* The best OPENBLAS_CORETYPE this CPU and OS support, or NULL if unknown. */
const char *sml_cpu_best_core(void);
/* Relative strength of a core name: 1 SSE, 2 AVX, 3 AVX2, 4 AVX-512;
 * 0 for a name shardml does not know (never triggers a re-exec). */
int sml_blas_core_level(const char *core);
/* "sse", "avx", "avx2", "avx512" for levels 1-4, else "unknown". */
const char *sml_blas_level_name(int level);
/* If this process was re-executed by sml_blas_core_fix, a one-line notice
 * (to print on rank 0), else NULL. */
const char *sml_blas_core_notice(void);

#endif
