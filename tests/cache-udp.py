#!/usr/bin/env python3
"""cache-udp.py - UDP sends for tests/integration/48-cache.sh.

  cache-udp.py connected ADDR PORT GO   connect(), sendto() the same address
        (decided by sendmsg, cached), print its word; wait until the file GO
        exists, send() without an address (no sendmsg program: only the
        backstop decides), print its word.
  cache-udp.py sendto ADDR PORT GO     unconnected: sendto() ADDR, print its
        word; wait until the file GO exists, sendto() ADDR again (sendmsg's
        own cache), print its word.
  cache-udp.py lsrr FINAL FIRST PORT    unconnected: sendto(FINAL), then
        sendmsg() to FINAL with an IP_RETOPTS control message routing
        through FIRST first; print both words.

A word is "ok" or the errno's name.  Run it pinned to one CPU (taskset):
the cache is per CPU.
"""
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


def lsrr(final, first, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    print(word(lambda: s.sendto(b"CACHE-1", (final, port))), flush=True)
    # NOP, LSRR (type 0x83, length 7, pointer 4, the first hop)
    opt = bytes([1, 0x83, 7, 4]) + socket.inet_aton(first)
    cm = [(socket.IPPROTO_IP, 7, opt)]	# IP_RETOPTS
    print(word(lambda: s.sendmsg([b"CACHE-2"], cm, 0, (final, port))), flush=True)


def main():
    a = sys.argv[1:]
    if len(a) == 4 and a[0] == "connected":
        connected(a[1], int(a[2]), a[3])
    elif len(a) == 4 and a[0] == "sendto":
        sendto(a[1], int(a[2]), a[3])
    elif len(a) == 4 and a[0] == "lsrr":
        lsrr(a[1], a[2], int(a[3]))
    else:
        sys.exit(__doc__)


main()
