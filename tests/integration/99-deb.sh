#!/bin/bash
# 99-deb.sh - egress as a Debian package (issue 13).
#
# - `make deb` builds egress_<version>_<arch>.deb; lintian reports no error.
# - dpkg installs it on this machine: binaries in /usr/sbin, egressd.service
#   (`systemd-analyze verify` passes), /etc/egress/default.policy and
#   /etc/default/egress as conffiles, the man pages, bash completion (found
#   by bash-completion's loader: `complete -p egressctl`).
# - egressd runs exactly as the installed unit's ExecStart says (variables
#   from its EnvironmentFile, expanded as systemd does), under the unit's
#   CapabilityBoundingSet and NoNewPrivileges, with the test's pin dir
#   through $EGRESS_PIN_DIR and NOTIFY_SOCKET on a datagram socket the test
#   listens on: READY=1 arrives after "egressd: ready"; a bound sandbox gets
#   a real EPERM and its listener counts nothing.
# - SIGHUP (ExecReload) re-applies the edited /etc/egress/default.policy
#   (RELOADING=1, then READY=1) and the new rule is in force; a broken file
#   changes nothing and egressd goes on.
# - Completion of policy names from this pinned state (--pin-dir and
#   $EGRESS_PIN_DIR) in a real bash.
# - Upgrade N -> N+1 while the sandbox keeps trying denied connects: no
#   attempt allowed, the listener counts zero, enforcement never lapses,
#   events continue across the restart (which takes the pins over), the
#   local edit of the conffile survives, egressd reports the new version.
# - dpkg -r stops egressd (exit 0) and leaves enforcement pinned; dpkg -P
#   removes /etc/egress and /etc/default/egress; enforcement still pinned.
# The package is purged on exit, whatever happened.  It never touches
# /sys/fs/bpf/egress: the unit's pin dir is overridden through the
# environment, as /etc/default/egress allows.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../prom-lib.sh"

PKG=egress
UNIT=/lib/systemd/system/egressd.service
TO_DPKG=600

for t in dpkg-buildpackage lintian systemd-analyze python3 setpriv curl; do
	command -v "$t" >/dev/null 2>&1 || skip_all "'$t' not installed (sh scripts/deps.sh test)"
done
[ -e /usr/share/perl5/Debian/Debhelper/Dh_Lib.pm ] || skip_all "debhelper not installed (sh scripts/deps.sh test)"
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'install ok\|config-files'; then
	die "package $PKG is installed on this machine already; this test installs and purges it (dpkg -P $PKG first)"
fi

setup
host_pins() { ls -la --time-style=full-iso /sys/fs/bpf/egress /sys/fs/bpf/egress/* 2>&1; }
HOST_PINS_BEFORE=$(host_pins)
PKG_TOUCHED=""
deb_cleanup() {
	# egressd from the package, if the test left one (only ours: started below)
	[ -n "$EGRESSD_PID" ] && kill -TERM "$EGRESSD_PID" 2>/dev/null
	[ -n "${LOOP_PID:-}" ] && kill -TERM "$LOOP_PID" 2>/dev/null
	[ -n "${NOTIFY_PID:-}" ] && kill -TERM "$NOTIFY_PID" 2>/dev/null
	if [ -n "$PKG_TOUCHED" ] && dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'install ok\|config-files'; then
		dpkg_locked -P "$PKG" >/dev/null 2>&1 || echo "warning: dpkg -P $PKG failed" >&2
	fi
}
trap 'rc=$?; deb_cleanup; (exit $rc); cleanup' EXIT

# dpkg ARGS... waiting (bounded) while another dpkg or apt holds the lock
dpkg_locked() {
	local i out rc
	for ((i = 0; i < TO_DPKG / 2; i++)); do
		out=$(DEBIAN_FRONTEND=noninteractive dpkg --force-confold "$@" 2>&1)
		rc=$?
		if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q 'dpkg frontend lock\|lock was held\|locked by another'; then
			sleep 2
			continue
		fi
		printf '%s\n' "$out"
		return $rc
	done
	printf '%s\n' "$out"
	return 1
}

# ------------------------------------------------------------ build

build_deb() {	# build_deb DIR [DEB_VERSION]: the .deb's path on stdout
	local dir=$1 ver=${2:-}
	make -C "$ROOT" --no-print-directory deb BUILD="$dir" ${ver:+DEB_VERSION="$ver"} >"$dir.log" 2>&1 ||
		return 1
	ls "$dir"/deb/egress_*_*.deb
}
V1=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version) || die "no version in debian/changelog"
V2="$V1+upgrade1"
ARCH=$(dpkg --print-architecture)
DEB1=$(build_deb "$T/b1") || die "make deb failed: $(tail -30 "$T/b1.log")"
check_eq build/name "egress_${V1}_$ARCH.deb" "$(basename "$DEB1")"
DEB2=$(build_deb "$T/b2" "$V2") || die "make deb DEB_VERSION=$V2 failed: $(tail -30 "$T/b2.log")"
check_eq build/name-n+1 "egress_${V2}_$ARCH.deb" "$(basename "$DEB2")"

lintian "$DEB1" >"$T/lintian.out" 2>&1
check_rc lintian/no-errors 0 sh -c "! grep '^E:' '$T/lintian.out'"
grep '^[WE]:' "$T/lintian.out" | sed 's/^/  lintian: /'
check lintian/only-known-warnings sh -c "! grep '^W:' '$T/lintian.out'"

# ------------------------------------------------------------ install N

PKG_TOUCHED=1
out=$(dpkg_locked -i "$DEB1") || die "dpkg -i $DEB1 failed: $out"
check_eq install/version "$V1" "$(dpkg-query -W -f='${Version}' "$PKG")"
for f in /usr/sbin/egressd /usr/sbin/egressctl; do
	check "install/$(basename "$f")" test -x "$f"
done
check install/unit test -f "$UNIT"
check install/policy cmp /etc/egress/default.policy "$ROOT/maps/default.policy"
check install/default-file test -f /etc/default/egress
conffiles=$(dpkg-query -W -f='${Conffiles}' "$PKG")
check install/conffile-policy grep -q '^ */etc/egress/default.policy ' <<<"$conffiles"
check install/conffile-default grep -q '^ */etc/default/egress ' <<<"$conffiles"
for m in egressd.8 egressctl.8 egress.policy.5; do
	check "install/man-$m" test -s "/usr/share/man/man${m##*.}/$m.gz"
done
check install/man-finds-egressd sh -c 'man -w egressd | grep -q /usr/share/man/man8/egressd.8'
check install/completion test -s /usr/share/bash-completion/completions/egressctl
check install/completion-loader bash -c '
	source /usr/share/bash-completion/bash_completion
	__load_completion egressctl 2>/dev/null || _completion_loader egressctl
	complete -p egressctl | grep -q -- "-F _egressctl egressctl"'

# systemd-analyze verify: no complaint at all (systemd is not PID 1 here)
verify_out=$(systemd-analyze verify "$UNIT" 2>&1)
check_eq unit/systemd-analyze-verify "" "$verify_out"
unitval() { sed -n "s/^$1=//p" "$UNIT" | tail -1; }
check_eq unit/type notify "$(unitval Type)"
check_eq unit/restart on-failure "$(unitval Restart)"
check_eq unit/reload '/bin/kill -HUP $MAINPID' "$(unitval ExecReload)"
check_eq unit/protect-system strict "$(unitval ProtectSystem)"
check unit/policy-file sh -c "sed -n 's/^ExecStart=//p' '$UNIT' | grep -q -- '--policy-file /etc/egress/default.policy'"

# ------------------------------------------------------------ egressd as the unit says

MPORT=$(free_port) || die "no free port"
# the EnvironmentFile first, as systemd reads it, then the test's overrides:
# its own pin dir, events socket and metrics port
declare -A UENV=()
envfile=$(unitval EnvironmentFile)
envfile=${envfile#-}
while IFS= read -r line; do
	case $line in '' | '#'*) continue ;; esac
	k=${line%%=*} v=${line#*=}
	v=${v#\"} v=${v%\"}
	UENV[$k]=$v
done <"$envfile"
check unit/envfile-has-opts test -n "${UENV[EGRESSD_OPTS]+set}"
UENV[EGRESSD_OPTS]="${UENV[EGRESSD_OPTS]} --metrics-addr 127.0.0.1:$MPORT"
UENV[EGRESS_PIN_DIR]=$PIN
UENV[EGRESS_EVENTS_SOCKET]=$T/events.sock

# ExecStart expanded as systemd does: "$VAR" splits into words, "${VAR}" is one word
EXEC=()
execstart=$(unitval ExecStart)
case $execstart in *[\'\"\\]*) die "ExecStart has quotes or escapes this test does not expand: $execstart" ;; esac
for w in $execstart; do
	if [[ $w =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
		# shellcheck disable=SC2206
		EXEC+=(${UENV[${BASH_REMATCH[1]}]:-})
	else
		while [[ $w =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
			w=${w/"${BASH_REMATCH[0]}"/${UENV[${BASH_REMATCH[1]}]:-}}
		done
		EXEC+=("$w")
	fi
done
check_eq unit/execstart-binary /usr/sbin/egressd "${EXEC[0]}"

# the unit's capability bounding set and NoNewPrivileges, through setpriv
caps=$(unitval CapabilityBoundingSet | tr 'A-Z ' 'a-z\n' | sed -n 's/^cap_/+/p' | paste -sd,)
[ -n "$caps" ] || die "no CapabilityBoundingSet in $UNIT"
SANDBOX=(setpriv --bounding-set "-all,$caps")
[ "$(unitval NoNewPrivileges)" = yes ] && SANDBOX+=(--no-new-privs)

# NOTIFY_SOCKET: a datagram socket; each message on one line of $T/notify.log
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    msg = s.recv(4096).decode()
    # is the ready line on the daemon stderr as READY=1 arrives?
    seen = ""
    if "READY=1" in msg.split("\n"):
        try:
            seen = " ready-line-before=%d" % ("egressd: ready" in open(sys.argv[3]).read())
        except OSError:
            seen = " ready-line-before=0"
    with open(sys.argv[2], "a") as log:
        log.write(msg.replace("\n", " ").strip() + seen + "\n")
' "$T/notify.sock" "$T/notify.log" "$T/unit.err.current" >"$T/notify.out" 2>&1 &
NOTIFY_PID=$!
BG_PIDS+=("$NOTIFY_PID")
wait_until 10 grep -q bound "$T/notify.out" || die "notify listener: $(cat "$T/notify.out")"
touch "$T/notify.log"

ERRN=0
start_unit() {
	local env=() k
	ERRN=$((ERRN + 1))
	for k in "${!UENV[@]}"; do env+=("$k=${UENV[$k]}"); done
	: >"$T/notify.log"
	ln -sfn "unit.err.$ERRN" "$T/unit.err.current"
	env "${env[@]}" NOTIFY_SOCKET="$T/notify.sock" "${SANDBOX[@]}" "${EXEC[@]}" \
		>>"$T/egressd.out" 2>"$T/unit.err.$ERRN" &
	EGRESSD_PID=$!
	BG_PIDS+=("$EGRESSD_PID")
	EGRESSD_ERR=$T/unit.err.$ERRN
	wait_until "$TO" grep -q READY=1 "$T/notify.log"
}
start_unit || die "egressd (${EXEC[*]}) sent no READY=1: $(cat "$EGRESSD_ERR")"
check notify/ready-after-ready-line grep -q 'READY=1.* ready-line-before=1$' "$T/notify.log"
check notify/only-once test "$(grep -c READY=1 "$T/notify.log")" = 1
check notify/status-names-pins grep -q "STATUS=enforcing, pins in $PIN" "$T/notify.log"
check run/pins-in-test-dir test -e "$PIN/maps/egress_config"
check run/policy-file-applied grep -q "policy 'default'" "$EGRESSD_ERR"

# bind and enforce
listen db tcp 192.0.2.30 5432
listen web tcp 192.0.2.20 8080
mkcg sb
check run/attach /usr/sbin/egressctl attach "$CGROOT/sb" --policy default --pin-dir "$PIN"
expect run/denied-eperm EPERM "$CGROOT/sb" root tcp 192.0.2.30 5432
expect run/web-denied-before-reload EPERM "$CGROOT/sb" root tcp 192.0.2.20 8080
check run/check /usr/sbin/egressctl check "$CGROOT/sb" --pin-dir "$PIN"
check_eq run/listener-counts-zero 0 "$(count db)"
wait_until 10 grep -q '"dport":5432' "$T/egressd.out"
check run/event grep -q '"dport":5432' "$T/egressd.out"

# ------------------------------------------------------------ reload (SIGHUP)

cp /etc/egress/default.policy "$T/policy.orig"
echo 'allow 192.0.2.20/32 --proto tcp --port 8080 --policy default' >>/etc/egress/default.policy
: >"$T/notify.log"
kill -HUP "$EGRESSD_PID"
wait_until "$TO" grep -q READY=1 "$T/notify.log"
check_eq reload/notify-sequence "RELOADING=1 READY=1 ready-line-before=1" "$(paste -sd' ' "$T/notify.log")"
check reload/logged grep -q 'reload of /etc/egress/default.policy: applied' "$EGRESSD_ERR"
expect reload/new-rule-in-force ok "$CGROOT/sb" root tcp 192.0.2.20 8080
expect reload/rest-still-denied EPERM "$CGROOT/sb" root tcp 192.0.2.30 5432
cp /etc/egress/default.policy "$T/policy.edited"
echo 'allow 300.0.0.0/8 --policy default' >>/etc/egress/default.policy
kill -HUP "$EGRESSD_PID"
wait_until "$TO" grep -q 'failed, the policies in force stay' "$EGRESSD_ERR"
check reload/bad-file-refused grep -q 'failed, the policies in force stay' "$EGRESSD_ERR"
check reload/egressd-still-running kill -0 "$EGRESSD_PID"
expect reload/bad-file-changed-nothing ok "$CGROOT/sb" root tcp 192.0.2.20 8080
cp "$T/policy.edited" /etc/egress/default.policy

# ------------------------------------------------------------ completion from this state

check ectl/policy-add /usr/sbin/egressctl policy add free-tier --pin-dir "$PIN"
complete_words() {	# complete_words WORD...: the last word is completed; COMPREPLY one a line
	bash --norc --noprofile -c '
		source /usr/share/bash-completion/completions/egressctl
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_egressctl
		printf "%s\n" "${COMPREPLY[@]}"' bash "$@" | sort | paste -sd' '
}
check_eq completion/policy-names-pin-dir "default free-tier" \
	"$(complete_words egressctl attach "$CGROOT/sb" --pin-dir "$PIN" --policy '')"
check_eq completion/policy-prefix "free-tier" \
	"$(complete_words egressctl attach "$CGROOT/sb" --pin-dir "$PIN" --policy fr)"
check_eq completion/policy-names-env "default free-tier" \
	"$(EGRESS_PIN_DIR=$PIN complete_words egressctl policy delete '')"
check_eq completion/cgroup-dirs "$CGROOT/sb/" "$(complete_words egressctl attach "$CGROOT/s")"
check_eq completion/commands "advise allow apply attach" "$(complete_words egressctl a)"
check_eq completion/policy-subcommands "add delete list set" "$(complete_words egressctl policy '')"
check_eq completion/flags "--follow --format" "$(complete_words egressctl events --f)"
check_eq completion/flag-values "any tcp udp" "$(complete_words egressctl allow 192.0.2.1/32 --proto '')"
check_eq completion/run-command "python3" "$(complete_words egressctl run --policy default -- python3 | tr ' ' '\n' | grep -x python3 | head -1)"

# ------------------------------------------------------------ upgrade N -> N+1

# the sandbox keeps trying denied connects, in bursts, until told to stop
LOOP_STOP=$T/loop.stop
(
	while [ ! -e "$LOOP_STOP" ]; do
		in_cgroup "$CGROOT/sb" nsenter --net="/run/netns/$NS" "$PROBE" loop tcp 192.0.2.30 5432 20
		echo
		sleep 0.05
	done
) >"$T/loop.out" 2>&1 &
LOOP_PID=$!
BG_PIDS+=("$LOOP_PID")
wait_until 10 grep -q EPERM "$T/loop.out" || die "sandbox loop: $(cat "$T/loop.out")"
events_before=$(grep -c '"dport":5432' "$T/egressd.out")
out=$(dpkg_locked -i "$DEB2") || fail upgrade/dpkg "dpkg -i $DEB2: $out"
check_eq upgrade/version "$V2" "$(dpkg-query -W -f='${Version}' "$PKG")"
check upgrade/old-egressd-still-running kill -0 "$EGRESSD_PID"
check upgrade/local-edit-kept cmp /etc/egress/default.policy "$T/policy.edited"
check upgrade/no-dpkg-dist test ! -e /etc/egress/default.policy.dpkg-dist
# no systemd as PID 1: the package leaves egressd alone; its supervisor (here the
# test, as systemd's try-restart would) restarts it with the new binary
old_pid=$EGRESSD_PID
kill -TERM "$old_pid"
wait_pid "$old_pid"
check_eq upgrade/old-exit-0 0 "$?"
check upgrade/stopping-notified grep -q STOPPING=1 "$T/notify.log"
sleep 0.5	# denials while no egressd runs
lines_before_restart=$(wc -l <"$T/egressd.out")
start_unit || fail upgrade/new-ready "egressd N+1 sent no READY=1: $(cat "$EGRESSD_ERR")"
check upgrade/took-over grep -q 'ready: pins in .* (taken over), [1-9][0-9]* links updated' "$EGRESSD_ERR"
scrape "$MPORT" || fail upgrade/scrape "no metrics on $MPORT"
check upgrade/new-version-running grep -q "egress_build_info{version=\"$V2\"" "$T/scrape"
sleep 1
touch "$LOOP_STOP"
wait_pid "$LOOP_PID"
LOOP_PID=""
attempts=$(grep -o '[A-Z]*=[0-9]*' "$T/loop.out" | awk -F= '{n += $2} END {print n + 0}')
eperm=$(grep -o 'EPERM=[0-9]*' "$T/loop.out" | awk -F= '{n += $2} END {print n + 0}')
echo "  upgrade: $attempts denied connects tried during the upgrade, $eperm EPERM"
check upgrade/attempts-made test "$attempts" -ge 100
check_eq upgrade/every-attempt-eperm "$attempts" "$eperm"
check_eq upgrade/listener-counts-zero 0 "$(count db)"
wait_until 10 sh -c "test \$(grep -c '\"dport\":5432' '$T/egressd.out') -gt $events_before"
check upgrade/events-continue test "$(grep -c '"dport":5432' "$T/egressd.out")" -gt "$events_before"
check upgrade/events-from-new-egressd sh -c "tail -n +$((lines_before_restart + 1)) '$T/egressd.out' | grep -q '\"dport\":5432'"
check upgrade/check-after /usr/sbin/egressctl check "$CGROOT/sb" --pin-dir "$PIN"

# ------------------------------------------------------------ remove, purge

out=$(dpkg_locked -r "$PKG") || fail remove/dpkg "dpkg -r: $out"
wait_pid "$EGRESSD_PID"
rc=$?
EGRESSD_PID=""
check_eq remove/egressd-stopped-exit-0 0 "$rc"
check remove/stopping-line grep -q 'stopping; enforcement stays pinned' "$EGRESSD_ERR"
check_eq remove/status config-files "$(dpkg-query -W -f='${db:Status-Status}' "$PKG")"
check remove/binaries-gone test ! -e /usr/sbin/egressd -a ! -e /usr/sbin/egressctl
check remove/unit-gone test ! -e "$UNIT"
check remove/conffile-kept test -f /etc/egress/default.policy
check remove/pins-kept test -e "$PIN/maps/egress_config"
expect remove/still-enforced EPERM "$CGROOT/sb" root tcp 192.0.2.30 5432
check remove/check "$EGRESSCTL" check "$CGROOT/sb" --pin-dir "$PIN"

out=$(dpkg_locked -P "$PKG") || fail purge/dpkg "dpkg -P: $out"
check_eq purge/unknown "" "$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -v not-installed)"
check purge/etc-egress-gone test ! -e /etc/egress
check purge/etc-default-gone test ! -e /etc/default/egress
check purge/pins-kept test -e "$PIN/maps/egress_config"
expect purge/still-enforced EPERM "$CGROOT/sb" root tcp 192.0.2.30 5432
check_eq purge/listener-counts-zero 0 "$(count db)"
check_eq host-pins-untouched "$HOST_PINS_BEFORE" "$(host_pins)"
finish
