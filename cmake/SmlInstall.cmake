# cmake --install: the shardml program, libshardml with its public headers, a
# CMake package (find_package(shardml) -> shardml::shardml, its dependencies
# found again by the config file the way this build found them), a
# pkg-config file, and the job scripts, README and docs under share/.
include(CMakePackageConfigHelpers)
set(SML_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/shardml)

install(TARGETS shardml ${_sml_libs} EXPORT shardmlTargets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/shardml DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT shardmlTargets NAMESPACE shardml:: DESTINATION ${SML_CMAKE_DIR})

# What the config file needs to find the same MPI, HDF5 and BLAS again.
set(SML_CONFIG_BLA_VENDOR "${BLA_VENDOR}")
if(NOT BLA_VENDOR)
  set(SML_CONFIG_BLA_VENDOR "$ENV{BLA_VENDOR}")
endif()
set(SML_CONFIG_BLAS_LIBRARIES "")
if(DEFINED CACHE{BLAS_LIBRARIES})
  set(SML_CONFIG_BLAS_LIBRARIES "${BLAS_LIBRARIES}") # given by the user: exactly that library
endif()
configure_package_config_file(cmake/shardmlConfig.cmake.in ${PROJECT_BINARY_DIR}/shardmlConfig.cmake
                              INSTALL_DESTINATION ${SML_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/shardmlConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/shardmlConfig.cmake ${PROJECT_BINARY_DIR}/shardmlConfigVersion.cmake
        DESTINATION ${SML_CMAKE_DIR})

# pkg-config: relocatable (paths relative to the .pc file). Plain
# `pkg-config --libs shardml` links libshardml.so; with --static, the
# archive and its dependencies (Libs.private).
file(RELATIVE_PATH SML_PC_PREFIX /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
set(SML_PC_CFLAGS "")
foreach(_dir ${MPI_C_INCLUDE_DIRS})
  string(APPEND SML_PC_CFLAGS " -I${_dir}")
endforeach()
string(JOIN " " SML_PC_LIBS ${MPI_C_LIBRARIES})
set(_sml_private ${HDF5_C_LIBRARIES} ${BLAS_LIBRARIES} ${SML_CBLAS_LIBRARY} ${ZLIB_LIBRARIES} ${PNG_LIBRARIES})
list(REMOVE_DUPLICATES _sml_private)
string(JOIN " " SML_PC_PRIVATE ${_sml_private} ${OpenMP_C_FLAGS} -lm)
configure_file(cmake/shardml.pc.in ${PROJECT_BINARY_DIR}/shardml.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/shardml.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(PROGRAMS jobs/common.sh jobs/launcher.sh jobs/mpirun-local.sh jobs/setup-debian.sh jobs/setup-bench.sh
        DESTINATION ${CMAKE_INSTALL_DATADIR}/shardml/jobs)
install(FILES jobs/train.sbatch jobs/search.sbatch jobs/search-array.sbatch jobs/cv-knn.sbatch
        DESTINATION ${CMAKE_INSTALL_DATADIR}/shardml/jobs)
# An installed batch script finds its helpers without the user's help, from
# any folder it is copied to: the install writes their folder into it (the
# prefix of this install, which `cmake --install --prefix` may change).
install(CODE "set(_sml_jobs_dir \"${CMAKE_INSTALL_DATADIR}/shardml/jobs\")")
install(CODE [[
  set(_jobs "${_sml_jobs_dir}")
  if(NOT IS_ABSOLUTE "${_jobs}")
    set(_jobs "${CMAKE_INSTALL_PREFIX}/${_jobs}")
  endif()
  foreach(_script train search search-array cv-knn)
    set(_file "$ENV{DESTDIR}${_jobs}/${_script}.sbatch")
    file(READ "${_file}" _text)
    string(REPLACE "SHARDML_INSTALLED_JOBS=\"\"" "SHARDML_INSTALLED_JOBS=\"${_jobs}\"" _text "${_text}")
    file(WRITE "${_file}" "${_text}")
  endforeach()
]])
# The Python package (pure Python: models into numpy, PyTorch, ONNX), beside
# the jobs; users put its folder on PYTHONPATH, or a packager moves it.
set(SML_PYTHON_DIR ${CMAKE_INSTALL_DATADIR}/shardml/python CACHE STRING
    "where cmake --install puts the Python package shardml (relative to the prefix, or absolute)")
install(DIRECTORY src/python/shardml DESTINATION ${SML_PYTHON_DIR} PATTERN __pycache__ EXCLUDE)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/shardml)
# The documentation beside it, so that the README's links resolve there too.
file(GLOB SML_DOCS CONFIGURE_DEPENDS docs/*.md)
install(FILES ${SML_DOCS} DESTINATION ${CMAKE_INSTALL_DATADIR}/shardml/docs)
