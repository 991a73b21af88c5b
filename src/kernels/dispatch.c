/* Choosing the kernel set for the CPU (see kernels/kernels.h). */
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cpu.h"

/* One table per level this build compiled (CMake defines SML_HAVE_X86_LEVELS
 * when it built the AVX2 and AVX-512 copies of kernels_level.c). */
extern const sml_kernels sml_kernels_generic;
#ifdef SML_HAVE_X86_LEVELS
extern const sml_kernels sml_kernels_avx2;
extern const sml_kernels sml_kernels_avx512;
#endif

static const char *const isa_names[SML_ISA_COUNT] = {"generic", "avx2", "avx512"};

const char *sml_isa_name(sml_isa isa) { return isa >= 0 && isa < SML_ISA_COUNT ? isa_names[isa] : "unknown"; }

int sml_isa_parse(const char *s, sml_isa *isa) {
  for (int i = 0; i < SML_ISA_COUNT; i++)
    if (strcasecmp(s, isa_names[i]) == 0) {
      *isa = (sml_isa)i;
      return 0;
    }
  return -1;
}

/* Does the CPU run it? The AVX-512 set is compiled with F, BW, VL and DQ;
 * the AVX2 set with AVX2 and FMA. */
static int cpu_runs(sml_isa isa) {
  unsigned f = sml_cpu_features();
  switch (isa) {
    case SML_ISA_GENERIC:
      return 1;
    case SML_ISA_AVX2:
      return (f & SML_CPU_AVX2_FMA) != 0;
    case SML_ISA_AVX512:
      return (f & SML_CPU_AVX2_FMA) && (f & SML_CPU_AVX512);
    default:
      return 0;
  }
}

static const sml_kernels *built(sml_isa isa) {
  switch (isa) {
    case SML_ISA_GENERIC:
      return &sml_kernels_generic;
#ifdef SML_HAVE_X86_LEVELS
    case SML_ISA_AVX2:
      return &sml_kernels_avx2;
    case SML_ISA_AVX512:
      return &sml_kernels_avx512;
#endif
    default:
      return NULL;
  }
}

const sml_kernels *sml_kernels_for(sml_isa isa) { return cpu_runs(isa) ? built(isa) : NULL; }

sml_isa sml_isa_best(void) {
  sml_isa best = SML_ISA_GENERIC;
  for (int i = 0; i < SML_ISA_COUNT; i++)
    if (sml_kernels_for((sml_isa)i)) best = (sml_isa)i;
  return best;
}

/* The process-wide choice: written once at start-up (or on first use),
 * read by every kernel call. Relaxed atomics make a first use from several
 * threads at once harmless (they all store the same pointer). */
static const sml_kernels *active;

const sml_kernels *sml_kernels_active(void) {
  const sml_kernels *k = __atomic_load_n(&active, __ATOMIC_RELAXED);
  if (!k) {
    k = sml_kernels_for(sml_isa_best());
    __atomic_store_n(&active, k, __ATOMIC_RELAXED);
  }
  return k;
}

void sml_kernels_use(sml_isa isa) {
  const sml_kernels *k = sml_kernels_for(isa);
  if (k) __atomic_store_n(&active, k, __ATOMIC_RELAXED);
}

int sml_kernels_select(const char *cap, sml_err *err) {
  const sml_isa best = sml_isa_best();
  sml_isa want = best;
  if (cap && cap[0]) {
    if (sml_isa_parse(cap, &want) != 0)
      return sml_fail(err, SML_EINPUT, "%s=%s: unknown kernel level (generic, avx2, avx512)", SML_ISA_ENV, cap);
    if (!built(want))
      return sml_fail(err, SML_EINPUT, "%s=%s: this build has no %s kernels (not an x86-64 build); use %s", SML_ISA_ENV,
                      cap, cap, sml_isa_name(best));
    if (want > best)
      return sml_fail(err, SML_EINPUT, "%s=%s: this CPU (%s) does not support it; the best level here is %s",
                      SML_ISA_ENV, cap, sml_cpu_model(), sml_isa_name(best));
  }
  sml_kernels_use(want);
  return SML_OK;
}

int sml_kernels_init(sml_err *err) { return sml_kernels_select(getenv(SML_ISA_ENV), err); }
