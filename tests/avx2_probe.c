/* The baseline test's negative control: one AVX2 instruction, written out so
 * that no optimiser can turn it into scalar code. Under `qemu-x86_64 -cpu
 * Nehalem` it must die of an illegal instruction; if it does not, the
 * emulator would not catch shardml using AVX either. */
#include <stdio.h>

int main(void) {
  __asm__ volatile("vpaddd %%ymm0, %%ymm0, %%ymm0" ::: "xmm0");
  printf("AVX2 instruction executed\n");
  return 0;
}
