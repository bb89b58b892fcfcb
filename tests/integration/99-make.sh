#!/bin/bash
# 99-make.sh - every make target the README names builds what it needs and
# says why it failed (issue 14 item 8): `make demo` in a tree built with
# `make` only (no build/tests/probe) builds the probe and runs the demo to
# its end; a failing build makes `make demo` and `make run` say which step
# failed, on stderr, with a non-zero exit.  Each uses a build directory of
# the test's own (BUILD=...): the tree's build/ is not touched.
source "$(dirname "$0")/../lib.sh"
setup

# a tree as `make` leaves it: egressd and egressctl, no tests/
cp -a "$ROOT/build" "$T/build" || die "copy build/"
rm -rf "$T/build/tests" "$T/build/fuzz"
TO=300 _run make -s -C "$ROOT" BUILD="$T/build" demo >"$T/demo.out" 2>&1
check_eq demo/after-make-exit-0 0 $?
check demo/built-the-probe test -x "$T/build/tests/probe"
check demo/ran-to-the-end grep -q "Everything happened as described" "$T/demo.out"
check demo/used-its-build grep -qF "$T/build/egressctl" "$T/demo.out"

# a build that fails: the target says so
TO=120 _run make -s -C "$ROOT" BUILD="$T/broken" CLANG=false demo >"$T/broken.out" 2>"$T/broken.err"
rc=$?
check_eq demo/broken-build-fails 2 "$rc"
check demo/broken-build-says-which-step grep -q "make demo: building build/egressd, build/egressctl and build/tests/probe failed" "$T/broken.err"
TO=120 _run make -s -C "$ROOT" BUILD="$T/broken" CLANG=false run >"$T/broken.out" 2>"$T/broken.err"
rc=$?
check_eq run/broken-build-fails 2 "$rc"
check run/broken-build-says grep -q "make run: the build failed" "$T/broken.err"

finish
