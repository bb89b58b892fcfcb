#!/usr/bin/env python3
"""cache-udp.py - UDP sends for tests/integration/48-cache.sh.

  cache-udp.py connected ADDR PORT GO   connect(), sendto() the same address
        (decided by sendmsg, cached), print its word; wait until the file GO
        exists, send() without an address (no sendmsg program: only the
        backstop decides), print its word.
  cache-udp.py sendto ADDR PORT GO     unconnected: sendto() ADDR, print its
        word; wait until the file GO exists, sendto() ADDR again (sendmsg's
        own cache), print its word.
  cache-udp.py burst ADDR PORT N      unconnected: N sendto() of ADDR on one
        socket (the first decided by a lookup, the others from sendmsg's
        cache); prints "WORD=count" pairs, as tests/probe.c's loop.
  cache-udp.py lsrr FINAL FIRST PORT    unconnected: sendto(FINAL), then
        sendmsg() to FINAL with an IP_RETOPTS control message routing
        through FIRST first; print both words.

  cache-udp.py syn ADDR PORT GO HOSTNS   a TCP connect() that is never
        answered (ADDR routed to a dummy device): connect() without
        blocking (decided by connect, cached; the SYN leaves), print "sent";
        leave for the network namespace HOSTNS (a path), so that a revoke
        pass walking the namespaces of this cgroup's processes does not see
        the socket; wait until the file GO exists, then spin on this CPU for
        3.5 s (so that the SYN retransmission timers fire here) and print
        the socket's state: "syn-sent" or the errno's name.
  cache-udp.py syn-count IFACE PORT FILE   every TCP SYN to PORT that
        arrives on IFACE (AF_PACKET), one line each in FILE; prints
        "sniffing" once ready.

A word is "ok" or the errno's name.  Run it pinned to one CPU (taskset):
the cache is per CPU.
"""
import ctypes
import errno
import os
import socket
import struct
import sys
import time


def word(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def connected(addr, port, go):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    s.connect((addr, port))
    print(word(lambda: s.sendto(b"CACHE-1", (addr, port))), flush=True)
    deadline = time.time() + 30
    while not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.02)
    print(word(lambda: s.send(b"CACHE-2")), flush=True)


def sendto(addr, port, go):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    print(word(lambda: s.sendto(b"CACHE-1", (addr, port))), flush=True)
    deadline = time.time() + 30
    while not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.02)
    print(word(lambda: s.sendto(b"CACHE-2", (addr, port))), flush=True)


def burst(addr, port, n):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    counts = {}
    for _ in range(n):
        w = word(lambda: s.sendto(b"BURST", (addr, port)))
        counts[w] = counts.get(w, 0) + 1
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())), flush=True)


def lsrr(final, first, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    print(word(lambda: s.sendto(b"CACHE-1", (final, port))), flush=True)
    # NOP, LSRR (type 0x83, length 7, pointer 4, the first hop)
    opt = bytes([1, 0x83, 7, 4]) + socket.inet_aton(first)
    cm = [(socket.IPPROTO_IP, 7, opt)]	# IP_RETOPTS
    print(word(lambda: s.sendmsg([b"CACHE-2"], cm, 0, (final, port))), flush=True)


def syn(addr, port, go, hostns):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.setblocking(False)
    r = s.connect_ex((addr, port))
    print("sent" if r == errno.EINPROGRESS else errno.errorcode.get(r, str(r)), flush=True)
    libc = ctypes.CDLL(None, use_errno=True)
    with open(hostns) as f:
        if libc.setns(f.fileno(), socket.CLONE_NEWNET if hasattr(socket, "CLONE_NEWNET") else 0x40000000):
            print("setns:" + errno.errorcode.get(ctypes.get_errno(), "?"), flush=True)
            return
    deadline = time.time() + 30
    while not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.02)
    end = time.time() + 3.5
    while time.time() < end:
        pass
    e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    print("syn-sent" if e == 0 else errno.errorcode.get(e, str(e)), flush=True)


def syn_count(iface, port, path):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))	# ETH_P_ALL
    s.bind((iface, 0))
    print("sniffing", flush=True)
    with open(path, "a") as out:
        while True:
            f = s.recv(65535)
            et = struct.unpack("!H", f[12:14])[0]
            if et == 0x0800 and len(f) >= 34 and f[23] == 6:
                t = 14 + (f[14] & 0xf) * 4
            elif et == 0x86DD and len(f) >= 54 and f[20] == 6:
                t = 54
            else:
                continue
            if len(f) >= t + 14 and struct.unpack("!H", f[t + 2:t + 4])[0] == port and f[t + 13] & 0x02:
                out.write("syn\n")
                out.flush()


def main():
    a = sys.argv[1:]
    if len(a) == 4 and a[0] == "connected":
        connected(a[1], int(a[2]), a[3])
    elif len(a) == 4 and a[0] == "sendto":
        sendto(a[1], int(a[2]), a[3])
    elif len(a) == 4 and a[0] == "syn-count":
        syn_count(a[1], int(a[2]), a[3])
    elif len(a) == 5 and a[0] == "syn":
        syn(a[1], int(a[2]), a[3], a[4])
    elif len(a) == 4 and a[0] == "burst":
        burst(a[1], int(a[2]), int(a[3]))
    elif len(a) == 4 and a[0] == "lsrr":
        lsrr(a[1], a[2], int(a[3]))
    else:
        sys.exit(__doc__)


main()
