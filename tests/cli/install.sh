#!/bin/bash
# cmake --install into a temporary prefix, then another project builds and
# runs programs against the installed shardml: the example of
# <shardml/shardml.h> (cut out of the installed header) through
# find_package(shardml), static and shared, and through plain pkg-config
# (shared); a C consumer and a C++ one. Only the public headers are
# installed, and nothing of the build's own flags (warnings, -march,
# sanitizers, source paths) leaks into what is.
. "$(dirname "$0")/lib.sh"
BUILD=${1:?usage: install.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: install.sh BUILD_DIR SOURCE_DIR}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
P=$tmp/prefix

check "cmake --install exits 0" cmake --install "$BUILD" --prefix "$P"
for f in bin/shardml lib/libshardml.a lib/libshardml.so include/shardml/shardml.h include/shardml/model.h \
         include/shardml/comm.h include/shardml/version.h include/shardml/api.h \
         lib/cmake/shardml/shardmlConfig.cmake lib/cmake/shardml/shardmlConfigVersion.cmake \
         lib/cmake/shardml/shardmlTargets.cmake lib/pkgconfig/shardml.pc \
         share/shardml/jobs/train.sbatch share/shardml/jobs/mpirun-local.sh share/shardml/jobs/launcher.sh \
         share/shardml/README.md share/shardml/docs/reference.md; do
  check "installs $f" test -e "$P/$f"
done
internal=$(cd "$SRC/src" && ls -- */*.h | sed 's|.*/||' | while read -r h; do [ -e "$P/include/shardml/$h" ] && echo "$h"; done)
check "no internal header installed${internal:+: $internal}" test -z "$internal"
# The installed headers are exactly the source tree's include/shardml/.
check "installed headers = include/shardml/" diff <(ls "$SRC/include/shardml") <(ls "$P/include/shardml")
check "the installed program runs" bash -c "'$P/bin/shardml' --version | grep -q '^shardml [0-9]'"
check "the installed Python package imports and knows the installed version" bash -c \
  "[ \"\$(env -u PYTHONPATH PYTHONPATH='$P/share/shardml/python' /usr/bin/python3 -m shardml --version)\" = \"\$('$P/bin/shardml' --version | head -1)\" ]"
check "the installed jobs/mpirun-local.sh runs the installed program" \
  bash -c "env -u SHARDML bash '$P/share/shardml/jobs/mpirun-local.sh' 1 --version | grep -q '^shardml [0-9]'"
leaks=$(grep -lE -e '-march|-Werror|-Wall|fsanitize' -e "$SRC" "$P"/lib/cmake/shardml/*.cmake "$P/lib/pkgconfig/shardml.pc")
check "no build flags or source paths in the package files${leaks:+: $leaks}" test -z "$leaks"

# The umbrella header's example, exactly as the header shows it.
sed -n '/^ \* ---- example.c ----$/,/^ \* ---- end ----$/p' "$P/include/shardml/shardml.h" | sed '1d;$d' |
  sed 's/^ \*\(   \)\{0,1\}//' >"$tmp/example.c"
check "the example of shardml.h is there ($(wc -l <"$tmp/example.c") lines)" grep -q 'sml_train_job_run' "$tmp/example.c"
run_example() { # run_example BINARY NAME: 2 ranks, 2000 Fashion-MNIST images, a test accuracy
  local out
  out=$(timeout 120 "$MPI_LAUNCH" 2 "$1" "$tmp/out-$2" 2>"$tmp/$2.err")
  check "$2: trains on 2 ranks and reports a test accuracy" grep -q '^example: test accuracy 0\.[0-9]*$' <<<"$out" ||
    tail -3 "$tmp/$2.err"
  check "$2: wrote its files" test -s "$tmp/out-$2/model.h5" -a -s "$tmp/out-$2/history.csv"
}

check "find_package(shardml): configure" cmake -S "$SRC/tests/install" -B "$tmp/cmake-consumer" \
  -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release -DSML_EXAMPLE="$tmp/example.c"
check "find_package(shardml): build" cmake --build "$tmp/cmake-consumer"
check "find_package(shardml): consumer runs on 2 ranks" timeout 60 "$MPI_LAUNCH" 2 "$tmp/cmake-consumer/consumer"
check "find_package(shardml): C++ consumer (shardml::shared) runs on 2 ranks" \
  timeout 60 "$MPI_LAUNCH" 2 "$tmp/cmake-consumer/consumer_cxx"
run_example "$tmp/cmake-consumer/example" "find_package static example"
run_example "$tmp/cmake-consumer/example_shared" "find_package shared example"
check "the shared example links libshardml.so" bash -c "ldd '$tmp/cmake-consumer/example_shared' | grep -q 'libshardml.so'"

export PKG_CONFIG_PATH="$P/lib/pkgconfig"
flags=$(pkg-config --cflags --libs shardml)
echo "pkg-config: $flags"
# shellcheck disable=SC2086 # flags are words
check "pkg-config (shared): build the example" cc -std=c11 -O1 -o "$tmp/pc-example" "$tmp/example.c" $flags \
  -Wl,-rpath,"$P/lib"
run_example "$tmp/pc-example" "pkg-config shared example"
# shellcheck disable=SC2086
check "pkg-config (shared): a C++ consumer builds" c++ -std=c++17 -Wall -Wextra -pedantic -Werror \
  -o "$tmp/pc-cxx" "$SRC/tests/install/consumer.cpp" $flags -Wl,-rpath,"$P/lib"
check "pkg-config (shared): the C++ consumer runs on 2 ranks" timeout 60 "$MPI_LAUNCH" 2 "$tmp/pc-cxx"
# --static: the archive itself (beside the .so, -lshardml would pick the .so).
static=$(pkg-config --cflags --libs --static shardml)
static=${static/-lshardml/$P/lib/libshardml.a}
# shellcheck disable=SC2086
check "pkg-config --static: build" cc -std=c11 -O1 -o "$tmp/pc-consumer" "$SRC/tests/install/consumer.c" $static -lm
check "pkg-config --static: runs on 2 ranks" timeout 60 "$MPI_LAUNCH" 2 "$tmp/pc-consumer"
finish
