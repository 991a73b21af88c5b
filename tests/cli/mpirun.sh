#!/bin/bash
# mpirun.sh N COMMAND...: COMMAND on N ranks with the launcher of the MPI
# shardml was built with. The one place the tests add launcher flags:
# MPIEXEC and MPIEXEC_PREFLAGS come from tests/CMakeLists.txt (cmake/SmlMPI.cmake).
np=${1:?usage: mpirun.sh N COMMAND...}; shift
# shellcheck disable=SC2086 # MPIEXEC_PREFLAGS is a list of words
exec "${MPIEXEC:?}" -n "$np" ${MPIEXEC_PREFLAGS:-} "$@"
