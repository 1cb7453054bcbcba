#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tls_hostile.py HOST PORT SECS - hostile TLS clients for test_ulp_soak.sh,
for SECS seconds, several at a time: random bytes instead of a
ClientHello, garbage after a real ClientHello's first bytes, a ClientHello
dripped a byte every 200 ms (slowloris), a record header that promises
16 KB and then the close (a truncated record), and TLS 1.2 handshakes that
ask for renegotiation (a HelloRequest is the server's; the client sends a
second ClientHello inside the session, which the DPU refuses).  Prints
how many of each it made; exit 0."""
import os
import random
import socket
import ssl
import subprocess
import sys
import threading
import time

HOST, PORT, SECS = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
END = time.time() + SECS
COUNT = {}
LOCK = threading.Lock()


def conn():
    s = socket.create_connection((HOST, PORT), timeout=5)
    s.settimeout(5)
    return s


def garbage(rng):
    s = conn()
    s.sendall(os.urandom(rng.randint(1, 4000)))
    drain(s)


def drain(s):
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()


def client_hello():
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    o = ctx.wrap_bio(inc, out, server_hostname="dpu.xts.test")
    try:
        o.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def after_hello(rng):
    s = conn()
    ch = client_hello()
    s.sendall(ch[:rng.randint(5, len(ch))] + os.urandom(rng.randint(1, 2000)))
    drain(s)


def slowloris(rng):
    s = conn()
    s.settimeout(30)
    try:
        for b in client_hello()[:40]:
            if time.time() > END:
                break
            s.sendall(bytes([b]))
            time.sleep(0.2)
    except OSError:
        pass
    s.close()


def truncated(rng):
    s = conn()
    s.sendall(b"\x16\x03\x01\x40\x00" + os.urandom(rng.randint(0, 300)))
    s.close()


def renegotiate(rng):
    """openssl s_client, TLS 1.2, asks to renegotiate ("R"): refused."""
    subprocess.run(["timeout", "10", "openssl", "s_client", "-connect", f"{HOST}:{PORT}",
                    "-tls1_2", "-servername", "dpu.xts.test"], input=b"R\n",
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=15)


KINDS = [garbage, after_hello, slowloris, truncated, renegotiate]


def worker(i):
    rng = random.Random(i)
    while time.time() < END:
        k = KINDS[rng.randrange(len(KINDS))]
        try:
            k(rng)
        except (OSError, subprocess.SubprocessError):
            pass  # a refused or reset connection is the point
        with LOCK:
            COUNT[k.__name__] = COUNT.get(k.__name__, 0) + 1


ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("hostile: " + ", ".join(f"{k} {v}" for k, v in sorted(COUNT.items())))
