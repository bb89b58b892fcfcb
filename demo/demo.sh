#!/bin/bash
# demo/demo.sh - the free and pro tiers, told for a person (`make demo`).
#
# The same story as tests/integration/97-tiers-e2e.sh, with the same real
# parts: egressd, Squid as the platform proxy, origin web servers, a
# PostgreSQL stand-in and a cloud-metadata stand-in, all inside a private
# network namespace, and a Python program as the user's code, run as a free
# sandbox (egressctl run, then a runc container with the OCI hook), as a pro
# sandbox, and upgraded from free to pro while it runs.  Everything it starts
# and creates is removed at the end, failed or not (tests/lib.sh's
# clean-up).  Needs root, a built tree (make demo builds what it needs:
# build/egressd, build/egressctl, build/tests/probe), and the Debian
# packages runc, squid and python3.  Exit status 0 when everything happened as told.
source "$(dirname "$0")/../tests/lib.sh"
source "$(dirname "$0")/../tests/e2e-lib.sh"

# not a test: no SKIP that exits 0
skip_all() {
	echo "demo: cannot run here: $*" >&2
	exit 1
}

B=$(tput bold 2>/dev/null || true)
N=$(tput sgr0 2>/dev/null || true)
[ -t 1 ] || { B=""; N=""; }
UNEXPECTED=0

say() { printf '%s\n' "$*"; }
title() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }

# what each step of sandbox.py does, in the user's Python
describe() {
	case $1 in
	allowed) echo "urlopen('http://allowed.example/') via the proxy" ;;
	other) echo "urlopen('http://other.example/') via the proxy" ;;
	pg | pg1 | pg2) echo "socket.create_connection(('${PG%:*}', ${PG#*:}))   # a remote PostgreSQL" ;;
	directweb) echo "urlopen('http://192.0.2.22/') without the proxy" ;;
	md) echo "urlopen('http://$METADATA/latest/meta-data/')   # the cloud metadata endpoint" ;;
	w) echo "(waits until the operator has acted)" ;;
	cg) echo "(reads its cgroup)" ;;
	*) echo "$1" ;;
	esac
}

# show FILE TAG=PATTERN...: print the sandbox's steps, each with what
# happened; mark what differs from PATTERN (an ERE).
show() {
	local f=$1 spec tag pat got mark
	shift
	for spec in "$@"; do
		tag=${spec%%=*}
		pat=${spec#*=}
		got=$(step_line "$f" "$tag")
		mark=""
		if ! printf '%s\n' "$got" | grep -Eq -- "$pat"; then
			mark="   <-- UNEXPECTED (wanted /$pat/)"
			UNEXPECTED=$((UNEXPECTED + 1))
		fi
		case $got in
		"HTTP 403"*) got="$got   (Squid: not on the whitelist)" ;;
		PermissionError*) got="$got   (the kernel: egress)" ;;
		esac
		printf '  >>> %s\n      %s%s\n' "$(describe "$tag")" "${got:-(no result)}" "$mark"
	done
}

# hints FILE: the hint lines the user of that sandbox would be shown
hints() {
	if wait_until "$TO" grep -qF "$PG" "$1"; then
		say "  What the execution service shows the user (egressctl events --follow --cgroup ... --format hint):"
		grep -F "$PG" "$1" | head -1 | sed 's/^/      /'
	else
		say "  no hint arrived   <-- UNEXPECTED"
		UNEXPECTED=$((UNEXPECTED + 1))
	fi
}

FREE_WANT=(allowed='^HTTP 200' other='^HTTP 403' pg='^PermissionError' md='^PermissionError')
PRO_WANT=(allowed='^HTTP 200' other='^HTTP 403' pg='^connected$' directweb='^HTTP 200' md='^PermissionError')
STEPS_FREE=(allowed=web:http://allowed.example/ other=web:http://other.example/ "pg=direct:$PG"
	"md=get:http://$METADATA/latest/meta-data/")
STEPS_PRO=(allowed=web:http://allowed.example/ other=web:http://other.example/ "pg=direct:$PG"
	directweb=get:http://192.0.2.22/ "md=get:http://$METADATA/latest/meta-data/")

title "egress demo: free and pro sandboxes"
say "Setting up (private netns, bpffs, cgroups; egressd, Squid, web servers) ..."
setup "${TIERS_ADDRS[@]}" >/dev/null
e2e_setup runc squid python3
tiers_setup
mkcg demo/free demo/pro demo/ctr demo/tiers/free demo/tiers/pro
D=$CGROOT/demo
HOOK="oci-hook --pin-dir $PIN"

cat <<EOF

The platform (inside network namespace $NS):
  Squid forward proxy     $PROXY_URL   whitelist (dstdomain): allowed.example
  allowed.example         192.0.2.21:80       (an origin web server)
  other.example           192.0.2.22:80       (an origin web server, not whitelisted)
  a "PostgreSQL" server   $PG
  cloud metadata          $METADATA:80      (stands in for 169.254.169.254)

The policies (egressctl export):
EOF
ectl export | sed 's/^/  /'

title "1. A free sandbox: egressctl run --policy free -- python3 sandbox.py"
follow_hints free "$D/free"
sandbox_run free "$D/free" "$T/demo-free.out" "${STEPS_FREE[@]}"
show "$T/demo-free.out" "${FREE_WANT[@]}"
hints "$T/hints.free"

title "2. The same code in a runc container, bound at start by the OCI hook (--policy free)"
say "  config.json: \"hooks\": {\"createRuntime\": [{\"path\": \"$EGRESSCTL\", \"args\": [\"egressctl\", \"oci-hook\", \"--pin-dir\", \"...\", \"--policy\", \"free\"]}]}"
follow_hints ctr "$D/ctr"
sandbox_bundle demo-free "$D/ctr/c1" --hook "$HOOK --policy free" -- "${STEPS_FREE[@]}"
ctr_run demo-free
show "$T/ctr.demo-free/out" "${FREE_WANT[@]}"
hints "$T/hints.ctr"

title "3. A pro sandbox: egressctl run --policy pro"
sandbox_run pro "$D/pro" "$T/demo-pro.out" "${STEPS_PRO[@]}"
show "$T/demo-pro.out" "${PRO_WANT[@]}"

title "4. Upgrading a running sandbox from free to pro (no restart), under tier cgroups"
say "  The tiers (README: Tier cgroups): each tier's cgroup is bound once."
say "  # egressctl attach .../tiers/free --policy free; egressctl attach .../tiers/pro --policy pro"
ectl attach "$D/tiers/free" --policy free && ectl attach "$D/tiers/pro" --policy pro ||
	UNEXPECTED=$((UNEXPECTED + 1))
mkfifo -m 666 "$T/go.demo"
sandbox_run free "$D/tiers/free" "$T/demo-up.out" cg=cgroup "pg1=direct:$PG" "w=wait:$T/go.demo" "pg2=direct:$PG" &
up_pid=$!
BG_PIDS+=("$up_pid")
if wait_step "$T/demo-up.out" pg1; then
	show "$T/demo-up.out" pg1='^PermissionError'
	cg=$CG2$(step_line "$T/demo-up.out" cg)
	say "  The user upgrades; the platform moves the sandbox's processes into the pro tier"
	say "  (a cgroup below the free tier can only narrow free, so rebinding it would not do):"
	say "  # egressctl move --cgroup .../tiers/free/${cg##*/} --to .../tiers/pro/${cg##*/}"
	mkdir -p "$D/tiers/pro/${cg##*/}"
	if out=$(ectl move --cgroup "$cg" --to "$D/tiers/pro/${cg##*/}"); then
		say "      ${out//$D/...}"
	else
		UNEXPECTED=$((UNEXPECTED + 1))
	fi
	release "$T/go.demo"
fi
wait_pid "$up_pid"
say "  The same Python process tries again:"
show "$T/demo-up.out" pg2='^connected$'

title "What reached the servers"
say "  Squid's access log:"
awk '{print "      " $4, $6, $7}' "$SQUID_DIR/access.log"
say "  connections that reached the \"PostgreSQL\" server: $(count pg) (from the pro and upgraded sandboxes only)"
say "  requests that reached the metadata stand-in: $(grep -c 'GET /latest' "$T/origin.metadata.log")"

echo
if [ "$UNEXPECTED" -eq 0 ]; then
	say "${B}Everything happened as described.${N} Cleaning up."
	exit 0
fi
say "${B}$UNEXPECTED thing(s) did not happen as described.${N} Cleaning up."
exit 1
