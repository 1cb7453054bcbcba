#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""strp_peer.py - the network side of test_ulp_strp.sh: a kernel-TCP peer
that speaks length-prefixed messages (a 4-byte big-endian payload length,
then the payload: a 4-byte big-endian index, then bytes (index*7 + j) & 255
for message offset j >= 8) with random segmentation, or HTTP/1 requests.

  strp_peer.py send PORT N SEED MAXP [DRIP_MS] [--tls CERT KEY]
      accept one connection, send N messages of 8..MAXP bytes cut at random
      places (pieces of 1 byte to 20 KB, many messages in one send, one
      message in many; DRIP_MS: one byte at a time, that many ms apart),
      read the echo and check it byte-exact.  Exit 0 when it matched.
  strp_peer.py poll PORT       message 0, then half of message 1, 1 s
      later the rest; then read to the end.
  strp_peer.py oversize PORT MAXP    3 messages, then a header saying
      10 * MAXP bytes; then wait for the close.
  strp_peer.py trunc PORT      2 messages, then a header of 1000 bytes and
      10 of them, then close.
  strp_peer.py sink PORT       read to the end; say how many bytes came.
  strp_peer.py http HOST PORT N SEED    connect, send N pipelined requests
      (GET, POST with Content-Length, POST chunked) at random cuts, read N
      responses and check each body names its request; then a request with
      both Content-Length and Transfer-Encoding: the DPU must end the
      connection and answer nothing.
Prints one line; exit 0 on success.
"""
import random
import socket
import ssl
import sys
import threading
import time


def msg(i, n):
    body = bytes(((i * 7 + j) & 255) for j in range(8, n))
    return (n - 4).to_bytes(4, "big") + i.to_bytes(4, "big") + body


def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(4)
    c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


def cuts(rng, data):
    """data in pieces of random size: 1 byte to 20 KB."""
    off = 0
    while off < len(data):
        k = rng.choice((1, 3, 7, 64, 700, 1500, 4000, 20000))
        k = rng.randint(1, k)
        yield data[off:off + k]
        off += k


def read_all(c, want, out):
    got = bytearray()
    while len(got) < want:
        b = c.recv(65536)
        if not b:
            break
        got += b
    out.append(bytes(got))


def tls_wrap(c, argv):
    if "--tls" not in argv:
        return c
    i = argv.index("--tls")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(argv[i + 1], argv[i + 2])
    return ctx.wrap_socket(c, server_side=True)


def do_send(argv):
    port, n, seed, maxp = (int(a) for a in argv[2:6])
    drip = int(argv[6]) if len(argv) > 6 and argv[6] != "--tls" else 0
    rng = random.Random(seed)
    sizes = [rng.choice((8, 9, maxp, rng.randint(8, maxp), rng.randint(8, 200)))
             for _ in range(n)]
    data = b"".join(msg(i, k) for i, k in enumerate(sizes))
    c = tls_wrap(listen(port), argv)
    out = []
    t = threading.Thread(target=read_all, args=(c, len(data), out))
    t.start()
    if drip:
        for i in range(len(data)):
            c.sendall(data[i:i + 1])
            time.sleep(drip / 1000)
    else:
        for p in cuts(rng, data):
            c.sendall(p)
            if rng.random() < 0.05:
                time.sleep(0.002)  # let a piece go alone
    t.join(120)
    echo = out[0] if out else b""
    if echo != data:
        at = next((i for i in range(min(len(echo), len(data))) if echo[i] != data[i]),
                  min(len(echo), len(data)))
        print(f"peer: echo differs at byte {at} of {len(data)} (got {len(echo)})")
        return 1
    print(f"peer: {n} messages ({len(data)} bytes, {min(sizes)}..{max(sizes)} each) "
          f"echoed byte-exact")
    return 0


def wait_end(c):
    c.settimeout(30)
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass


def do_poll(argv):
    c = listen(int(argv[2]))
    m1 = msg(1, 300)
    c.sendall(msg(0, 100))
    time.sleep(0.1)
    c.sendall(m1[:150])
    time.sleep(1.0)
    c.sendall(m1[150:])
    wait_end(c)
    print("peer: poll done")
    return 0


def do_oversize(argv):
    c = listen(int(argv[2]))
    maxp = int(argv[3])
    time.sleep(0.3)  # the host's connect() returns first (else it may fail)
    c.sendall(b"".join(msg(i, 50) for i in range(3)) + (10 * maxp).to_bytes(4, "big"))
    wait_end(c)
    print("peer: oversize sent")
    return 0


def do_trunc(argv):
    c = listen(int(argv[2]))
    time.sleep(0.3)  # the host's connect() returns first (else it may fail)
    c.sendall(msg(0, 40) + msg(1, 40) + (1000).to_bytes(4, "big") + b"x" * 10)
    c.close()
    print("peer: truncated message sent, closed")
    return 0


def do_sink(argv):
    c = listen(int(argv[2]))
    got = 0
    c.settimeout(30)
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            got += len(b)
    except OSError:
        pass
    print(f"peer: sink got {got} bytes")
    return 0


def do_http(argv):
    host, port, n, seed = argv[2], int(argv[3]), int(argv[4]), int(argv[5])
    rng = random.Random(seed)
    reqs = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            reqs.append(f"GET /{i} HTTP/1.1\r\nHost: dpu\r\n\r\n".encode())
        elif kind == 1:
            body = b"x" * rng.randint(0, 3000) + b"body."
            reqs.append(f"POST /{i} HTTP/1.1\r\nHost: dpu\r\nContent-Length: {len(body)}"
                        f"\r\n\r\n".encode() + body)
        else:
            body = b"y" * rng.randint(1, 2000) + b"body."
            reqs.append(f"POST /{i} HTTP/1.1\r\nHost: dpu\r\nTransfer-Encoding: chunked"
                        f"\r\n\r\n{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
    c = socket.create_connection((host, port), timeout=30)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for p in cuts(rng, b"".join(reqs)):
        c.sendall(p)
    want = b"".join(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" +
                    f"/{i} ".ljust(20).encode() for i in range(n))
    got = bytearray()
    while len(got) < len(want):
        b = c.recv(65536)
        if not b:
            break
        got += b
    if bytes(got) != want:
        print(f"peer: responses differ: {bytes(got[:200])!r}")
        return 1
    c.sendall(b"POST /smuggle HTTP/1.1\r\nHost: dpu\r\nContent-Length: 5\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    try:
        rest = c.recv(65536)
    except OSError:
        rest = b""
    if rest:
        print(f"peer: an answer to a smuggling request: {rest[:100]!r}")
        return 1
    print(f"peer: {n} pipelined requests answered in order; CL+TE refused, nothing answered")
    return 0


def main():
    mode = sys.argv[1]
    return {"send": do_send, "poll": do_poll, "oversize": do_oversize, "trunc": do_trunc,
            "sink": do_sink, "http": do_http}[mode](sys.argv)


if __name__ == "__main__":
    sys.exit(main())
