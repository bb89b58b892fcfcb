#!/bin/bash
# 95-oci.sh - egress at container start, with Debian's runc: the OCI hook
# (`egressctl oci-hook` as a createRuntime hook) binds the container's
# cgroup before its process runs, so the container's very first action is
# already decided (a denied connect gets EPERM, an allowed one works); the
# policy comes from --policy, else from the annotation egress.policy; a
# container that cannot be enforced never starts (no policy, an unknown
# policy, egress not loaded); --strict refuses configs that defeat egress
# (CAP_NET_RAW/NET_ADMIN/SYS_ADMIN/BPF in any set, the host's network
# namespace), without --strict they only warn; the poststop hook removes the
# binding.  Tier cgroups: a container whose cgroupsPath lies beneath a bound
# tier cgroup is enforced from its first instruction with no hook at all.
#
# Containers run in the test's netns, with the host's /usr and /etc
# mounted read-only (tests/e2e-lib.sh), the probe at /e2e/probe.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../e2e-lib.sh"
setup 192.0.2.10 192.0.2.20 192.0.2.254 2001:db8::10 2001:db8::20
e2e_setup runc

start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
# free: the proxy 192.0.2.10 tcp 3128 only
ectl_ok setup apply -f "$ROOT/tests/fixtures/free.policy" || die "apply tests/fixtures/free.policy"
ectl_ok setup policy add pro --default allow || die "policy add pro"
ectl_ok setup deny 192.0.2.254/32 --policy pro || die "deny"
listen proxy tcp 192.0.2.10 3128
listen web tcp 192.0.2.20 80
listen md tcp 192.0.2.254 80
listen net tcp 192.0.2.20 443	# what pro may reach

HOOK="oci-hook --pin-dir $PIN"
NOBODY_UID=65534
# Docker's default capabilities without CAP_NET_RAW: what --strict accepts
SAFE_CAPS=$(printf '%s\n' "${DOCKER_CAPS[@]}" | grep -vx CAP_NET_RAW | paste -sd,)

if ! timeout "$TO" "$EGRESSCTL" oci-hook --help >/dev/null 2>&1; then
	die "this egressctl has no oci-hook command"
fi

# ---- 1. the hook: enforced from the container's first instruction
bundle first-denied --uid $NOBODY_UID --hook "$HOOK --policy free" -- /e2e/probe tcp 192.0.2.20 80
ctr_expect hook/first-action-denied first-denied EPERM
bundle first-denied-root --hook "$HOOK --policy free" -- /e2e/probe tcp 192.0.2.20 80
ctr_expect hook/first-action-denied-container-root first-denied-root EPERM
bundle first-denied6 --uid $NOBODY_UID --hook "$HOOK --policy free" -- /e2e/probe tcp 2001:db8::20 80
ctr_expect hook/first-action-denied-ipv6 first-denied6 EPERM
bundle first-denied-udp --uid $NOBODY_UID --hook "$HOOK --policy free" -- /e2e/probe udp 192.0.2.20 53
ctr_expect hook/first-action-denied-udp first-denied-udp EPERM
bundle first-allowed --uid $NOBODY_UID --hook "$HOOK --policy free" -- /e2e/probe tcp 192.0.2.10 3128
ctr_expect hook/first-action-allowed first-allowed ok

# while it runs: its own cgroup is bound to the policy and fully enforced
bundle live --uid $NOBODY_UID --hook "$HOOK --policy free" -- \
	sh -c '/e2e/probe tcp 192.0.2.20 80 > /tmp/first; read x < /tmp/go; /e2e/probe tcp 192.0.2.20 80'
mkfifo -m 666 "$T/ctr.live/tmp/go"
LIVE_CG=$(ctr_cgroup live)
ctr_start_bg live
live_pid=$CTR_PID
if wait_until "$TO" test -s "$T/ctr.live/tmp/first"; then
	check_eq live/first-denied EPERM "$(cat "$T/ctr.live/tmp/first")"
	check_eq live/bound-to-policy free "$(bound_policy "$LIVE_CG")"
	check live/check-enforced ectl check "$LIVE_CG"
	check_eq live/runc-running running "$(ctr_state live)"
else
	fail live/started "the container did not run: $(ctr_err live)"
fi
release "$T/ctr.live/tmp/go"
wait_pid "$live_pid"
check_eq live/still-denied EPERM "$(ctr_out live)"

# ---- 2. the annotation picks the policy (when --policy is absent)
bundle ann-pro --uid $NOBODY_UID --hook "$HOOK" --annotation egress.policy=pro -- \
	sh -c '/e2e/probe tcp 192.0.2.20 443; /e2e/probe tcp 192.0.2.254 80'
ctr_expect annotation/pro ann-pro "ok
EPERM"
bundle ann-free --uid $NOBODY_UID --hook "$HOOK" --annotation egress.policy=free -- /e2e/probe tcp 192.0.2.20 80
ctr_expect annotation/free ann-free EPERM
bundle ann-flag-wins --uid $NOBODY_UID --hook "$HOOK --policy free" --annotation egress.policy=pro -- \
	/e2e/probe tcp 192.0.2.20 80
ctr_expect annotation/flag-wins ann-flag-wins EPERM

# ---- 3. refused: the container never starts
bundle no-policy --uid $NOBODY_UID --hook "$HOOK" -- "${RAN_FIRST[@]}" /e2e/probe tcp 192.0.2.20 80
ctr_refused refused/no-policy no-policy 'policy'
bundle unknown-policy --uid $NOBODY_UID --hook "$HOOK --policy nosuch" -- "${RAN_FIRST[@]}" /e2e/probe tcp 192.0.2.20 80
ctr_refused refused/unknown-policy unknown-policy 'nosuch'
bundle unknown-ann --uid $NOBODY_UID --hook "$HOOK" --annotation egress.policy=nosuch -- \
	"${RAN_FIRST[@]}" /e2e/probe tcp 192.0.2.20 80
ctr_refused refused/unknown-policy-annotation unknown-ann 'nosuch'
bundle bad-ann --uid $NOBODY_UID --hook "$HOOK" --annotation 'egress.policy=../free' -- \
	"${RAN_FIRST[@]}" /e2e/probe tcp 192.0.2.20 80
ctr_refused refused/invalid-annotation bad-ann 'egress.policy'
mkdir -p "$T/bpffs/empty"
bundle not-loaded --uid $NOBODY_UID --hook "oci-hook --pin-dir $T/bpffs/empty --policy free" -- \
	"${RAN_FIRST[@]}" /e2e/probe tcp 192.0.2.20 80
ctr_refused refused/egress-not-loaded not-loaded 'not loaded'
bundle no-pins --uid $NOBODY_UID --hook "oci-hook --pin-dir $T/nonexistent --policy free" -- \
	"${RAN_FIRST[@]}" /e2e/probe tcp 192.0.2.20 80
ctr_refused refused/pin-dir-missing no-pins 'not loaded'

# ---- 4. --strict
for cap in CAP_NET_RAW CAP_NET_ADMIN CAP_SYS_ADMIN CAP_BPF; do
	bundle "strict-$cap" --caps "$SAFE_CAPS" --cap-add "$cap" --hook "$HOOK --policy free --strict" -- \
		"${RAN_FIRST[@]}" /e2e/probe tcp 192.0.2.20 80
	ctr_refused "strict/refuses-$cap" "strict-$cap" "$cap"
done
bundle strict-bounding --uid $NOBODY_UID --caps "$SAFE_CAPS" --cap-bounding-add CAP_NET_ADMIN \
	--hook "$HOOK --policy free --strict" -- "${RAN_FIRST[@]}" /e2e/probe tcp 192.0.2.20 80
ctr_refused strict/refuses-bounding-only strict-bounding CAP_NET_ADMIN
for set in inheritable ambient; do
	bundle "strict-$set" --caps "$SAFE_CAPS" --hook "$HOOK --policy free --strict" -- \
		"${RAN_FIRST[@]}" /e2e/probe tcp 192.0.2.20 80
	bundle_edit "strict-$set" ".process.capabilities.$set = [\"CAP_NET_RAW\"]"
	ctr_refused "strict/refuses-$set-only" "strict-$set" CAP_NET_RAW
done
bundle strict-docker --hook "$HOOK --policy free --strict" -- "${RAN_FIRST[@]}" /e2e/probe tcp 192.0.2.20 80
ctr_refused strict/refuses-docker-default-caps strict-docker CAP_NET_RAW
bundle strict-hostnet --uid $NOBODY_UID --caps "$SAFE_CAPS" --host-net --hook "$HOOK --policy free --strict" -- \
	"${RAN_FIRST[@]}" /e2e/probe tcp 127.0.0.1 9
ctr_refused strict/refuses-host-netns strict-hostnet 'network namespace'
# the host's netns by path: a bind mount of this shell's (the host's) netns
touch "$T/hostnet" && mount --bind /proc/self/ns/net "$T/hostnet" || die "bind mount of the host netns"
bundle strict-hostnet-path --uid $NOBODY_UID --caps "$SAFE_CAPS" --netns "$T/hostnet" \
	--hook "$HOOK --policy free --strict" -- "${RAN_FIRST[@]}" /e2e/probe tcp 127.0.0.1 9
ctr_refused strict/refuses-host-netns-by-path strict-hostnet-path 'network namespace'
bundle strict-ok --caps "$SAFE_CAPS" --hook "$HOOK --policy free --strict" -- /e2e/probe tcp 192.0.2.20 80
ctr_expect strict/accepts-safe-config strict-ok EPERM
# without --strict: they start (with a warning) and are enforced
bundle lax-raw --cap-add CAP_NET_ADMIN --hook "$HOOK --policy free" -- /e2e/probe tcp 192.0.2.20 80
ctr_expect lax/net-raw-net-admin-starts lax-raw EPERM
# (the host's netns: only loopback is tried, and free denies it)
bundle lax-hostnet --uid $NOBODY_UID --host-net --hook "$HOOK --policy free" -- /e2e/probe tcp 127.0.0.1 9
ctr_expect lax/host-netns-starts lax-hostnet EPERM

# The warning itself: runc shows a hook's stderr only when the hook fails,
# so the hook is called here as runc would call it, with the OCI state of a
# process in a cgroup of ours.
mkcg direct
sh -c 'echo $$ > "$1/cgroup.procs" && exec sleep 1000' sh "$CGROOT/direct" &
direct_pid=$!
BG_PIDS+=("$direct_pid")
bundle direct --cap-add CAP_SYS_ADMIN -- true
state() {
	jq -cn --arg id "$1" --argjson pid "$2" --arg b "$T/ctr.$3" \
		'{ociVersion: "1.0.2", id: $id, status: "creating", pid: $pid, bundle: $b, annotations: {}}'
}
wait_until "$TO" grep -qx "$direct_pid" "$CGROOT/direct/cgroup.procs" || die "sleep not in $CGROOT/direct"
state direct-1 "$direct_pid" direct >"$T/state.direct"
timeout "$TO" "$EGRESSCTL" oci-hook --pin-dir "$PIN" --policy free <"$T/state.direct" >"$T/hook.out" 2>"$T/hook.err"
rc=$?
if [ $rc = 0 ] && grep -q warning "$T/hook.err" && grep -q CAP_NET_RAW "$T/hook.err" &&
	grep -q CAP_SYS_ADMIN "$T/hook.err" && [ "$(wc -l <"$T/hook.err")" = 1 ]; then
	pass direct/warns-one-line
else
	fail direct/warns-one-line "exit $rc, stderr: $(cat "$T/hook.err")"
fi
check_eq direct/bound free "$(bound_policy "$CGROOT/direct")"
check direct/enforced ectl check "$CGROOT/direct"
# poststop: the container's processes are gone, its cgroup still exists
# here (so status shows the difference)
kill "$direct_pid" 2>/dev/null
wait_until "$TO" grep -q '^populated 0' "$CGROOT/direct/cgroup.events"
state direct-1 0 direct | jq -c '.status = "stopped" | del(.pid)' >"$T/state.direct.stopped"
check direct/poststop-exit-0 sh -c "timeout $TO '$EGRESSCTL' oci-hook poststop --pin-dir '$PIN' <'$T/state.direct.stopped'"
check_eq direct/poststop-unbound "" "$(bound_policy "$CGROOT/direct")"
check_not direct/poststop-not-enforced ectl check "$CGROOT/direct"
check direct/poststop-unknown-id-exit-0 sh -c \
	"jq -c '.id = \"nosuch\"' '$T/state.direct.stopped' | timeout $TO '$EGRESSCTL' oci-hook poststop --pin-dir '$PIN'"
# --strict refuses the same state with one line; nothing bound
sh -c 'echo $$ > "$1/cgroup.procs" && exec sleep 1000' sh "$CGROOT/direct" &
direct_pid=$!
BG_PIDS+=("$direct_pid")
wait_until "$TO" grep -qx "$direct_pid" "$CGROOT/direct/cgroup.procs" || die "sleep not in $CGROOT/direct"
state direct-1 "$direct_pid" direct >"$T/state.direct"
timeout "$TO" "$EGRESSCTL" oci-hook --pin-dir "$PIN" --policy free --strict <"$T/state.direct" >"$T/hook.out" 2>"$T/hook.err"
rc=$?
if [ $rc != 0 ] && [ $rc != 124 ] && [ "$(wc -l <"$T/hook.err")" = 1 ] && [ -z "$(bound_policy "$CGROOT/direct")" ]; then
	pass direct/strict-refuses-one-line
else
	fail direct/strict-refuses-one-line "exit $rc, bound '$(bound_policy "$CGROOT/direct")', stderr: $(cat "$T/hook.err")"
fi
timeout "$TO" "$EGRESSCTL" oci-hook --pin-dir "$PIN" <"$T/state.direct" >"$T/hook.out" 2>"$T/hook.err"
rc=$?
if [ $rc != 0 ] && [ $rc != 124 ] && [ "$(wc -l <"$T/hook.err")" = 1 ] && [ -z "$(bound_policy "$CGROOT/direct")" ]; then
	pass direct/no-policy-one-line
else
	fail direct/no-policy-one-line "exit $rc, bound '$(bound_policy "$CGROOT/direct")', stderr: $(cat "$T/hook.err")"
fi
bundle direct-safe --caps "$SAFE_CAPS" -- true
state direct-2 999999999 direct-safe >"$T/state.nopid"
timeout "$TO" "$EGRESSCTL" oci-hook --pin-dir "$PIN" --policy free <"$T/state.nopid" >"$T/hook.out" 2>"$T/hook.err"
rc=$?
if [ $rc != 0 ] && [ $rc != 124 ] && [ "$(wc -l <"$T/hook.err")" = 1 ]; then
	pass direct/no-such-process-one-line
else
	fail direct/no-such-process-one-line "exit $rc, stderr: $(cat "$T/hook.err")"
fi
check_not direct/garbage-state-refused sh -c "echo '{\"id\":' | timeout $TO '$EGRESSCTL' oci-hook --pin-dir '$PIN' --policy free"
kill "$direct_pid" 2>/dev/null

# ---- 5. tier cgroups: no hook; the container lies beneath a bound tier
mkcg tiers/free tiers/pro
ectl_ok tier attach "$CGROOT/tiers/free" --policy free || die "attach tier free"
ectl_ok tier attach "$CGROOT/tiers/pro" --policy pro || die "attach tier pro"
bundle tier-denied --uid $NOBODY_UID --cgroup "$CGROOT/tiers/free/tier-denied" -- /e2e/probe tcp 192.0.2.20 80
ctr_expect tier/first-action-denied tier-denied EPERM
bundle tier-denied-root --cgroup "$CGROOT/tiers/free/tier-denied-root" -- /e2e/probe tcp 2001:db8::20 80
ctr_expect tier/first-action-denied-container-root tier-denied-root EPERM
bundle tier-allowed --uid $NOBODY_UID --cgroup "$CGROOT/tiers/free/tier-allowed" -- /e2e/probe tcp 192.0.2.10 3128
ctr_expect tier/first-action-allowed tier-allowed ok
bundle tier-deep --uid $NOBODY_UID --cgroup "$CGROOT/tiers/free/user42/sandbox7" -- /e2e/probe tcp 192.0.2.20 80
ctr_expect tier/deeper-path-denied tier-deep EPERM
bundle tier-pro --uid $NOBODY_UID --cgroup "$CGROOT/tiers/pro/tier-pro" -- \
	sh -c '/e2e/probe tcp 192.0.2.20 443; /e2e/probe tcp 192.0.2.254 80'
ctr_expect tier/pro tier-pro "ok
EPERM"
# a hook under a tier narrows, never widens: pro under free is still free
bundle tier-hook-pro --uid $NOBODY_UID --cgroup "$CGROOT/tiers/free/tier-hook-pro" --hook "$HOOK --policy pro" -- \
	/e2e/probe tcp 192.0.2.20 80
ctr_expect tier/hook-cannot-widen tier-hook-pro EPERM

# ---- 6. poststop removes the binding.  egressd is stopped first, so that
# its periodic clean-up of deleted cgroups' links cannot be what removed it
# (enforcement stays pinned; egressctl works on the pins).
stop_egressd
check_eq poststop/egressd-stopped 0 "$EGRESSD_RC"
# run ID: start it in the background, wait until it runs, report its
# cgroup id on stdout, let it end.  Not in $(...) for wait; prints to a file.
run_and_record() {
	local id=$1 cg pid cgid=""
	cg=$(ctr_cgroup "$id")
	mkfifo -m 666 "$T/ctr.$id/tmp/go"
	ctr_start_bg "$id"
	pid=$CTR_PID
	if wait_until "$TO" test -s "$T/ctr.$id/tmp/first"; then
		cgid=$(stat -c %i "$cg")
		[ "$(bound_policy "$cg")" = free ] || cgid="not-bound"
	fi
	release "$T/ctr.$id/tmp/go"
	wait_pid "$pid" >/dev/null
	echo "${cgid:-not-started}" >"$T/cgid.$id"
}
CMD=(sh -c '/e2e/probe tcp 192.0.2.20 80 > /tmp/first; read x < /tmp/go')
bundle post --uid $NOBODY_UID --hook "$HOOK --policy free" --poststop "oci-hook poststop --pin-dir $PIN" -- "${CMD[@]}"
bundle nopost --uid $NOBODY_UID --hook "$HOOK --policy free" -- "${CMD[@]}"
run_and_record post
run_and_record nopost
post_id=$(cat "$T/cgid.post")
nopost_id=$(cat "$T/cgid.nopost")
case $post_id$nopost_id in
*[!0-9]*) fail poststop/ran "containers did not run bound: post=$post_id nopost=$nopost_id $(ctr_err post) $(ctr_err nopost)" ;;
*)
	check poststop/links-removed test ! -e "$PIN/links/$post_id"
	# control: without the poststop hook the links outlive the container
	check poststop/control-links-kept test -e "$PIN/links/$nopost_id"
	out=$(ectl status --json 2>&1)
	check_json poststop/status-no-binding \
		"[.bindings[] | select(.cgroup_id == $post_id or (.cgroup | endswith(\"/post\")))] | length == 0" "$out"
	;;
esac
check poststop/container-gone ctr_gone post

# the same container id under two runtimes (two runc roots: say two
# engines on one node): the first one's poststop must not unbind the
# second, still running container
bundle same-a --uid $NOBODY_UID --hook "$HOOK --policy free" --poststop "oci-hook poststop --pin-dir $PIN" -- \
	sh -c '/e2e/probe tcp 192.0.2.20 80 > /tmp/first; read x < /tmp/go'
bundle same-b --uid $NOBODY_UID --hook "$HOOK --policy free" --poststop "oci-hook poststop --pin-dir $PIN" -- \
	sh -c '/e2e/probe tcp 192.0.2.20 80 > /tmp/first; read x < /tmp/go; /e2e/probe tcp 192.0.2.20 80'
mkfifo -m 666 "$T/ctr.same-a/tmp/go" "$T/ctr.same-b/tmp/go"
mkdir -p "$T/runc2"
CTR_NAME=same ctr_start_bg same-a
pa=$CTR_PID
wait_until "$TO" test -s "$T/ctr.same-a/tmp/first"
CTR_NAME=same CTR_ROOT=$T/runc2 ctr_start_bg same-b
pb=$CTR_PID
if wait_until "$TO" test -s "$T/ctr.same-b/tmp/first"; then
	release "$T/ctr.same-a/tmp/go"
	wait_pid "$pa"
	check_eq same-id/other-runtime-still-bound free "$(bound_policy "$(ctr_cgroup same-b)")"
	release "$T/ctr.same-b/tmp/go"
	wait_pid "$pb"
	check_eq same-id/other-runtime-still-enforced EPERM "$(ctr_out same-b)"
else
	fail same-id/started "containers did not start: $(ctr_err same-a) $(ctr_err same-b)"
fi

# ---- 7. --strict reads keys as runc does (issue 16 item 1): a key that
# differs only in case is what runc reads; the hook refuses it
# case_refused NAME JQ PATTERN: a safe bundle edited by JQ is refused, naming PATTERN
case_refused() {
	bundle "case-$1" --caps "$SAFE_CAPS" --hook "$HOOK --policy free --strict" -- \
		"${RAN_FIRST[@]}" /e2e/probe tcp 192.0.2.20 80
	bundle_edit "case-$1" "$2"
	ctr_refused "strict/case-$1" "case-$1" "$3"
}
case_refused Capabilities '.process.Capabilities = (.process.capabilities | map_values(. + ["CAP_NET_RAW"])) | del(.process.capabilities)' "'Capabilities'"
case_refused Bounding '.process.capabilities.Bounding = (.process.capabilities.bounding + ["CAP_NET_ADMIN"])' "'Bounding'"
case_refused Process '.Process = {capabilities: {bounding: ["CAP_NET_RAW"], effective: ["CAP_NET_RAW"], permitted: ["CAP_NET_RAW"]}}' "'Process'"
case_refused netns-Path ".linux.namespaces |= map(if .type == \"network\" then {type: \"network\", Path: \"$T/hostnet\"} else . end)" "'Path'"

# The hook called as runc would call it, on processes of our own cgroups.
# sleeper DIR: a process in cgroup DIR (pid in SLEEPER)
sleeper() {
	mkdir -p "$1"
	sh -c 'echo $$ > "$1/cgroup.procs" && exec sleep 1000' sh "$1" &
	SLEEPER=$!
	BG_PIDS+=("$SLEEPER")
	wait_until "$TO" grep -qx "$SLEEPER" "$1/cgroup.procs" || die "sleep not in $1"
}
# hook_call STATE [ARGS...]: the hook on a state file; HOOK_RC, $T/hook.err
hook_call() {
	local f=$1
	shift
	timeout "$TO" "$EGRESSCTL" oci-hook --pin-dir "$PIN" "$@" <"$f" >"$T/hook.out" 2>"$T/hook.err"
	HOOK_RC=$?
}
# hook_refused NAME PATTERN: the last hook_call failed with one line matching PATTERN
hook_refused() {
	if [ "$HOOK_RC" != 0 ] && [ "$HOOK_RC" != 124 ] && [ "$(wc -l <"$T/hook.err")" = 1 ] &&
		grep -Eq -- "$2" "$T/hook.err"; then
		pass "$1"
	else
		fail "$1" "exit $HOOK_RC, stderr: $(cat "$T/hook.err")"
	fi
}
hook_ok() {
	if [ "$HOOK_RC" = 0 ]; then pass "$1"; else fail "$1" "exit $HOOK_RC, stderr: $(cat "$T/hook.err")"; fi
}
stopped() { jq -c '.status = "stopped" | del(.pid)' "$1"; }

# ---- 8. --strict and the mounts (issue 15 item 5): the host's bpffs, or a
# writable cgroup2 without a cgroup namespace, defeat egress
sleeper "$CGROOT/mnt"
mnt_pid=$SLEEPER
# mnt_case NAME JQ: a safe bundle edited by JQ, the hook with --strict on it
mnt_case() {
	bundle "mnt-$1" --caps "$SAFE_CAPS" -- true
	bundle_edit "mnt-$1" "$2"
	state "mnt-$1" "$mnt_pid" "mnt-$1" >"$T/state.mnt-$1"
	hook_call "$T/state.mnt-$1" --policy free --strict
	# accepted: unbind by hand (poststop unbinds only an emptied cgroup)
	[ "$HOOK_RC" = 0 ] && ectl detach "$CGROOT/mnt" >/dev/null 2>&1
}
mnt_case bpffs-bind ".mounts += [{destination: \"/b\", type: \"bind\", source: \"$T/bpffs\", options: [\"rbind\", \"ro\"]}]"
hook_refused strict/mount-host-bpffs "bpffs"
mnt_case bpffs-pins ".mounts += [{destination: \"/b\", type: \"none\", source: \"$PIN/links\", options: [\"bind\", \"ro\"]}]"
hook_refused strict/mount-pin-dir "bpffs"
mnt_case tree-with-bpffs ".mounts += [{destination: \"/t\", type: \"bind\", source: \"$T\", options: [\"rbind\", \"rro\"]}]"
hook_refused strict/mount-tree-holding-bpffs "bpffs"
mnt_case cgroup-rw ".mounts += [{destination: \"/c\", type: \"cgroup\", source: \"cgroup\", options: [\"nosuid\"]}]"
hook_refused strict/mount-writable-cgroup-no-cgroupns "writable cgroup2 without a cgroup namespace"
mnt_case host-cgroup2-rw ".mounts += [{destination: \"/c\", type: \"bind\", source: \"$CG2\", options: [\"rbind\"]}]"
hook_refused strict/mount-host-cgroup2-writable "writable cgroup2 of the host"
mnt_case no-mountns '.linux.namespaces |= map(select(.type != "mount"))'
hook_refused strict/no-mount-namespace "no mount namespace"
mnt_case cgroup-rw-ns '.mounts += [{destination: "/c", type: "cgroup", source: "cgroup", options: ["nosuid"]}] | .linux.namespaces += [{type: "cgroup"}]'
hook_ok strict/accepts-writable-cgroup-in-cgroupns
mnt_case cgroup-ro '.mounts += [{destination: "/c", type: "cgroup", source: "cgroup", options: ["ro"]}]'
hook_ok strict/accepts-read-only-cgroup
mnt_case host-cgroup2-ro ".mounts += [{destination: \"/c\", type: \"bind\", source: \"$CG2\", options: [\"bind\", \"ro\"]}]"
hook_ok strict/accepts-read-only-cgroup2-bind
kill "$mnt_pid" 2>/dev/null

# ---- 9. the hook binds only a container's own cgroup, and poststop removes
# only what its createRuntime made (issue 16 item 2)
bundle own --caps "$SAFE_CAPS" -- true
sleeper "$CGROOT/shared"
first=$SLEEPER
state own-a "$first" own >"$T/state.own-a"
hook_call "$T/state.own-a" --policy free
hook_ok own/first-container-bound
sleeper "$CGROOT/shared"
second=$SLEEPER
state own-b "$second" own >"$T/state.own-b"
hook_call "$T/state.own-b" --policy pro
hook_refused own/second-in-same-cgroup-refused "already bound"
check_eq own/first-still-free free "$(bound_policy "$CGROOT/shared")"
stopped "$T/state.own-b" >"$T/state.own-b.stopped"
hook_call "$T/state.own-b.stopped" poststop
check_eq own/second-poststop-leaves-first free "$(bound_policy "$CGROOT/shared")"
# the first container's poststop while the cgroup still has processes: it stays
stopped "$T/state.own-a" >"$T/state.own-a.stopped"
hook_call "$T/state.own-a.stopped" poststop
check_eq own/poststop-keeps-populated-cgroup free "$(bound_policy "$CGROOT/shared")"
kill "$first" "$second" 2>/dev/null
ectl detach "$CGROOT/shared" >/dev/null 2>&1
# a bound tier as the container's cgroup, with annotation pro: refused, the
# tier and its free siblings unchanged
sleeper "$CGROOT/tiers/free"
state tier-ann "$SLEEPER" own | jq -c '.annotations = {"egress.policy": "pro"}' >"$T/state.tier-ann"
hook_call "$T/state.tier-ann"
hook_refused own/bound-tier-refused "already bound"
check_eq own/tier-still-free free "$(bound_policy "$CGROOT/tiers/free")"
mkcg tiers/free/sibling
expect own/tier-sibling-still-denied EPERM "$CGROOT/tiers/free/sibling" nobody tcp 192.0.2.20 80
kill "$SLEEPER" 2>/dev/null
# a cgroup with someone else's process, or with child cgroups: not its own
sleeper "$CGROOT/crowd"
c1=$SLEEPER
sleeper "$CGROOT/crowd"
state crowd "$c1" own >"$T/state.crowd"
hook_call "$T/state.crowd" --policy free
hook_refused own/other-process-refused "not the container's own: process $SLEEPER"
check_eq own/other-process-nothing-bound "" "$(bound_policy "$CGROOT/crowd")"
kill "$SLEEPER" 2>/dev/null
wait_until "$TO" sh -c "[ \"\$(cat '$CGROOT/crowd/cgroup.procs')\" = $c1 ]"
mkcg crowd/child
hook_call "$T/state.crowd" --policy free
hook_refused own/child-cgroups-refused "child cgroups"
kill "$c1" 2>/dev/null

# ---- 10. the hook in a cgroup namespace (issue 16 item 3): the container's
# cgroup path, relative to the namespace, collides with another cgroup's
# path under the host's mount; the hook must not bind that one
CGREL=${CGROOT#"$CG2"/}
mkcg nsroot nsctr
sleeper "$CGROOT/nsroot/$CGREL/nsctr"
ns_pid=$SLEEPER
state ns-1 "$ns_pid" own >"$T/state.ns"
# hook_in_ns UNSHARE-ARGS...: the hook on $T/state.ns, in a cgroup namespace rooted at nsroot
hook_in_ns() {
	timeout "$TO" sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CGROOT/nsroot" \
		unshare "$@" oci-hook --pin-dir "$PIN" --policy free <"$T/state.ns" >"$T/hook.out" 2>"$T/hook.err"
	HOOK_RC=$?
}
hook_in_ns -C "$EGRESSCTL"
hook_refused cgroupns/host-mount-only-fails-closed "cgroup namespace"
check_eq cgroupns/colliding-name-not-bound "" "$(bound_policy "$CGROOT/nsctr")"
check_eq cgroupns/container-not-bound-either "" "$(bound_policy "$CGROOT/nsroot/$CGREL/nsctr")"
# with its own cgroup2 mount (root "/" in the namespace) it finds the right one
mkdir -p "$T/cgns"
hook_in_ns -C -m sh -c 'mount -t cgroup2 none "$1" && shift && exec "$@"' sh "$T/cgns" "$EGRESSCTL"
hook_ok cgroupns/own-mount-binds
check_eq cgroupns/right-cgroup-bound free "$(bound_policy "$CGROOT/nsroot/$CGREL/nsctr")"
check_eq cgroupns/colliding-still-unbound "" "$(bound_policy "$CGROOT/nsctr")"
kill "$ns_pid" 2>/dev/null

# ---- 11. records of containers without poststop are collected with their
# cgroup (issue 16 item 7)
sleeper "$CGROOT/gcx"
state gc-1 "$SLEEPER" own >"$T/state.gc"
hook_call "$T/state.gc" --policy free
hook_ok gc/created
check gc/recorded sh -c "bpftool map dump pinned '$PIN/maps/egress_oci' -j | jq -e '[.[].formatted.key.id] | index(\"gc-1\") != null'"
kill "$SLEEPER" 2>/dev/null
wait_until "$TO" grep -q '^populated 0' "$CGROOT/gcx/cgroup.events"
rmdir "$CGROOT/gcx"
ectl gc >/dev/null 2>&1
check gc/record-collected sh -c "bpftool map dump pinned '$PIN/maps/egress_oci' -j | jq -e '[.[].formatted.key.id] | index(\"gc-1\") == null'"

# nothing denied ever arrived
check_eq arrivals/web-none 0 "$(count web)"
check_eq arrivals/metadata-none 0 "$(count md)"
wait_count net 2 >/dev/null
check_eq arrivals/pro-allowed 2 "$(count net)"
wait_count proxy 2 >/dev/null
check_eq arrivals/proxy 2 "$(count proxy)"

finish
