#!/usr/bin/env python3
"""revoke-conn.py - long-lived connections for tests/integration/8x-revoke.sh.

  revoke-conn.py serve tcp|udp ADDR PORT      echo server; prints "listening"
  revoke-conn.py hold tcp|udp ADDR PORT GO    connects, one round trip, prints
        "connected"; then waits until the file GO exists, sends and reads
        once more and prints "ok" or the errno's name (EOF: closed cleanly).

The holder is started inside the cgroup under test, so its socket is that
cgroup's; the server runs outside the test's cgroups.
"""
import errno
import os
import socket
import sys
import threading
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(proto, addr, port):
    if proto == "tcp":
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(128)
        print("listening", flush=True)

        def echo(c):
            try:
                while True:
                    b = c.recv(4096)
                    if not b:
                        break
                    c.sendall(b)
            except OSError:
                pass
            c.close()

        while True:
            c, _ = s.accept()
            threading.Thread(target=echo, args=(c,), daemon=True).start()
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("listening", flush=True)
    while True:
        b, peer = s.recvfrom(4096)
        s.sendto(b, peer)


def round_trip(s):
    s.send(b"ping")
    s.settimeout(5)
    if not s.recv(4096):
        raise EOFError


def hold(proto, addr, port, go):
    s = socket.socket(family(addr), socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        s.connect((addr, port))
        round_trip(s)
    except OSError as e:
        print("connect-" + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
        return 1
    print("connected", flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            print("no-go", flush=True)
            return 1
        time.sleep(0.02)
    try:
        round_trip(s)
    except EOFError:
        print("EOF", flush=True)
        return 1
    except socket.timeout:
        print("ETIMEDOUT", flush=True)
        return 1
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)), flush=True)
        return 1
    print("ok", flush=True)
    return 0


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "serve":
        return serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    if len(sys.argv) == 6 and sys.argv[1] == "hold":
        return hold(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    print(__doc__, file=sys.stderr)
    return 2


sys.exit(main())
