/* Choosing the kernel set for the CPU (see shardml/kernels.h). */
#include "shardml/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

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

/* Does the CPU (and the OS, which must save the wide registers) run it?
 * __builtin_cpu_supports checks both. The AVX-512 set is compiled with
 * F, BW, VL and DQ; the AVX2 set with AVX2 and FMA. */
static int cpu_runs(sml_isa isa) {
  switch (isa) {
    case SML_ISA_GENERIC:
      return 1;
#if defined(__x86_64__)
    case SML_ISA_AVX2:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SML_ISA_AVX512:
      __builtin_cpu_init();
      return cpu_runs(SML_ISA_AVX2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
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

/* ------------------------------------------------------------ CPU model */

static void trim(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t')) s[--n] = '\0';
  size_t lead = strspn(s, " \t");
  memmove(s, s + lead, n - lead + 1);
}

const char *sml_cpu_model(void) {
  static char model[128];
  if (model[0]) return model;
#if defined(__x86_64__)
  /* The brand string, leaves 0x80000002..4, as lscpu shows it. */
  unsigned regs[12];
  if (__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
    for (unsigned leaf = 0; leaf < 3; leaf++)
      __get_cpuid(0x80000002u + leaf, &regs[4 * leaf], &regs[4 * leaf + 1], &regs[4 * leaf + 2], &regs[4 * leaf + 3]);
    memcpy(model, regs, 48);
    model[48] = '\0';
    trim(model);
  }
#endif
  if (!model[0]) { /* other architectures: the kernel's description */
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
      if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0) {
        const char *colon = strchr(line, ':');
        if (colon) snprintf(model, sizeof model, "%s", colon + 1);
        break;
      }
    if (f) fclose(f);
    trim(model);
  }
  if (!model[0]) snprintf(model, sizeof model, "unknown");
  return model;
}
