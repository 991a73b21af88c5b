#!/bin/bash
# The formatter check (.ci/run): every C file git tracks is as clang-format
# (Debian 12's clang-format 14, jobs/setup-debian.sh) and .clang-format
# leave it. A mis-indented line is what let a rank-0-only return through
# once (a hang at 2 ranks); formatted code shows such a line for what it is.
# Fix with: clang-format -i $(git ls-files '*.c' '*.h')
set -u
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "format: clang-format is not installed (jobs/setup-debian.sh)" >&2; exit 2; }
files=$(git ls-files '*.c' '*.h')
[ -n "$files" ] || { echo "format: no tracked C files (not a git checkout?)" >&2; exit 2; }
# shellcheck disable=SC2086 # one word per file
if clang-format --dry-run --Werror $files; then
  echo "format: $(wc -w <<<"$files") files formatted ($(clang-format --version))"
else
  echo "format: the files above differ from clang-format's layout; run: clang-format -i \$(git ls-files '*.c' '*.h')" >&2
  exit 1
fi
