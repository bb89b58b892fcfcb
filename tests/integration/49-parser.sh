#!/bin/bash
# 49-parser.sh - the backstop's packet parser (bpf/packet.bpf.h) on crafted
# packets, with BPF_PROG_TEST_RUN: build/tests/parser loads the parser
# alone (bpf/test_parser.bpf.c, never loaded by egressd) and runs its
# table: IPv4 options (LSRR, 40 bytes), IPv6 extension chains up to the
# walk limit (16) and beyond it, AH, first and later fragments (v4, v6,
# behind other headers), v4-mapped and any-address destinations, and
# every case with ports cut at each header boundary (each cut denied).
# Each case asserts the parsed family, destination, protocol, port and
# fragment flags, or the denial.  No cgroup, netns or pin dir: the test
# run touches no traffic.
source "$(dirname "$0")/../lib.sh"

PARSER=$(_abs "${PARSER:-$ROOT/build/tests/parser}")
[ "$(id -u)" = 0 ] || skip_all "loading a BPF program needs root"
[ -x "$PARSER" ] || die "$PARSER missing (build it: make build/tests/parser)"

out=$(timeout "$TO" "$PARSER" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^(PASS:|FAIL:|# )'
PASSES=$(printf '%s\n' "$out" | grep -c '^PASS: ')
FAILS=$(printf '%s\n' "$out" | grep -c '^FAIL: ')
if [ "$rc" != 0 ] && [ "$FAILS" = 0 ]; then
	fail run "$PARSER exited $rc: $(printf '%s' "$out" | tail -3)"
fi
[ "$PASSES" -ge 40 ] || fail table "only $PASSES checks ran: $(printf '%s' "$out" | tail -3)"
finish
