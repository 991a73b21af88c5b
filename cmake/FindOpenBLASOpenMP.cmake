# BLAS/CBLAS through CMake's FindBLAS, asking for OpenBLAS and preferring
# Debian's OpenMP variant (libopenblas-openmp-dev): its BLAS threads are
# shardml's OpenMP threads, one pool instead of two that fight over the
# cores. The pthread variant is accepted with a warning.
set(BLA_VENDOR OpenBLAS)
foreach(_dir /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/aarch64-linux-gnu/openblas-openmp)
  if(EXISTS ${_dir})
    list(PREPEND CMAKE_LIBRARY_PATH ${_dir}) # searched before the system directories
  endif()
endforeach()
find_package(BLAS)
if(NOT BLAS_FOUND)
  message(FATAL_ERROR "OpenBLAS not found. On Debian 12: apt-get install libopenblas-openmp-dev")
endif()
list(GET BLAS_LIBRARIES 0 OPENBLAS_LIBRARY)
get_filename_component(_blas_dir ${OPENBLAS_LIBRARY} DIRECTORY)
string(REPLACE "/lib/" "/include/" _blas_include_hint ${_blas_dir})
find_path(OPENBLAS_INCLUDE_DIR cblas.h
          HINTS ${_blas_include_hint} /usr/include/x86_64-linux-gnu/openblas-openmp
                /usr/include/aarch64-linux-gnu/openblas-openmp /usr/include/openblas)
if(NOT OPENBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "cblas.h not found. On Debian 12: apt-get install libopenblas-openmp-dev")
endif()
get_filename_component(_blas_real ${OPENBLAS_LIBRARY} REALPATH)
if(NOT _blas_real MATCHES "openmp")
  message(WARNING "Using ${_blas_real}, which may be the pthread OpenBLAS: its threads will "
                  "compete with shardml's OpenMP threads. Prefer libopenblas-openmp-dev.")
endif()
message(STATUS "OpenBLAS: ${OPENBLAS_LIBRARY} (${_blas_real}), headers ${OPENBLAS_INCLUDE_DIR}")
