#!/bin/bash
# cmake --install into a temporary prefix, then another project builds and
# runs a program against the installed shardml, once through
# find_package(shardml) and once through pkg-config; and nothing of the
# build's own flags (warnings, -march, sanitizers, source paths) leaks into
# what is installed.
. "$(dirname "$0")/lib.sh"
BUILD=${1:?usage: install.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: install.sh BUILD_DIR SOURCE_DIR}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
P=$tmp/prefix

check "cmake --install exits 0" cmake --install "$BUILD" --prefix "$P"
for f in bin/shardml lib/libshardml.a include/shardml/model.h include/shardml/dist.h \
         lib/cmake/shardml/shardmlConfig.cmake lib/cmake/shardml/shardmlConfigVersion.cmake \
         lib/cmake/shardml/shardmlTargets.cmake lib/pkgconfig/shardml.pc \
         share/shardml/jobs/train.sbatch share/shardml/jobs/mpirun-local.sh share/shardml/jobs/launcher.sh \
         share/shardml/README.md share/shardml/docs/reference.md; do
  check "installs $f" test -e "$P/$f"
done
check "the installed program runs" bash -c "'$P/bin/shardml' --version | grep -q '^shardml [0-9]'"
check "the installed jobs/mpirun-local.sh runs the installed program" \
  bash -c "env -u SHARDML bash '$P/share/shardml/jobs/mpirun-local.sh' 1 --version | grep -q '^shardml [0-9]'"
leaks=$(grep -lE -e '-march|-Werror|-Wall|fsanitize' -e "$SRC" "$P"/lib/cmake/shardml/*.cmake "$P/lib/pkgconfig/shardml.pc")
check "no build flags or source paths in the package files${leaks:+: $leaks}" test -z "$leaks"

check "find_package(shardml): configure" cmake -S "$SRC/tests/install" -B "$tmp/cmake-consumer" \
  -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release
check "find_package(shardml): build" cmake --build "$tmp/cmake-consumer"
check "find_package(shardml): runs on 2 ranks" timeout 60 "$MPI_LAUNCH" 2 "$tmp/cmake-consumer/consumer"

flags=$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --cflags --libs --static shardml)
echo "pkg-config: $flags"
# shellcheck disable=SC2086 # flags are words
check "pkg-config: build" cc -std=c11 -O1 -o "$tmp/pc-consumer" "$SRC/tests/install/consumer.c" $flags -lm
check "pkg-config: runs on 2 ranks" timeout 60 "$MPI_LAUNCH" 2 "$tmp/pc-consumer"
finish
