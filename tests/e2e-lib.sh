# shellcheck shell=bash
# tests/e2e-lib.sh - end-to-end helpers: runc containers, Squid, origin web
# servers and a Python "sandbox" program.  Sourced AFTER tests/lib.sh by
# tests/integration/95-oci.sh, 97-tiers-e2e.sh and demo/demo.sh; call
# `setup` (lib.sh) first, then `e2e_setup TOOL...`.
#
# Everything here lives in the test's own temp dir ($T), cgroup subtree
# ($CGROOT) and netns ($NS), and is removed on every exit: e2e_setup chains
# its own cleanup (runc delete -f of every container, the cgroup v1
# directories runc made) in front of lib.sh's `cleanup`.  Processes started
# here go to BG_PIDS, which lib.sh's cleanup kills.
#
# runc (Debian's 1.1.5) on this machine's hybrid cgroup layout: it sees
# tmpfs on /sys/fs/cgroup and takes the cgroup v1 path, but in hybrid mode it
# also puts the container into the cgroup2 mount (/sys/fs/cgroup/unified)
# at the same `linux.cgroupsPath`, before the createRuntime hooks run.  It
# needs nothing special in config.json for that: cgroupsPath is a path below
# the root of every hierarchy (here "/<CGROOT relative to the cgroup2
# mount>/...").  A /sys/fs/cgroup mount is not needed and left out (with
# one, runc mounts the v1 hierarchies inside, not cgroup2).  The side
# effect: runc also creates that path in every v1 hierarchy
# (/sys/fs/cgroup/cpu/..., memory, pids, name=systemd, ...) and `runc
# delete` removes only the container's own leaf there, so e2e_cleanup
# removes the parents.  runc uses its cgroupfs driver (no --systemd-cgroup).
#
# Environment: RUNC (default: runc from PATH), SQUID (default
# /usr/sbin/squid), PY (default /usr/bin/python3: Debian's python3, the one
# the containers see through the /usr bind mount; never a pyenv shim).

RUNC=${RUNC:-$(command -v runc 2>/dev/null || echo runc)}
SQUID=${SQUID:-/usr/sbin/squid}
PY=${PY:-/usr/bin/python3}
RUNC_ROOT=""		# runc's state dir ($T/runc)
SHARE=""		# $T/share: probe + sandbox.py, mounted read-only at /e2e in containers
E2E_CTRS=()		# container ids, for runc delete -f
E2E_ENDED=""

# Docker's default capability set (moby oci/caps/defaults.go)
DOCKER_CAPS=(CAP_CHOWN CAP_DAC_OVERRIDE CAP_FSETID CAP_FOWNER CAP_MKNOD CAP_NET_RAW CAP_SETGID
	CAP_SETUID CAP_SETFCAP CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_KILL CAP_AUDIT_WRITE)

# e2e_setup [runc] [squid] [python3]: the tools this script needs (skip, or
# FAIL with CI=true, when one is missing), the shared files, the cleanup.
e2e_setup() {
	local t
	for t in "$@"; do
		case $t in
		runc) command -v "$RUNC" >/dev/null 2>&1 || skip_all "runc not installed (Debian package runc)" ;;
		squid) [ -x "$SQUID" ] || skip_all "squid not installed (Debian package squid)" ;;
		python3) [ -x "$PY" ] || skip_all "$PY not installed (Debian package python3)" ;;
		*) die "e2e_setup: unknown tool $t" ;;
		esac
	done
	RUNC_ROOT=$T/runc
	SHARE=$T/share
	mkdir -p "$RUNC_ROOT" "$SHARE" || die "mkdir $SHARE"
	chmod 755 "$SHARE"
	cp "$PROBE" "$SHARE/probe" && chmod 755 "$SHARE/probe" || die "copy probe"
	write_sandbox_py "$SHARE/sandbox.py"
	trap _e2e_exit EXIT
}

_e2e_exit() {
	local rc=$?
	# a signal now must not cut the clean-up short (lib.sh's cleanup
	# resets these traps itself)
	trap '' TERM INT HUP
	e2e_cleanup
	(exit "$rc")
	cleanup
}

# e2e_cleanup: every container (runc delete -f), then the cgroup v1
# directories runc made for the test's cgroup path.  lib.sh's cleanup does
# the rest (processes, pins, cgroup2 tree, mounts, netns, temp dir).
e2e_cleanup() {
	local id i d rel m
	[ -n "$E2E_ENDED" ] && return 0
	E2E_ENDED=1
	set +e
	for id in "${E2E_CTRS[@]}"; do
		timeout "$TO" "$RUNC" --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1
	done
	# and whatever any runc root of the test still lists
	if [ -n "$T" ]; then
		for d in "$T"/runc*; do
			[ -d "$d" ] || continue
			for id in $(timeout "$TO" "$RUNC" --root "$d" list -q 2>/dev/null); do
				timeout "$TO" "$RUNC" --root "$d" delete -f "$id" >/dev/null 2>&1
			done
		done
	fi
	# Squid: TERM (it removes its shared memory segments), KILL if it hangs,
	# then any segment its service name left in /dev/shm
	if [ -n "$SQUID_PID" ]; then
		kill -TERM "$SQUID_PID" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			kill -0 "$SQUID_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SQUID_PID" 2>/dev/null
		wait "$SQUID_PID" 2>/dev/null
	fi
	[ -n "$SQUID_SVC" ] && rm -f /dev/shm/"$SQUID_SVC"-*
	[ -n "$CGROOT" ] && [ -n "$CG2" ] || return 0
	# whatever still runs in the tree (a container runc lost track of)
	if [ -d "$CGROOT" ]; then
		echo 1 >"$CGROOT/cgroup.kill" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			grep -q '^populated 0' "$CGROOT/cgroup.events" 2>/dev/null && break
			sleep 0.1
		done
	fi
	rel=${CGROOT#"$CG2"}
	for m in $(awk '$9 == "cgroup" {print $5}' /proc/self/mountinfo); do
		[ -d "$m$rel" ] || continue
		find "$m$rel" -depth -type d 2>/dev/null | while read -r d; do
			rmdir "$d" 2>/dev/null || { sleep 0.2; rmdir "$d" 2>/dev/null; }
		done
		[ -d "$m$rel" ] && echo "warning: $m$rel left behind" >&2
	done
	return 0
}

# ---------------------------------------------------------------- runc bundles

# bundle ID [OPTIONS] -- CMD [ARG...]: writes the bundle $T/ctr.ID
# (config.json, rootfs/, tmp/) for container ID.
#   --cgroup DIR       its cgroup2 directory (default $CGROOT/ctr/ID); must lie
#                      under the cgroup2 mount; linux.cgroupsPath is DIR
#                      relative to it
#   --uid N            process.user (default 0); gid = uid
#   --caps LIST|docker|none
#                      capabilities (bounding, effective, permitted; comma
#                      separated, CAP_ prefix); default: Docker's default set
#   --cap-add CAP, --cap-drop CAP   adjust that set
#   --cap-bounding-add CAP          only in the bounding set
#   --host-net         no network namespace (the host's)
#   --netns PATH       network namespace to join (default /run/netns/$NS)
#   --hook WORDS       a createRuntime hook: egressctl with these words
#                      (space separated), e.g. "oci-hook --pin-dir $PIN --policy free"
#   --poststop WORDS   a poststop hook, the same way
#   --annotation K=V   config.json annotation
#   --env K=V          process environment
# The rootfs is an empty directory with read-only bind mounts of the host's
# /usr and /etc and of /lib, /lib64, /bin, /sbin (as symlinks into usr/ when
# they are symlinks on the host, merged /usr), a read-write /tmp (the
# host directory $T/ctr.ID/tmp, mode 1777: how the test sees what the
# container wrote), $SHARE read-only at /e2e, proc, /dev, /sys.
bundle() {
	local id=$1 cg="" uid=0 caps=("${DOCKER_CAPS[@]}") bcaps=() hostnet="" netns=""
	local hook="" poststop="" ann=() envs=() extra=() b c d
	shift
	[ -n "$RUNC_ROOT" ] || die "bundle: e2e_setup not called"
	while [ $# -gt 0 ]; do
		case $1 in
		--cgroup) cg=$2; shift 2 ;;
		--uid) uid=$2; shift 2 ;;
		--caps)
			case $2 in
			docker) caps=("${DOCKER_CAPS[@]}") ;;
			none) caps=() ;;
			*) IFS=, read -r -a caps <<<"$2" ;;
			esac
			shift 2 ;;
		--cap-add) caps+=("$2"); shift 2 ;;
		--cap-drop)
			local keep=()
			for c in "${caps[@]}"; do [ "$c" = "$2" ] || keep+=("$c"); done
			caps=("${keep[@]}")
			shift 2 ;;
		--cap-bounding-add) bcaps+=("$2"); shift 2 ;;
		--host-net) hostnet=1; shift ;;
		--netns) netns=$2; shift 2 ;;
		--hook) hook=$2; shift 2 ;;
		--poststop) poststop=$2; shift 2 ;;
		--annotation) ann+=("$2"); shift 2 ;;
		--env) envs+=("$2"); shift 2 ;;
		--) shift; break ;;
		*) die "bundle: unknown option $1" ;;
		esac
	done
	[ $# -gt 0 ] || die "bundle $id: no command"
	[ -n "$cg" ] || cg=$CGROOT/ctr/$id
	case $cg in
	"$CG2"/?*) ;;
	*) die "bundle $id: cgroup $cg is not under $CG2" ;;
	esac
	[ -n "$netns" ] || netns=/run/netns/$NS
	b=$T/ctr.$id
	rm -rf "$b"
	mkdir -p "$b/rootfs" "$b/tmp" || die "bundle $id: mkdir"
	chmod 1777 "$b/tmp"
	for d in usr etc tmp proc dev sys e2e; do
		mkdir -p "$b/rootfs/$d"
	done
	for d in lib lib64 bin sbin lib32 libx32; do
		if [ -L "/$d" ]; then
			ln -s "$(readlink "/$d")" "$b/rootfs/$d"
		elif [ -d "/$d" ]; then
			mkdir -p "$b/rootfs/$d"
			extra+=("/$d")
		fi
	done
	E2E_CTRS+=("$id")
	jq -n \
		--arg args "$(printf '%s\n' "$@")" \
		--argjson uid "$uid" \
		--arg caps "$(printf '%s\n' "${caps[@]}")" \
		--arg bcaps "$(printf '%s\n' "${bcaps[@]}")" \
		--arg cgpath "${cg#"$CG2"}" \
		--arg netns "$netns" --arg hostnet "$hostnet" \
		--arg egressctl "$EGRESSCTL" \
		--arg hook "$hook" --arg poststop "$poststop" \
		--arg ann "$(printf '%s\n' "${ann[@]}")" \
		--arg envs "$(printf '%s\n' "${envs[@]}")" \
		--arg tmp "$b/tmp" --arg share "$SHARE" \
		--arg extra "$(printf '%s\n' "${extra[@]}")" \
		--arg hostname "$id" '
	def lines: split("\n") | map(select(length > 0));
	def words: split(" ") | map(select(length > 0));
	def hookof($w): {path: $egressctl, args: (["egressctl"] + ($w | words)), timeout: 20};
	($caps | lines) as $c |
	{
	  ociVersion: "1.0.2-dev",
	  process: {
	    terminal: false,
	    user: {uid: $uid, gid: $uid},
	    args: ($args | lines),
	    env: (["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"] + ($envs | lines)),
	    cwd: "/tmp",
	    capabilities: {bounding: ($c + ($bcaps | lines) | unique), effective: $c, permitted: $c},
	    rlimits: [{type: "RLIMIT_NOFILE", hard: 1024, soft: 1024}],
	    noNewPrivileges: true
	  },
	  root: {path: "rootfs", readonly: true},
	  hostname: $hostname,
	  mounts: ([
	    {destination: "/proc", type: "proc", source: "proc"},
	    {destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
	    {destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
	    {destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
	    {destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]},
	    {destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]},
	    {destination: "/usr", type: "bind", source: "/usr", options: ["rbind", "ro", "nosuid", "nodev"]},
	    {destination: "/etc", type: "bind", source: "/etc", options: ["rbind", "ro", "nosuid", "nodev"]},
	    {destination: "/tmp", type: "bind", source: $tmp, options: ["rbind", "rw", "nosuid", "nodev"]},
	    {destination: "/e2e", type: "bind", source: $share, options: ["rbind", "ro", "nosuid", "nodev"]}
	  ] + ($extra | lines | map({destination: ., type: "bind", source: ., options: ["rbind", "ro", "nosuid", "nodev"]}))),
	  annotations: ($ann | lines | map(capture("^(?<key>[^=]*)=(?<value>.*)$")) | from_entries),
	  hooks: ({}
	    + (if $hook == "" then {} else {createRuntime: [hookof($hook)]} end)
	    + (if $poststop == "" then {} else {poststop: [hookof($poststop)]} end)),
	  linux: {
	    cgroupsPath: $cgpath,
	    namespaces: ([{type: "pid"}, {type: "ipc"}, {type: "uts"}, {type: "mount"}]
	      + (if $hostnet == "" then [{type: "network", path: $netns}] else [] end)),
	    maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
	    readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
	  }
	}' >"$b/config.json" || die "bundle $id: jq"
}

# bundle_edit ID JQ_FILTER: rewrite the bundle's config.json through jq.
bundle_edit() {
	local f=$T/ctr.$1/config.json
	jq "$2" "$f" >"$f.new" && mv "$f.new" "$f" || die "bundle_edit $1: jq $2"
}

# ctr_cgroup ID: the container's cgroup2 directory (from its config.json).
ctr_cgroup() {
	printf '%s%s\n' "$CG2" "$(jq -r .linux.cgroupsPath "$T/ctr.$1/config.json")"
}

# ctr_run ID: `runc run` in the foreground, bounded; its stdout goes to
# $T/ctr.ID/out, its stderr to $T/ctr.ID/err; returns runc's status (the
# container process's status, or non-zero when runc refused).  Not in $(...).
ctr_run() {
	local id=$1 rc
	timeout "$TO" "$RUNC" --root "$RUNC_ROOT" run --bundle "$T/ctr.$id" "$id" \
		</dev/null >"$T/ctr.$id/out" 2>"$T/ctr.$id/err"
	rc=$?
	# runc run removes the container when it ends; after a timeout it is left
	[ $rc = 124 ] && timeout "$TO" "$RUNC" --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1
	return $rc
}

# ctr_out ID: what the container printed on stdout.
ctr_out() { cat "$T/ctr.$1/out" 2>/dev/null; }
ctr_err() { cat "$T/ctr.$1/err" 2>/dev/null; }

# ctr_start_bg ID: `runc run` in the background (its pid in CTR_PID, also
# in BG_PIDS); wait for it with wait_pid.  Output as ctr_run.  CTR_ROOT
# and CTR_NAME (in the environment of the call) run bundle ID under another
# runc root ($T/runc* only: e2e_cleanup deletes what those list) and
# container id.
CTR_PID=""
ctr_start_bg() {
	local id=$1
	"$RUNC" --root "${CTR_ROOT:-$RUNC_ROOT}" run --bundle "$T/ctr.$id" "${CTR_NAME:-$id}" \
		</dev/null >"$T/ctr.$id/out" 2>"$T/ctr.$id/err" &
	CTR_PID=$!
	BG_PIDS+=("$CTR_PID")
}

# ctr_state ID: runc's state of ID ("running", ...), or nothing.
ctr_state() {
	timeout "$TO" "$RUNC" --root "$RUNC_ROOT" state "$1" 2>/dev/null | jq -r .status
}

# ctr_gone ID: runc no longer knows ID.
ctr_gone() { ! timeout "$TO" "$RUNC" --root "$RUNC_ROOT" state "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- servers

# wait_listening ADDR PORT: (bounded) until something listens on tcp ADDR:PORT in the netns.
_listening() { [ -n "$(in_ns ss -Hltn "src $1 and sport = :$2" 2>/dev/null)" ]; }
wait_listening() { wait_until "$TO" _listening "$1" "$2"; }

# origin_start NAME ADDR PORT: a web server (python3 http.server) in the
# netns, serving "NAME" at / and at any /NAME path; log in $T/origin.NAME.log.
origin_start() {
	local n=$1 addr=$2 port=$3 dir=$T/www.$1
	mkdir -p "$dir/latest/meta-data" || die "mkdir $dir"
	printf '%s\n' "$n" >"$dir/index.html"
	printf 'secret-credentials-of-%s\n' "$n" >"$dir/latest/meta-data/index.html"
	nsenter --net="/run/netns/$NS" "$PY" -m http.server --bind "$addr" --directory "$dir" "$port" \
		>"$T/origin.$n.log" 2>&1 &
	BG_PIDS+=($!)
	wait_listening "$addr" "$port" || die "origin $n ($addr:$port) did not start: $(cat "$T/origin.$n.log")"
}

# squid_start ADDR PORT HOSTS WHITELIST: Squid in the foreground (-N) in the
# netns, on ADDR:PORT, with its own config, pid file, logs and service name
# (its shared memory and IPC names stay apart from any other Squid), no
# cache_dir; names resolved only through its hosts_file (HOSTS: "ADDR NAME"
# lines separated by ";"), allowing only the dstdomain list WHITELIST
# (space separated).  Files in $T/squid; access log $T/squid/access.log.
SQUID_DIR=""
SQUID_PID=""
SQUID_SVC=""
squid_start() {
	local addr=$1 port=$2 hosts=$3 wl=$4 d=$T/squid user=proxy svc
	SQUID_DIR=$d
	mkdir -p "$d" || die "mkdir $d"
	id -u "$user" >/dev/null 2>&1 || user=nobody
	svc=egt${RUNTAG}s$$
	SQUID_SVC=$svc
	printf '%s\n' "${hosts//;/$'\n'}" >"$d/hosts"
	cat >"$d/squid.conf" <<EOF
# egress end-to-end test proxy ($TEST)
http_port $addr:$port
pid_filename $d/squid.pid
cache_log $d/cache.log
access_log stdio:$d/access.log
cache_store_log none
coredump_dir $d
cache_effective_user $user
hosts_file $d/hosts
dns_nameservers 127.0.0.1
pinger_enable off
netdb_filename none
shutdown_lifetime 0 seconds
logfile_rotate 0
visible_hostname egress-e2e-proxy
cache_mem 8 MB
cache deny all
acl whitelist dstdomain $wl
http_access allow whitelist
http_access deny all
EOF
	chown -R "$user" "$d" || die "chown $d"
	nsenter --net="/run/netns/$NS" "$SQUID" -N -n "$svc" -f "$d/squid.conf" >"$d/stdout" 2>&1 &
	SQUID_PID=$!
	BG_PIDS+=("$SQUID_PID")
	if ! wait_listening "$addr" "$port"; then
		die "squid did not listen on $addr:$port: $(cat "$d/stdout" 2>/dev/null; tail -5 "$d/cache.log" 2>/dev/null)"
	fi
}

# ---------------------------------------------------------------- the sandbox program

# sandbox.py [--proxy URL] STEP...: what a user's code in the execution
# service does, in steps; one line per step on stdout ("TAG: RESULT"):
#   TAG=web:URL       urllib through the proxy: "HTTP 200 <body's first line>",
#                     "HTTP 403 <X-Squid-Error>", or the error
#   TAG=get:URL       urllib, no proxy (a direct HTTP request)
#   TAG=direct:H:P    socket.create_connection((H, P)): "connected", or the
#                     error ("PermissionError [Errno 1] Operation not permitted")
#   TAG=wait:PATH     read PATH (a fifo): wait for the test
#   TAG=cgroup        its cgroup2 path (from /proc/self/cgroup)
write_sandbox_py() {
	cat >"$1" <<'EOF'
import socket, sys, urllib.error, urllib.request

def err(e):
    if isinstance(e, urllib.error.URLError) and isinstance(e.reason, OSError):
        e = e.reason
    return "%s %s" % (type(e).__name__, e)

def fetch(url, proxy):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy} if proxy else {}))
    try:
        with opener.open(url, timeout=10) as r:
            return "HTTP %d %s" % (r.status, r.read().decode().splitlines()[0])
    except urllib.error.HTTPError as e:
        return "HTTP %d %s" % (e.code, e.headers.get("X-Squid-Error", "(no X-Squid-Error)"))
    except Exception as e:
        return err(e)

def direct(host, port):
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
        return "connected"
    except Exception as e:
        return err(e)

args = sys.argv[1:]
proxy = None
if args[:1] == ["--proxy"]:
    proxy, args = args[1], args[2:]
for step in args:
    tag, _, what = step.partition("=")
    kind, _, arg = what.partition(":")
    if kind == "web":
        res = fetch(arg, proxy)
    elif kind == "get":
        res = fetch(arg, None)
    elif kind == "direct":
        res = direct(*arg.rsplit(":", 1))
    elif kind == "wait":
        with open(arg) as f:
            res = "resumed " + f.read().strip()
    elif kind == "cgroup":
        res = [l[3:].strip() for l in open("/proc/self/cgroup") if l.startswith("0::")][0]
    else:
        res = "bad step " + step
    print("%s: %s" % (tag, res), flush=True)
EOF
	chmod 644 "$1"
}

# step_line FILE TAG: the RESULT of step TAG in FILE (the sandbox's output).
step_line() {
	sed -n "s/^$2: //p" "$1" 2>/dev/null | head -1
}

# wait_step FILE TAG: (bounded) until step TAG has printed its line.
_has_step() { grep -q "^$2: " "$1" 2>/dev/null; }
wait_step() { wait_until "$TO" _has_step "$1" "$2"; }

# check_step NAME FILE TAG PATTERN: step TAG's result matches the ERE PATTERN.
check_step() {
	local got
	got=$(step_line "$2" "$3")
	if printf '%s\n' "$got" | grep -Eq -- "$4"; then
		pass "$1"
	else
		fail "$1" "step $3: expected /$4/, got '$got' -- output: $(cat "$2" 2>/dev/null)"
	fi
}

# release FIFO [WORD]: let a sandbox waiting on FIFO go on (bounded).
release() {
	timeout "$TO" sh -c 'echo "$2" > "$1"' sh "$1" "${2:-go}"
}

# ---------------------------------------------------------------- container checks

# RAN_FIRST: a container command prefix whose very first act is to leave
# /tmp/ran behind (so a refused container provably never ran), then exec.
RAN_FIRST=(sh -c 'echo ran > /tmp/ran; exec "$@"' sh)

# ctr_expect NAME ID WANT: `runc run` ID (bounded); its stdout is exactly WANT.
ctr_expect() {
	local n=$1 id=$2 want=$3 rc out
	ctr_run "$id"
	rc=$?
	out=$(ctr_out "$id")
	if [ "$out" = "$want" ]; then
		pass "$n"
	else
		fail "$n" "container $id: expected '$want', got '$out' (runc exit $rc) -- stderr: $(ctr_err "$id")"
	fi
}

# pinned_links: how many cgroups have pinned links under the test's pin dir.
pinned_links() { find "$PIN/links" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# ctr_refused NAME ID PATTERN: runc refuses to start ID: a non-zero exit
# (not a timeout), runc's stderr matches the ERE PATTERN (the hook's line),
# the container's process never ran (no /tmp/ran: its command must start
# with RAN_FIRST), runc forgot the container, its cgroup is gone, and no
# binding was left behind (pinned links unchanged).
ctr_refused() {
	local n=$1 id=$2 pat=$3 rc before after cg
	cg=$(ctr_cgroup "$id")
	before=$(pinned_links)
	ctr_run "$id"
	rc=$?
	after=$(pinned_links)
	if [ $rc = 0 ] || [ $rc = 124 ]; then
		fail "$n" "runc exit $rc: expected a refusal -- out: $(ctr_out "$id") err: $(ctr_err "$id")"
	elif [ -e "$T/ctr.$id/tmp/ran" ]; then
		fail "$n" "runc exit $rc, but the container's process ran -- err: $(ctr_err "$id")"
	elif ! ctr_err "$id" | grep -Eq -- "$pat"; then
		fail "$n" "runc exit $rc, stderr does not match /$pat/: $(ctr_err "$id")"
	elif ! ctr_gone "$id"; then
		fail "$n" "runc still knows container $id: $(ctr_state "$id")"
	elif [ -d "$cg" ]; then
		fail "$n" "its cgroup $cg is still there"
	elif [ "$before" != "$after" ]; then
		fail "$n" "pinned links $before before, $after after: a binding was left behind"
	else
		pass "$n"
	fi
}

# bound_policy DIR: the policy `egressctl status --json` lists for cgroup
# DIR, or nothing.
bound_policy() {
	ectl status --json 2>/dev/null | jq -r --arg cg "$1" '.bindings[] | select(.cgroup == $cg) | .policy'
}

# ---------------------------------------------------------------- the free/pro story

# The platform, inside the test's netns (pass TIERS_ADDRS to `setup`):
# Squid on 192.0.2.10:3128 whitelisting allowed.example; origin web servers
# allowed.example (192.0.2.21:80) and other.example (192.0.2.22:80); a
# stand-in for a remote PostgreSQL (192.0.2.30:5432, a counting listener);
# a stand-in for the cloud metadata endpoint 169.254.169.254 (192.0.2.254:80).
TIERS_ADDRS=(192.0.2.10 192.0.2.21 192.0.2.22 192.0.2.30 192.0.2.254)
PROXY_ADDR=192.0.2.10
PROXY_PORT=3128
PROXY_URL=http://$PROXY_ADDR:$PROXY_PORT
PG=192.0.2.30:5432
METADATA=192.0.2.254
FREE_HINT='Your code tried to connect to {dst}:{dport} ({proto}) directly. Free sandboxes reach the web only through the platform proxy (HTTP_PROXY); direct connections need Pro. [policy {policy}, process {comm} {pid}]'

# tiers_setup: egressd, the policies free and pro, Squid, the origins, the
# PostgreSQL stand-in.
tiers_setup() {
	start_egressd || die "egressd not ready: $(cat "$EGRESSD_ERR")"
	# free: FREE_HINT, the proxy only; pro: all but METADATA
	ectl_ok setup apply -f "$ROOT/tests/fixtures/tiers.policy" || die "apply tests/fixtures/tiers.policy"
	[ "$(ectl policy list --json | jq -r '.[] | select(.name == "free") | .hint')" = "$FREE_HINT" ] ||
		die "tests/fixtures/tiers.policy: the hint of free is not FREE_HINT"
	origin_start allowed.example 192.0.2.21 80
	origin_start other.example 192.0.2.22 80
	origin_start metadata 192.0.2.254 80
	squid_start "$PROXY_ADDR" "$PROXY_PORT" "192.0.2.21 allowed.example;192.0.2.22 other.example" allowed.example
	listen pg tcp "${PG%:*}" "${PG#*:}"
}

# follow_hints NAME DIR: `egressctl events --follow --cgroup DIR --format
# hint` in the background, lines to $T/hints.NAME (what the execution
# service would show the user of that sandbox).
follow_hints() {
	timeout 600 "$EGRESSCTL" events --follow --cgroup "$2" --format hint --socket "$T/events.sock" \
		>"$T/hints.$1" 2>"$T/hints.$1.err" &
	BG_PIDS+=($!)
}

# sandbox_run POLICY PARENT OUT STEP...: sandbox.py as uid 65534 through
# `egressctl run --policy POLICY --cgroup-parent PARENT` in the netns,
# stdout to OUT, bounded.  Not in $(...) when run with & (pid in SANDBOX_PID).
sandbox_run() {
	local pol=$1 parent=$2 out=$3
	shift 3
	timeout "$TO" nsenter --net="/run/netns/$NS" "$EGRESSCTL" run --pin-dir "$PIN" --policy "$pol" \
		--cgroup-parent "$parent" -- "${NOBODY[@]}" "$PY" -I "$SHARE/sandbox.py" --proxy "$PROXY_URL" "$@" \
		>"$out" 2>"$out.err"
}

# sandbox_bundle ID CGROUP [BUNDLE-OPTIONS...] -- STEP...: a runc container
# (uid 65534) running sandbox.py with these steps.
sandbox_bundle() {
	local id=$1 cg=$2 opts=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	bundle "$id" --uid 65534 --cgroup "$cg" "${opts[@]}" -- \
		/usr/bin/python3 -I /e2e/sandbox.py --proxy "$PROXY_URL" "$@"
}
