# shellcheck shell=bash
# tests/fleet-lib.sh - sourced after tests/lib.sh by the 9x-fleet-* scripts:
# the kubelet's ConfigMap volume updates, waiting for what the kernel
# enforces, and reading egressd's metrics.

# probe_is WORD CGROUP ADDR PORT: a tcp probe from CGROUP (as nobody) prints WORD.
probe_is() {
	[ "$(probe_as "$2" nobody tcp "$3" "$4" 2>/dev/null)" = "$1" ]
}

# expect_soon NAME WORD CGROUP ADDR PORT: the kernel comes to decide WORD
# (bounded; policy changes are asynchronous, their latency is in make bench).
expect_soon() {
	local n=$1
	shift
	if wait_until 15 probe_is "$@"; then
		pass "$n"
	else
		fail "$n" "probe tcp $3 $4 from $2 never printed $1 (last: $(probe_as "$2" nobody tcp "$3" "$4" 2>&1))"
	fi
}

# cm_update DIR SRC: make DIR hold exactly the files of directory SRC, as
# the kubelet's atomic_writer does for a ConfigMap volume: a new
# timestamped directory, the symlink ..data_tmp to it, rename over ..data,
# the user-visible symlinks NAME -> ..data/NAME created and the stale ones
# removed, then the old directory removed.
CM_SEQ=0
cm_update() {
	local dir=$1 src=$2 ts old f n
	CM_SEQ=$((CM_SEQ + 1))
	ts=..$(date -u +%Y_%m_%d_%H_%M_%S).$(printf '%09d' "$CM_SEQ")
	old=$(readlink "$dir/..data" 2>/dev/null)
	mkdir "$dir/$ts" || return 1
	for f in "$src"/*; do
		[ -e "$f" ] && cp "$f" "$dir/$ts/"
	done
	chmod -R a+rX "$dir/$ts"
	ln -s "$ts" "$dir/..data_tmp" || return 1
	mv -T "$dir/..data_tmp" "$dir/..data" || return 1	# rename(2), the atomic step
	for f in "$dir/$ts"/*; do
		[ -e "$f" ] || continue
		n=$(basename "$f")
		[ -L "$dir/$n" ] || ln -s "..data/$n" "$dir/$n"
	done
	for f in "$dir"/*; do
		n=$(basename "$f")
		[ -L "$f" ] && [ ! -e "$dir/$ts/$n" ] && rm -f "$f"
	done
	[ -n "$old" ] && rm -rf "${dir:?}/$old"
	return 0
}

# metric URL NAME_AND_LABELS: the value of one sample ("" if absent).
metric() {
	curl -s --max-time 5 "$1/metrics" | awk -v k="$2" 'index($0, k" ") == 1 {print $2; exit}'
}

# pset PIN: egressctl status --json's policy_set.
pset() {
	timeout "$TO" "$EGRESSCTL" status --pin-dir "$1" --json | jq -c .policy_set
}

# make_rootfs DIR: a minimal container root: busybox-static as /bin/sh and
# its applets, the probe at /e2e/probe with the libraries it loads (ldd).
make_rootfs() {
	local d=$1 lib a
	mkdir -p "$d"/{bin,e2e,proc,dev,sys,tmp,etc,lib,lib64} || return 1
	cp /bin/busybox "$d/bin/busybox" || return 1
	for a in sh cat echo sleep true false ls; do
		ln -sf busybox "$d/bin/$a"
	done
	cp "$PROBE" "$d/e2e/probe" || return 1
	for lib in $(ldd "$PROBE" | grep -oE '/[^ ]+'); do
		mkdir -p "$d$(dirname "$lib")" && cp -L "$lib" "$d$lib" || return 1
	done
	echo 'root:x:0:0:root:/:/bin/sh' >"$d/etc/passwd"
	echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>"$d/etc/passwd"
	chmod 1777 "$d/tmp"
}
