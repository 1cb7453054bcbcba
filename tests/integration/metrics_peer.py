#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""metrics_peer.py - hostile and plain HTTP clients of a /metrics server
(xtsd's or xportd's), for test_metrics.sh and test_xportd_metrics.sh.

  metrics_peer.py ADDR PORT codes
      one request per case (404, 405, 400, 431, 200, HTTP/1.0): prints
      "ok CASE STATUS" or "FAIL ...", exits 1 on a wrong status
  metrics_peer.py ADDR PORT silent N SECONDS
      N connections that send nothing, opened again when dropped, SECONDS
  metrics_peer.py ADDR PORT drip SECONDS
      a request one byte a second, again when dropped, SECONDS; prints
      how long each lasted ("drip: closed after X s")
"""
import select
import socket
import sys
import time


def status_of(addr, port, data, timeout=5.0):
    s = socket.create_connection((addr, port), timeout=timeout)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got = b''
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    line = got.split(b'\r\n', 1)[0].decode('latin-1')
    parts = line.split(' ')
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1), got


def codes(addr, port):
    cases = [
        ('GET /metrics', b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n', 200),
        ('GET /metrics?x=1 HTTP/1.0', b'GET /metrics?x=1 HTTP/1.0\r\n\r\n', 200),
        ('GET /', b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 404),
        ('GET /metricsx', b'GET /metricsx HTTP/1.1\r\n\r\n', 404),
        ('POST /metrics', b'POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n', 405),
        ('HEAD /metrics', b'HEAD /metrics HTTP/1.1\r\n\r\n', 405),
        ('garbage', b'\x00\x01\x02 hello\r\n\r\n', 400),
        ('no version', b'GET /metrics\r\n\r\n', 400),
        ('header without colon', b'GET /metrics HTTP/1.1\r\nbogus\r\n\r\n', 400),
        ('1 MB of headers', b'GET /metrics HTTP/1.1\r\n' + b'X-A: ' + b'a' * (1 << 20) +
         b'\r\n\r\n', 431),
    ]
    bad = 0
    for name, data, want in cases:
        got, body = status_of(addr, port, data)
        ok = got == want
        if ok and want == 200:
            ok = b'Content-Type: text/plain; version=0.0.4' in body and b'\r\n\r\n# HELP' in body
        print('%s %s: %d (want %d)' % ('ok' if ok else 'FAIL', name, got, want))
        bad |= not ok
    return bad


def silent(addr, port, n, secs):
    """n connections that send nothing; one the server drops is opened
    again at once, so that they hold n slots for SECONDS"""
    end = time.time() + secs
    socks = [socket.create_connection((addr, port)) for _ in range(n)]
    print('holding %d silent connections' % n, flush=True)
    drops = 0
    while time.time() < end:
        r, _, _ = select.select(socks, [], [], 0.05)
        for s in r:
            try:
                b = s.recv(4096)
            except ConnectionResetError:
                b = b''
            if not b:
                socks[socks.index(s)] = socket.create_connection((addr, port))
                s.close()
                drops += 1
    for s in socks:
        s.close()
    print('silent: %d dropped by the server' % drops, flush=True)
    return 0


def drip(addr, port, secs):
    """a request one byte a second, again and again for SECONDS: prints
    how long the server let each one drip"""
    req = b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'
    end = time.time() + secs
    first = True
    while time.time() < end:
        s = socket.create_connection((addr, port))
        if first:
            print('dripping', flush=True)
            first = False
        s.settimeout(1.0)
        t0, i = time.time(), 0
        while time.time() < end:
            try:
                s.send(req[i % len(req):i % len(req) + 1])
                i += 1
                if not s.recv(4096):
                    break
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        print('drip: closed after %.1f s, %d bytes sent' % (time.time() - t0, i), flush=True)
        s.close()
    return 0


def main():
    addr, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if what == 'codes':
        return codes(addr, port)
    if what == 'silent':
        return silent(addr, port, int(sys.argv[4]), float(sys.argv[5]))
    if what == 'drip':
        return drip(addr, port, float(sys.argv[4]))
    return 2


if __name__ == '__main__':
    sys.exit(main())
