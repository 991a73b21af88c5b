# Any CBLAS, through CMake's FindBLAS.
#   default                      OpenBLAS, Debian's OpenMP build preferred
#                                (libopenblas-openmp-dev): its BLAS threads are
#                                shardml's OpenMP threads, one pool, not two
#                                fighting over the cores
#   -DBLA_VENDOR=FLAME           BLIS (libblis-openmp-dev); any FindBLAS vendor
#                                name works: Intel10_64lp (MKL), Generic, ...
#   -DBLAS_LIBRARIES=/path/libblas.so   exactly this library
# Sets SML_BLAS_INCLUDE_DIR (where cblas.h is) and SML_BLAS_HINT_DIR (the
# directory searched first, recorded for the installed package's config).
include(CheckSymbolExists)
set(SML_BLAS_HINT_DIR "")
if(NOT DEFINED BLA_VENDOR AND "$ENV{BLA_VENDOR}" STREQUAL "" AND NOT BLAS_LIBRARIES)
  set(BLA_VENDOR OpenBLAS)
  foreach(_dir /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp)
    if(EXISTS ${_dir})
      set(SML_BLAS_HINT_DIR ${_dir})
      list(PREPEND CMAKE_LIBRARY_PATH ${_dir}) # searched before the system directories
    endif()
  endforeach()
endif()
find_package(BLAS)
if(NOT BLAS_FOUND)
  message(FATAL_ERROR "No BLAS found (BLA_VENDOR=${BLA_VENDOR}). On Debian 12: apt-get install "
                      "libopenblas-openmp-dev (jobs/setup-debian.sh does it); for BLIS, libblis-openmp-dev "
                      "and -DBLA_VENDOR=FLAME; or name the library with -DBLAS_LIBRARIES=...")
endif()

# cblas.h: next to the library first (Debian keeps one per variant, e.g.
# lib/x86_64-linux-gnu/blis-openmp -> include/x86_64-linux-gnu/blis-openmp).
list(GET BLAS_LIBRARIES 0 _sml_blas_first)
get_filename_component(_sml_blas_real ${_sml_blas_first} REALPATH)
set(_sml_blas_hints "")
foreach(_lib ${_sml_blas_real} ${_sml_blas_first})
  get_filename_component(_dir ${_lib} DIRECTORY)
  string(REPLACE "/lib/" "/include/" _dir ${_dir})
  list(APPEND _sml_blas_hints ${_dir} ${_dir}/..)
endforeach()
find_path(SML_BLAS_INCLUDE_DIR cblas.h HINTS ${_sml_blas_hints}
          PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp /usr/include/openblas
          PATH_SUFFIXES openblas blis)
if(NOT SML_BLAS_INCLUDE_DIR)
  message(FATAL_ERROR "cblas.h not found for ${BLAS_LIBRARIES}. On Debian 12: apt-get install "
                      "libopenblas-openmp-dev, or pass -DSML_BLAS_INCLUDE_DIR=<directory of cblas.h>")
endif()

# The C interface: in the BLAS library itself (OpenBLAS, BLIS, MKL, Debian's
# reference libblas) or in a separate libcblas (some reference builds).
set(CMAKE_REQUIRED_LIBRARIES ${BLAS_LIBRARIES} m)
set(CMAKE_REQUIRED_INCLUDES ${SML_BLAS_INCLUDE_DIR})
check_symbol_exists(cblas_sgemm cblas.h SML_BLAS_HAS_CBLAS)
if(NOT SML_BLAS_HAS_CBLAS)
  find_library(SML_CBLAS_LIBRARY cblas HINTS ${_sml_blas_hints})
  if(NOT SML_CBLAS_LIBRARY)
    message(FATAL_ERROR "${BLAS_LIBRARIES} has no CBLAS (cblas_sgemm) and no libcblas was found")
  endif()
  set_property(TARGET BLAS::BLAS APPEND PROPERTY INTERFACE_LINK_LIBRARIES ${SML_CBLAS_LIBRARY})
endif()
unset(CMAKE_REQUIRED_LIBRARIES)
unset(CMAKE_REQUIRED_INCLUDES)

if(BLA_VENDOR STREQUAL "OpenBLAS" AND NOT _sml_blas_real MATCHES "openmp")
  message(WARNING "Using ${_sml_blas_real}, which may be the pthread OpenBLAS: its threads will "
                  "compete with shardml's OpenMP threads. Prefer libopenblas-openmp-dev.")
endif()
message(STATUS "BLAS: ${BLAS_LIBRARIES} (${_sml_blas_real}), cblas.h in ${SML_BLAS_INCLUDE_DIR}")
