# Shared preamble of the benchmark scripts (sourced, not run): Open MPI as
# root, where the run happens printed first (CPU model, shardml's kernel
# level, OpenBLAS's core), and one OpenBLAS core for shardml and every peer,
# so that ratios compare code, not BLAS kernels. SHARDML_ISA, if set, caps
# shardml's level as usual; set OPENBLAS_CORETYPE yourself to pin the BLAS.
# Sets B (the build directory, first argument) and CORE.
B=${1:-build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
bench_info=$(OMP_NUM_THREADS=1 "$B/shardml" info 2>/dev/null) || {
  echo "bench: '$B/shardml info' failed (build first; the default dataset is dataset-fashion-mnist)" >&2
  exit 2
}
CORE=$(sed -n 's/^blas *OpenBLAS core \([^,]*\),.*/\1/p' <<<"$bench_info")
export OPENBLAS_CORETYPE=$CORE
echo "== where: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs"
grep -E '^(cpu|kernels|blas) ' <<<"$bench_info" | sed 's/^/   /'
echo "   OPENBLAS_CORETYPE=$CORE for shardml and every peer"
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
