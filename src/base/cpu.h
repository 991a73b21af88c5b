/* What this CPU runs: the one place shardml asks the processor (and the
 * OS, which must save the wide registers). The kernel dispatch and the
 * OpenBLAS core check both decide from these answers. */
#ifndef SHARDML_CPU_H
#define SHARDML_CPU_H

#include <stddef.h>

/* Instruction-set features, as bits of sml_cpu_features(). */
enum {
  SML_CPU_AVX = 1 << 0,
  SML_CPU_AVX2_FMA = 1 << 1, /* AVX2 and FMA */
  SML_CPU_AVX512 = 1 << 2,   /* AVX-512 F, BW, VL and DQ (what the avx512 kernels use) */
  SML_CPU_AVX512CD = 1 << 3  /* and CD (what OpenBLAS's SkylakeX kernels also need) */
};
/* The features this CPU and OS support (0 on other architectures). */
unsigned sml_cpu_features(void);
/* The CPU's model name as lscpu shows it ("AMD EPYC 9V45 96-Core
 * Processor"), or the kernel's description on other architectures. */
const char *sml_cpu_model(void);
/* The CPUs this process may run on, as ranges ("0-3,8"), written into
 * buf[len]; returns how many (0 where the OS does not say). */
int sml_cpu_binding(char *buf, size_t len);

#endif
