#!/bin/bash
# 63-followers-memory.sh - stuck followers cannot grow egressd without bound
# (issue 15 item 9): with a full backlog (1,100 events), 2,000 followers
# that connect, ask to follow and never read.  egressd serves at most 1,024
# of them, tells the others why in one line and closes them, and its VmRSS
# stays under a generous bound (it was ~543 MB: ~264 KB a follower).
# Afterwards, once they are gone, a new reader gets the recent events; a
# reader beyond the limit is told why.
source "$(dirname "$0")/../lib.sh"
setup
command -v python3 >/dev/null || die "python3 not installed"

start_egressd --event-rate 0 || die "egressd not ready: $(cat "$EGRESSD_ERR")"
SOCK=$T/events.sock
ectl_ok setup policy add free --default deny \
	--hint 'Connection to {dst}:{dport} ({proto}) was blocked by the platform firewall: the free tier reaches the web only through the proxy. Set HTTPS_PROXY or upgrade to Pro. [policy {policy}, process {comm} {pid}]' ||
	die "policy add"
mkcg app
ectl_ok setup attach "$CGROOT/app" --policy free || die attach

# a full backlog: every newcomer is sent ~1,024 events (~600 KB)
NEV=1100
out=$(in_cgroup "$CGROOT/app" nsenter --net="/run/netns/$NS" "${NOBODY[@]}" timeout "$TO" \
	"$PROBE" loop tcp 192.0.2.20 80 "$NEV" 2>&1)
check_eq setup/denials "EPERM=$NEV" "$out"
_logged() { [ "$(wc -l <"$T/egressd.out")" -ge "$NEV" ]; }
wait_until 20 _logged || die "egressd logged $(wc -l <"$T/egressd.out") of $NEV events"

rss() { awk '/^VmRSS/ {print $2}' "/proc/$EGRESSD_PID/status"; }
RSS0=$(rss)

N=2000
cat >"$T/stuck.py" <<'EOF'
import resource, socket, sys, time
path, n, ready, done = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    try:
        s.sendall(b'{"cgroup": "", "follow": true}\n')
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused before the request went out: its reason is still queued to read
    socks.append(s)
open(ready, "w").close()
# stuck: read nothing until told; then only peek at the first line
t = time.time()
import os
while not os.path.exists(done) and time.time() - t < 120:
    time.sleep(0.1)
refused = 0
for s in socks:
    s.setblocking(False)
    try:
        head = s.recv(200, socket.MSG_PEEK)
    except BlockingIOError:
        head = b""
    if head.startswith(b'{"error":"too many followers'):
        refused += 1
print("refused=%d" % refused)
EOF
python3 "$T/stuck.py" "$SOCK" "$N" "$T/ready" "$T/done" >"$T/stuck.out" 2>&1 &
STUCK=$!
BG_PIDS+=("$STUCK")
wait_until 60 test -e "$T/ready" || die "the stuck followers did not connect: $(cat "$T/stuck.out")"
# egressd has accepted them all and queued what it could: RSS is flat
prev=0
for ((i = 0; i < 30; i++)); do
	sleep 1
	now=$(rss)
	[ "$now" = "$prev" ] && break
	prev=$now
done
RSS1=$(rss)
echo "# $N stuck followers: egressd VmRSS $RSS0 -> $RSS1 kB"
if [ "$RSS1" -lt 131072 ]; then
	pass memory/rss-bounded
else
	fail memory/rss-bounded "VmRSS $RSS1 kB with $N stuck followers (bound 128 MB)"
fi
touch "$T/done"
wait_pid "$STUCK"
check_eq followers/extra-ones-refused-with-reason "refused=$((N - 1024))" "$(cat "$T/stuck.out")"
kill -0 "$EGRESSD_PID" 2>/dev/null && pass egressd/alive || fail egressd/alive "egressd died"

# the stuck ones are gone: a new reader is served
_served() {
	[ "$(timeout "$TO" "$EGRESSCTL" events --socket "$SOCK" --cgroup "$CGROOT/app" 2>/dev/null | wc -l)" -ge 100 ]
}
if wait_until 20 _served; then
	pass followers/new-reader-served
else
	fail followers/new-reader-served "$(timeout "$TO" "$EGRESSCTL" events --socket "$SOCK" 2>&1 | tail -2)"
fi
# a refused reader is told why (egressctl prints egressd's line)
out=$(python3 -c '
import socket, subprocess, sys
socks = []
for i in range(1024):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(b"{\"cgroup\": \"\", \"follow\": true}\n")
    socks.append(s)
r = subprocess.run([sys.argv[2], "events", "--follow", "--socket", sys.argv[1]], capture_output=True, timeout=20)
print(r.returncode, r.stderr.decode().strip())' "$SOCK" "$EGRESSCTL" 2>&1)
check_eq followers/egressctl-told-too-many "1 egressctl: events: egressd: too many followers: egressd serves at most 1024 at once" "$out"

finish
