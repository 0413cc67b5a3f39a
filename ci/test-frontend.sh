#!/bin/sh
# Front-end support modules (ref/cli/tb.c, plot.c, progress.c): builds ref/tests/frontend/
# test_frontend.c with them and io.c under the Makefile's strict flags, and runs it. Needs
# build/libggdm.a (make). The last line is "frontend: N passed, M failed".
#   sh ci/test-frontend.sh [KEEP_DIR]   KEEP_DIR keeps the event files and SVGs written
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CC=${CC:-cc}
if [ -z "${PYTHON:-}" ]; then
    if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
export PYTHON
if [ ! -f "$BUILD/libggdm.a" ]; then
    echo "frontend: $BUILD/libggdm.a is missing (run make first)"
    echo "frontend: 0 passed, 1 failed"
    exit 1
fi
mkdir -p "$BUILD/tests"
exe="$BUILD/tests/frontend_test"
if ! $CC -std=c99 -pedantic -Wall -Wextra -Werror -ffp-contract=off -fno-fast-math -O2 -g \
    -Iref/include -Iref/cli -o "$exe" \
    ref/tests/frontend/test_frontend.c ref/cli/tb.c ref/cli/plot.c ref/cli/progress.c ref/cli/io.c \
    "$BUILD/libggdm.a" -lxxhash -lm; then
    echo "frontend: the test program does not compile"
    echo "frontend: 0 passed, 1 failed"
    exit 1
fi
# (the progress checks redirect the program's own stderr to a file: not a terminal)
"$exe" "$@"
