#!/bin/bash
# 96-man.sh - the man pages cover the --help texts (issue 13).
#
# The pages are rendered from man/*.scd (scdoc, as `make man` does) and read
# as man(1) shows them.  Everything is derived from the binaries' --help, so
# that a new flag or command without its documentation fails here:
# - every flag in `egressd --help` is in egressd(8);
# - every command in `egressctl --help` is in egressctl(8), and every flag of
#   `egressctl --help` and of each `egressctl COMMAND --help` (and of each
#   `egressctl COMMAND SUB --help` where the usage lists SUB|SUB...), with
#   the sub-command words;
# - the flags of the policy-file lines (policy add, allow, deny) are in
#   egress.policy(5).
# Needs no root.
source "$(dirname "$0")/../lib.sh"

for t in scdoc man col; do
	command -v "$t" >/dev/null 2>&1 || skip_all "'$t' not installed (sh scripts/deps.sh test)"
done
[ -x "$EGRESSD" ] && [ -x "$EGRESSCTL" ] || die "build first: make"
T=$(mktemp -d "/tmp/egress-test.$RUNTAG.XXXXXX") || die "mktemp"
trap 'rm -rf "$T"' EXIT

render() {	# render NAME: the page as text, one paragraph a line (no hyphenation)
	scdoc <"$ROOT/man/$1.scd" >"$T/$1" || return 1
	LC_ALL=C MANWIDTH=4000 man -l "$T/$1" 2>/dev/null | col -b >"$T/$1.txt"
	[ -s "$T/$1.txt" ]
}
for p in egressd.8 egressctl.8 egress.policy.5; do
	check "render/$p" render "$p"
done

# the flags in a text: --long and -s, not inside words or values such as N-M
flags_of() {
	grep -oE -- '(^|[^A-Za-z0-9_-])--?[A-Za-z][A-Za-z0-9-]*' | sed -E 's/^[^-]*//' | sort -u
}
in_page() {	# in_page PAGE WORD: WORD stands alone in the page
	grep -qE -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)" "$T/$1.txt"
}
check_flags() {	# check_flags PAGE WHAT [MIN] < help text: MIN flags at least (default 1)
	local page=$1 what=$2 min=${3:-1} f n=0
	for f in $(flags_of); do
		n=$((n + 1))
		if in_page "$page" "$f"; then
			pass "$page/$what/$f"
		else
			fail "$page/$what/$f" "'$f' (from $what --help) is not in $page"
		fi
	done
	[ $n -ge "$min" ] || fail "$page/$what" "no flag found in $what --help"
}

"$EGRESSD" --help 2>&1 | check_flags egressd.8 egressd

"$EGRESSCTL" --help >"$T/help" 2>&1
check_flags egressctl.8 egressctl <"$T/help"
cmds=$(awk '/^  [a-z]/ { print $1 }' "$T/help")
[ -n "$cmds" ] || fail egressctl.8/commands "no command found in egressctl --help"
for c in $cmds; do
	if in_page egressctl.8 "$c"; then
		pass "egressctl.8/command/$c"
	else
		fail "egressctl.8/command/$c" "command '$c' is not in egressctl.8"
	fi
	[ "$c" = help ] && continue
	"$EGRESSCTL" "$c" --help >"$T/help.$c" 2>&1
	check_flags egressctl.8 "$c" 0 <"$T/help.$c"
	# "usage: egressctl policy add|set|delete|list ...": each sub-command
	subs=$(sed -nE "s/.*egressctl $c ([a-z-]+(\|[a-z-]+)+).*/\1/p" "$T/help.$c" | head -1 | tr '|' ' ')
	for s in $subs; do
		if grep -qE -- "(^|[[:space:]])$c $s([[:space:]]|\$)" "$T/egressctl.8.txt"; then
			pass "egressctl.8/command/$c-$s"
		else
			fail "egressctl.8/command/$c-$s" "'$c $s' is not in egressctl.8"
		fi
		"$EGRESSCTL" "$c" "$s" --help 2>&1 | check_flags egressctl.8 "$c-$s"
	done
done

# policy files are egressctl's command lines: their flags (but --pin-dir and
# --help, which are the command's) belong in egress.policy(5)
{
	"$EGRESSCTL" policy add --help 2>&1
	"$EGRESSCTL" allow --help 2>&1
	"$EGRESSCTL" deny --help 2>&1
} | sed -E 's/--(pin-dir|help)([^a-z-]|$)/\2/g' | check_flags egress.policy.5 policy-file-lines
finish
