# Locate OpenBLAS, preferring Debian's OpenMP variant (libopenblas-openmp-dev):
# its BLAS threads are shardml's OpenMP threads, one pool instead of two that
# fight over the cores. The pthread variant is accepted with a warning.
set(_sml_blas_hints /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/aarch64-linux-gnu/openblas-openmp)
find_library(OPENBLAS_LIBRARY NAMES openblas HINTS ${_sml_blas_hints} NO_DEFAULT_PATH)
if(NOT OPENBLAS_LIBRARY)
  find_library(OPENBLAS_LIBRARY NAMES openblas openblaso)
endif()
find_path(OPENBLAS_INCLUDE_DIR cblas.h
          HINTS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/aarch64-linux-gnu/openblas-openmp
                /usr/include/openblas)
if(NOT OPENBLAS_LIBRARY OR NOT OPENBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "OpenBLAS (CBLAS) not found. On Debian 12: apt-get install libopenblas-openmp-dev")
endif()
if(NOT OPENBLAS_LIBRARY MATCHES "openmp")
  message(WARNING "Using ${OPENBLAS_LIBRARY}, which may be the pthread OpenBLAS: its threads will "
                  "compete with shardml's OpenMP threads. Prefer libopenblas-openmp-dev.")
endif()
message(STATUS "OpenBLAS: ${OPENBLAS_LIBRARY} (headers ${OPENBLAS_INCLUDE_DIR})")
