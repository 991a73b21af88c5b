/* What this CPU runs (see base/cpu.h). */
#define _GNU_SOURCE /* sched_getaffinity */
#include "base/cpu.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

unsigned sml_cpu_features(void) {
  unsigned f = 0;
#if defined(__x86_64__)
  /* __builtin_cpu_supports also checks that the OS saves the wide registers. */
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx")) f |= SML_CPU_AVX;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) f |= SML_CPU_AVX2_FMA;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    f |= SML_CPU_AVX512;
  if ((f & SML_CPU_AVX512) && __builtin_cpu_supports("avx512cd")) f |= SML_CPU_AVX512CD;
#endif
  return f;
}

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

int sml_cpu_binding(char *buf, size_t len) {
  cpu_set_t set;
  if (len) buf[0] = '\0';
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    snprintf(buf, len, "unknown");
    return 0;
  }
  size_t at = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && at < len; cpu++) {
    if (!CPU_ISSET(cpu, &set)) continue;
    int last = cpu;
    while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set)) last++;
    int n = last > cpu ? snprintf(buf + at, len - at, "%s%d-%d", at ? "," : "", cpu, last)
                       : snprintf(buf + at, len - at, "%s%d", at ? "," : "", cpu);
    if (n > 0) at += (size_t)n;
    cpu = last;
  }
  if (at >= len && len > 4) snprintf(buf + len - 4, 4, "..."); /* cut, and said so */
  return CPU_COUNT(&set);
}
