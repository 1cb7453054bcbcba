#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# api_peer.py - the scripted TCP peer of xts-api-check, run in xts-net.
# Ports: 7 echo, 8 sink (checks the byte pattern offset % 251, logs the
# count), 11 never reads, 12 sends 8 MiB then closes,
# 13 sends a byte then RST, 14 sends 1 MB and logs how the peer ended
# (fin / err ERRNO), 15 holds, 16 sends a short greeting and closes at once.  Usage: api_peer.py LOGFILE
import socket, threading, struct, sys, time, os
LOG = sys.argv[1]
def log(*a):
    with open(LOG, "a") as f: print(*a, file=f, flush=True)
def serve(port, fn, fam=socket.AF_INET6):
    s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", port)); s.listen(4096)
    def loop():
        while True:
            c, a = s.accept()
            threading.Thread(target=fn, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
def echo(c):
    try:
        while True:
            d = c.recv(65536)
            if not d: break
            c.sendall(d)
    except OSError as e: pass
    c.close()
PAT = bytes(i % 251 for i in range(65536 + 251))
def sink(c):  # count and check the pattern: stream offset o holds o % 251
    n, bad = 0, -1
    try:
        while True:
            d = c.recv(65536)
            if not d: break
            if bad < 0 and d != PAT[n % 251:n % 251 + len(d)]:
                bad = n + next(i for i in range(len(d)) if d[i] != (n + i) % 251)
            n += len(d)
    except OSError as e:
        log("sink", "error", e.errno, n); c.close(); return
    log("sink", "eof", n, "ok" if bad < 0 else "bad@%d" % bad); c.close()
def noread(c):
    time.sleep(30); c.close()
def source(c):  # send 8 MB then close
    blk = bytes(range(256)) * 256
    try:
        for i in range(128): c.sendall(blk)
    except OSError as e: log("source err", e.errno)
    c.close()
def rst(c):
    c.sendall(b"x"); time.sleep(0.2)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
def watch(c):  # send 1 MB, then report how the peer ended
    try:
        c.sendall(b"y" * 1000000)
        while True:
            d = c.recv(65536)
            if not d: log("watch", "fin"); break
    except OSError as e: log("watch", "err", e.errno)
    c.close()
def info(c):  # report peer-set options seen? just hold
    try:
        c.recv(1)
    except OSError: pass
    c.close()
def greet(c):  # data and FIN back to back: the FIN raises no edge of its own
    c.sendall(b"hello"); c.close()
serve(16, greet)
serve(7, echo); serve(8, sink); serve(11, noread); serve(12, source); serve(13, rst); serve(14, watch); serve(15, info)
log("ready")
while True: time.sleep(3600)
