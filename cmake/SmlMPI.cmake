# MPI and the parallel HDF5 built for it, with the launcher that belongs to
# that MPI. Open MPI is the default; another MPI is chosen the usual way:
#   -DMPI_C_COMPILER=mpicc.mpich        (Debian: libmpich-dev, libhdf5-mpich-dev)
# and its mpiexec and h5pcc are then looked up next to that compiler, because
# the unsuffixed names (Debian's alternatives, a module's PATH order) may
# belong to another MPI: Open MPI's mpiexec would start N singletons of an
# MPICH program, each believing it is rank 0 of 1.
# Sets SML_MPI_FAMILY (openmpi, mpich or other), SML_MPIEXEC_PREFLAGS (the
# launcher flags every test passes) and SML_HDF5_PACKAGE (for messages).
set(MPI_DETERMINE_LIBRARY_VERSION ON)
find_package(MPI REQUIRED COMPONENTS C)

# MPICH's derivatives (Intel MPI, Cray MPICH, MVAPICH) share its launcher syntax.
string(REGEX MATCH "Open MPI|MPICH|Intel\\(R\\) MPI|CRAY MPICH|MVAPICH" _sml_mpi_id
       "${MPI_C_LIBRARY_VERSION_STRING}")
if(_sml_mpi_id STREQUAL "Open MPI")
  set(SML_MPI_FAMILY openmpi)
elseif(_sml_mpi_id)
  set(SML_MPI_FAMILY mpich)
else()
  set(SML_MPI_FAMILY other)
endif()
# Debian's per-MPI names carry the compiler's suffix: mpicc.mpich, mpiexec.mpich, h5pcc.mpich.
find_program(_sml_mpicc_path "${MPI_C_COMPILER}") # a bare name (mpicc.mpich) is looked up on PATH
get_filename_component(_sml_mpicc_name "${_sml_mpicc_path}" NAME)
get_filename_component(_sml_mpicc_dir "${_sml_mpicc_path}" DIRECTORY)
string(REGEX MATCH "\\.[A-Za-z0-9_]+$" _sml_mpi_suffix "${_sml_mpicc_name}")

function(sml_launcher_family exe out)
  execute_process(COMMAND ${exe} --version OUTPUT_VARIABLE _v ERROR_VARIABLE _v TIMEOUT 20)
  if(_v MATCHES "Open MPI|OpenRTE")
    set(${out} openmpi PARENT_SCOPE)
  elseif(_v MATCHES "HYDRA|Intel\\(R\\) MPI")
    set(${out} mpich PARENT_SCOPE)
  else()
    set(${out} other PARENT_SCOPE)
  endif()
endfunction()
if(NOT SML_MPI_FAMILY STREQUAL "other")
  sml_launcher_family("${MPIEXEC_EXECUTABLE}" _sml_launcher)
  if(NOT _sml_launcher STREQUAL SML_MPI_FAMILY)
    unset(_sml_right_launcher CACHE)
    find_program(_sml_right_launcher NAMES mpiexec${_sml_mpi_suffix} mpiexec.${SML_MPI_FAMILY} mpiexec.hydra
                 HINTS ${_sml_mpicc_dir} NO_DEFAULT_PATH)
    if(_sml_right_launcher)
      sml_launcher_family("${_sml_right_launcher}" _sml_launcher)
    endif()
    if(NOT _sml_right_launcher OR NOT _sml_launcher STREQUAL SML_MPI_FAMILY)
      message(FATAL_ERROR "The MPI library is ${_sml_mpi_id} but ${MPIEXEC_EXECUTABLE} is another MPI's "
                          "launcher. Pass the right one: -DMPIEXEC_EXECUTABLE=/path/to/mpiexec")
    endif()
    message(STATUS "MPI launcher: ${_sml_right_launcher} (${MPIEXEC_EXECUTABLE} belongs to another MPI)")
    set(MPIEXEC_EXECUTABLE "${_sml_right_launcher}" CACHE FILEPATH "Executable for running MPI programs." FORCE)
  endif()
endif()
if(SML_MPI_FAMILY STREQUAL "openmpi")
  # Open MPI binds each of <= 2 ranks to one core, which leaves OpenMP one thread.
  set(SML_MPIEXEC_PREFLAGS --bind-to none)
else()
  set(SML_MPIEXEC_PREFLAGS "") # Hydra does not bind unless asked
endif()
message(STATUS "MPI: ${_sml_mpi_id} (${SML_MPI_FAMILY}), launcher ${MPIEXEC_EXECUTABLE} ${SML_MPIEXEC_PREFLAGS}")

# ---- parallel HDF5 for this MPI
if(SML_MPI_FAMILY STREQUAL "other")
  set(SML_HDF5_PACKAGE "a parallel HDF5 (--enable-parallel) built with this MPI")
else()
  set(SML_HDF5_PACKAGE "libhdf5-${SML_MPI_FAMILY}-dev")
endif()
if(NOT HDF5_C_COMPILER_EXECUTABLE AND _sml_mpi_suffix AND EXISTS "${_sml_mpicc_dir}/h5pcc${_sml_mpi_suffix}")
  set(HDF5_C_COMPILER_EXECUTABLE "${_sml_mpicc_dir}/h5pcc${_sml_mpi_suffix}" CACHE FILEPATH "HDF5's h5pcc")
endif()
set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 COMPONENTS C)
if(NOT HDF5_FOUND)
  message(FATAL_ERROR "HDF5 not found. On Debian 12: apt-get install ${SML_HDF5_PACKAGE}")
endif()
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR
    "shardml needs a parallel (MPI) build of HDF5, but the HDF5 found is serial "
    "(${HDF5_C_LIBRARIES}). On Debian 12: apt-get install ${SML_HDF5_PACKAGE} "
    "(jobs/setup-debian.sh installs the Open MPI one), then remove this build directory and configure again.")
endif()
# An HDF5 built for the other MPI links, and then fails at MPI_Init or in the
# first parallel call; Debian's directory names tell which one it is.
foreach(_family openmpi mpich)
  if(NOT _family STREQUAL SML_MPI_FAMILY AND HDF5_C_LIBRARIES MATCHES "/${_family}/")
    message(FATAL_ERROR "The HDF5 found (${HDF5_C_LIBRARIES}) is built for ${_family}, but the MPI is "
                        "${_sml_mpi_id}. Install ${SML_HDF5_PACKAGE} and pass "
                        "-DHDF5_C_COMPILER_EXECUTABLE=<its h5pcc>, in a new build directory.")
  endif()
endforeach()
