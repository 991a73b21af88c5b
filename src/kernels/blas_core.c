/* See kernels/blas_core.h for why this exists. */
#define _GNU_SOURCE /* dladdr */
#include "kernels/blas_core.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/cpu.h"
#include "shardml/signals.h"

/* OpenBLAS's x86-64 DYNAMIC_ARCH core names, by instruction-set level. */
static const struct {
  const char *name;
  int level;
} core_levels[] = {
    {"Prescott", 1},       {"Core2", 1},       {"Penryn", 1},        {"Dunnington", 1}, {"Nehalem", 1},
    {"Atom", 1},           {"Opteron", 1},     {"Opteron(SSE3)", 1}, {"Barcelona", 1},  {"Nano", 1},
    {"Bobcat", 1},         {"Katmai", 1},      {"Coppermine", 1},    {"Northwood", 1},  {"Banias", 1},
    {"Athlon", 1},         {"Sandybridge", 2}, {"Bulldozer", 2},     {"Piledriver", 2}, {"Haswell", 3},
    {"Steamroller", 3},    {"Excavator", 3},   {"Zen", 3},           {"SkylakeX", 4},   {"Cooperlake", 4},
    {"SapphireRapids", 4},
};

int sml_blas_core_level(const char *core) {
  if (!core) return 0;
  for (size_t i = 0; i < sizeof core_levels / sizeof core_levels[0]; i++)
    if (strcasecmp(core, core_levels[i].name) == 0) return core_levels[i].level;
  return 0;
}

const char *sml_blas_level_name(int level) {
  static const char *const names[] = {"unknown", "sse", "avx", "avx2", "avx512"};
  return level >= 1 && level <= 4 ? names[level] : names[0];
}

/* OpenBLAS's (and BLIS's) own calls are looked up at run time, so that shardml links
 * against any CBLAS (BLIS, MKL, the reference one) and the OpenBLAS kernel
 * check quietly does nothing where OpenBLAS is absent. */
typedef char *(*blas_string_fn)(void);

static const char *blas_string(const char *symbol) {
  blas_string_fn fn;
  void *address = dlsym(RTLD_DEFAULT, symbol);
  memcpy(&fn, &address, sizeof fn); /* ISO C has no object-to-function cast */
  return fn ? fn() : NULL;
}

const char *sml_blas_core_name(void) { return blas_string("openblas_get_corename"); }

const char *sml_blas_library(void) {
  static char path[PATH_MAX];
  Dl_info where;
  void *sgemm = dlsym(RTLD_DEFAULT, "cblas_sgemm");
  if (!sgemm || !dladdr(sgemm, &where) || !where.dli_fname) return "linked statically";
  if (!realpath(where.dli_fname, path)) snprintf(path, sizeof path, "%s", where.dli_fname);
  return path;
}

const char *sml_blas_vendor(void) {
  static char vendor[160];
  const char *config = blas_string("openblas_get_config"); /* "OpenBLAS 0.3.21 DYNAMIC_ARCH ..." */
  if (config) {
    snprintf(vendor, sizeof vendor, "%s", config);
    char *end = strchr(vendor, ' ');
    if (end && (end = strchr(end + 1, ' '))) *end = '\0'; /* name and version only */
    return vendor;
  }
  const char *blis = blas_string("bli_info_get_version_str"); /* the same shape of call: char *(void) */
  if (blis) {
    snprintf(vendor, sizeof vendor, "BLIS %s", blis);
    return vendor;
  }
  if (dlsym(RTLD_DEFAULT, "mkl_get_version_string")) return "MKL";
  const char *lib = sml_blas_library();
  if (strstr(lib, "blis")) return "BLIS";
  if (strstr(lib, "mkl")) return "MKL";
  return "CBLAS";
}

const char *sml_cpu_best_core(void) {
  unsigned f = sml_cpu_features();
  if ((f & SML_CPU_AVX512CD) && (f & SML_CPU_AVX2_FMA)) return "SkylakeX";
  if (f & SML_CPU_AVX2_FMA) return "Haswell";
  if (f & SML_CPU_AVX) return "Sandybridge";
  return NULL;
}

const char *sml_blas_summary(void) {
  static char summary[224];
  const char *core = sml_blas_core_name();
  if (core) snprintf(summary, sizeof summary, "%s core %s", sml_blas_vendor(), core);
  else snprintf(summary, sizeof summary, "%s", sml_blas_vendor());
  return summary;
}

int sml_blas_core_check(sml_err *err) {
#if defined(__x86_64__) || defined(__i386__)
  const char *forced = getenv("OPENBLAS_CORETYPE");
  const int forced_level = sml_blas_core_level(sml_blas_core_name());
  /* Every x86-64 CPU runs SSE; the best core names the level above that. */
  const char *best = sml_cpu_best_core();
  const int cpu_level = best ? sml_blas_core_level(best) : 1;
  if (forced && forced_level > cpu_level)
    return sml_fail(err, SML_EINPUT,
                    "OPENBLAS_CORETYPE=%s: its kernels need %s, this CPU runs %s at most (unset the variable, or "
                    "set it to a core of that level)",
                    forced, sml_blas_level_name(forced_level), sml_blas_level_name(cpu_level));
#else
  (void)err;
#endif
  return SML_OK;
}

static char notice[256];

const char *sml_blas_core_notice(void) { return notice[0] ? notice : NULL; }

void sml_blas_core_fix(int argc, char **argv) {
  (void)argc;
  const char *from = getenv(SML_BLAS_REEXEC_ENV);
  if (from) {
    snprintf(notice, sizeof notice,
             "OpenBLAS chose its %s kernels for this CPU; restarted with OPENBLAS_CORETYPE=%s "
             "(set %s=0 to keep OpenBLAS's choice)",
             from, sml_blas_core_name(), SML_BLAS_AUTOCORE_ENV);
    unsetenv(SML_BLAS_REEXEC_ENV); /* children we spawn start clean */
    return;
  }
  if (getenv("OPENBLAS_CORETYPE")) return; /* the user's choice stands */
  const char *optout = getenv(SML_BLAS_AUTOCORE_ENV);
  if (optout && strcmp(optout, "0") == 0) return;

  const char *best = sml_cpu_best_core();
  const char *current = sml_blas_core_name();
  int current_level = sml_blas_core_level(current);
  if (!best || current_level == 0 || current_level >= sml_blas_core_level(best)) return;

  /* exec keeps the PID and the environment, so an MPI launcher's wiring
   * (PMIx variables) survives; MPI_Init has not run yet. */
  setenv("OPENBLAS_CORETYPE", best, 1);
  setenv(SML_BLAS_REEXEC_ENV, current, 1);
  /* The resolved path, not /proc/self/exe itself, so that the process
   * keeps its name ("shardml", not "exe") in ps, top and pkill. */
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len > 0) {
    self[len] = '\0';
    sml_signals_hold(); /* a stop signal during the exec waits for the new image's handler */
    execv(self, argv);
    sml_signals_install();
  }
  /* exec failed: carry on with the slow kernels rather than not at all. */
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(SML_BLAS_REEXEC_ENV);
}
