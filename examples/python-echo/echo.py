#!/usr/bin/env python3
"""Example service for sockd (or systemd): a line echo server that takes its
listening socket from fd 3, as sd_listen_fds(3) hands it over, using only the
standard library (socket.fromfd).

It checks LISTEN_PID and LISTEN_FDS the way sd_listen_fds does, serves each
connection in a thread, and exits after IDLE_EXIT seconds without clients if
that variable is set (socket activation starts it again on the next client).
"""
import os
import socket
import sys
import threading

SD_LISTEN_FDS_START = 3


def listen_fds():
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return []
    n = int(os.environ.get("LISTEN_FDS", "0"))
    names = os.environ.get("LISTEN_FDNAMES", "").split(":")
    fds = []
    for i in range(n):
        fd = SD_LISTEN_FDS_START + i
        os.set_inheritable(fd, False)
        fds.append((fd, names[i] if i < len(names) else "unknown"))
    return fds


def serve(conn):
    with conn:
        f = conn.makefile("rwb", buffering=0)
        for line in f:
            f.write(line)


def main():
    fds = listen_fds()
    if not fds:
        sys.exit("echo.py: no socket passed (LISTEN_PID/LISTEN_FDS not set for this process)")
    fd, name = fds[0]
    sock = socket.fromfd(fd, socket.AF_INET6 if _family(fd) == socket.AF_INET6 else socket.AF_INET, socket.SOCK_STREAM)
    os.close(fd)  # fromfd dup()ed it
    idle = float(os.environ.get("IDLE_EXIT", "0")) or None
    sock.settimeout(idle)
    print(f"echo.py: serving {name} on {sock.getsockname()}", flush=True)
    while True:
        try:
            conn, _ = sock.accept()
        except socket.timeout:
            print("echo.py: idle, exiting", flush=True)
            return
        conn.settimeout(None)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def _family(fd):
    s = socket.socket(fileno=os.dup(fd))
    try:
        return s.family
    finally:
        s.close()


if __name__ == "__main__":
    main()
