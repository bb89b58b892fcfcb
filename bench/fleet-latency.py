#!/usr/bin/python3
"""bench/fleet-latency.py CHANGE_CMD N CGROUP... - from a policy change to
the change in force in every CGROUP, N times, alternating two states.

Run inside the bench's netns.  For each cgroup the process moves itself
there and opens a UDP socket (a socket belongs to the cgroup it was created
in), then moves back.  A trial runs `CHANGE_CMD STATE` (STATE = allow or
deny: whether 192.0.2.20:80 is allowed) and polls connect() on every socket
(it runs the cgroup's connect hook, sends nothing) until each returns what
STATE means.  Prints one latency in ms per trial (the slowest cgroup)."""
import errno, os, socket, subprocess, sys, time

cmd, n, cgroups = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
home = open("/proc/self/cgroup").read().strip().split("::")[-1]
cg2 = cgroups[0][: cgroups[0].index("/egress-fleet-bench")]


def move(cg):
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def sockets():
    out = []
    for cg in cgroups:
        move(cg)
        out.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    move(cg2 + home)
    return out


def allowed(s):
    try:
        s.connect(("192.0.2.20", 80))
        return True
    except OSError as e:
        if e.errno == errno.EPERM:
            return False
        raise


state = "deny"
for i in range(n):
    state = "allow" if state == "deny" else "deny"
    want = state == "allow"
    socks = sockets()
    t0 = time.monotonic()
    subprocess.run([cmd, state], check=True)
    pending = set(range(len(socks)))
    deadline = t0 + 30
    while pending and time.monotonic() < deadline:
        pending = {j for j in pending if allowed(socks[j]) != want}
        time.sleep(0.0005)  # leave the CPUs to egressd and etcd
    if pending:
        sys.exit("trial %d: not in force after 30 s" % i)
    print("%.1f" % ((time.monotonic() - t0) * 1000), flush=True)
    for s in socks:
        s.close()
