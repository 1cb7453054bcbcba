#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tls_scale.py - TLS clients for test_tls_scale.sh, one process, one
thread, non-blocking sockets on a selector (so a thousand connections are
a thousand handshakes in flight at once, not a thousand threads).

  tls_scale.py hold HOST PORT N --ca CA --name NAME --body LEN --go FILE
               [--extra M]
    opens N TLS connections at once and completes every handshake, all N
    held open together; prints "held: ..." and waits for FILE (the test
    reads the shard meanwhile); then M more connections that must all
    fail (the shard's TLS limit is N); then one GET on each of the N,
    every answer checked (200, LEN bytes of a..z).  Exit 0 when all N
    were served and all M refused.

  tls_scale.py load HOST PORT K --ca CA --name NAME --body LEN --mark FILE
               --stop FILE
    K kept-alive TLS connections, each looping GETs (one every 10 ms at
    most) until FILE --stop exists; prints each connection's certificate
    (SHA-256 of its DER) once up, and at the end how many requests each
    made after FILE --mark appeared.  Any error, reset, short or wrong
    answer on any connection: exit 1 with the reason.
"""
import argparse
import hashlib
import os
import resource
import selectors
import socket
import ssl
import sys
import time

R, W = selectors.EVENT_READ, selectors.EVENT_WRITE


class Conn:
    def __init__(self, i, a):
        self.i, self.a = i, a
        self.raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.raw.setblocking(False)
        self.fd = self.raw.fileno()
        self.tls = None
        self.state = "connect"
        self.err = None
        self.fp = None
        self.out = b""
        self.buf = b""
        self.reqs = 0
        self.at_mark = None
        self.next_t = 0.0
        self.raw.connect_ex((a.host, a.port))

    def fail(self, why):
        self.err = why if isinstance(why, str) else f"{type(why).__name__}: {why}"
        self.state = "failed"

    def handshake(self, ctx):
        """One step of the handshake: R, W, or None (done or failed)."""
        if self.state == "connect":
            e = self.raw.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e:
                self.fail(f"connect: {os.strerror(e)}")
                return None
            self.state = "hs"
        return self.io(self.hs_step, ctx)

    def hs_step(self, ctx):
        if not self.tls:  # wrapping reads: a reset may come here already
            self.tls = ctx.wrap_socket(self.raw, server_hostname=self.a.name,
                                       do_handshake_on_connect=False)
        self.tls.do_handshake()
        self.fp = hashlib.sha256(self.tls.getpeercert(binary_form=True)).hexdigest().upper()
        self.state = "up"

    def io(self, fn, *args):
        """fn(*args) on the non-blocking TLS socket: what it wants (R, W),
        or None (done, or failed with the reason)."""
        try:
            fn(*args)
        except ssl.SSLWantReadError:
            return R
        except ssl.SSLWantWriteError:
            return W
        except (ssl.SSLError, OSError) as e:
            self.fail(e)
        return None

    def request(self, body):
        """One step of GET and its answer: R, W, or None (answered or failed)."""
        if self.state == "up":
            self.out = f"GET / HTTP/1.1\r\nHost: {self.a.name}\r\n\r\n".encode()
            self.buf = b""
            self.state = "send"
        return self.io(self.rq_step, body)

    def rq_step(self, body):
        while self.state == "send":
            self.out = self.out[self.tls.send(self.out):]
            if not self.out:
                self.state = "recv"
        while True:
            d = self.tls.recv(65536)
            if not d:
                self.fail(f"closed by the server after {len(self.buf)} bytes of an answer")
                return
            self.buf += d
            if self.answer(body) is not None:
                return

    def answer(self, body):
        """None: incomplete; else the answer was checked (state up or failed)."""
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buf[:end].decode("latin-1").split("\r\n")
        clen = [int(h.split(":", 1)[1]) for h in head if h.lower().startswith("content-length:")]
        if not head[0].startswith("HTTP/1.1 200") or clen != [len(body)]:
            self.fail(f"answer: {head!r}")
            return False
        if len(self.buf) < end + 4 + len(body):
            return None
        if self.buf[end + 4:] != body:
            self.fail(f"answer: body differs ({len(self.buf) - end - 4} bytes)")
            return False
        self.reqs += 1
        self.state = "up"
        return True


def drive(conns, step, deadline, again=None):
    """Run step(c) on each connection until none wants more; again(c) (for
    a connection step finished with): the time of its next step, or None."""
    sel = selectors.DefaultSelector()
    wait = {}  # connections paused until a time
    live = 0
    for c in conns:
        sel.register(c.fd, W if c.state == "connect" else R, c)
        live += 1
    # every connection takes its first step from the loop: a connecting
    # socket waits for writable, the others are stepped at once
    ready = [c for c in conns if c.state != "connect"]
    while live and time.monotonic() < deadline:
        now = time.monotonic()
        for c in [c for c, t in wait.items() if t <= now]:
            del wait[c]
            ready.append(c)
        for c in ready:
            ev = step(c)
            if ev:
                sel.modify(c.fd, ev, c)
                continue
            t = again(c) if again and c.state != "failed" else None
            if t is None:
                sel.unregister(c.fd)
                live -= 1
            else:
                wait[c] = t
                sel.modify(c.fd, R, c)  # nothing is expected: an event is an end
        ready = []
        tmo = min([t for t in wait.values()], default=now + 0.2) - time.monotonic()
        for key, _ in sel.select(max(0.0, min(tmo, 0.2))):
            c = key.data
            if c in wait:  # the server spoke unasked: read it as a step
                del wait[c]
            ready.append(c)
    sel.close()
    return live


def ctx_for(a):
    ctx = ssl.create_default_context(cafile=a.ca)
    ctx.check_hostname = True
    return ctx


def wait_file(path, secs):
    end = time.monotonic() + secs
    while not os.path.exists(path):
        if time.monotonic() > end:
            sys.exit(f"tls_scale: {path} did not appear in {secs} s")
        time.sleep(0.05)


def body_of(n):
    return bytes(ord("a") + i % 26 for i in range(n))


def reasons(conns):
    why = {}
    for c in conns:
        if c.err:
            why[c.err] = why.get(c.err, 0) + 1
    return "; ".join(f"{n} x {e}" for e, n in sorted(why.items(), key=lambda x: -x[1])[:4])


def hold(a):
    ctx, body = ctx_for(a), body_of(a.body)
    t0 = time.monotonic()
    conns = [Conn(i, a) for i in range(a.n)]
    left = drive(conns, lambda c: c.handshake(ctx), t0 + 60)
    up = [c for c in conns if c.state == "up"]
    print(f"held: {len(up)} of {a.n} handshakes done in {time.monotonic() - t0:.2f} s, "
          f"all open together ({left} unfinished; {reasons(conns) or 'no errors'})", flush=True)
    wait_file(a.go, 120)
    extra = [Conn(a.n + i, a) for i in range(a.extra)]
    drive(extra, lambda c: c.handshake(ctx), time.monotonic() + 20)
    got = sum(c.state == "up" for c in extra)
    print(f"extra: {a.extra - got} of {a.extra} refused ({reasons(extra) or 'none'})", flush=True)
    t1 = time.monotonic()
    drive(up, lambda c: c.request(body), t1 + 60)
    ok = sum(c.reqs == 1 and c.state == "up" for c in up)
    print(f"answers: {ok} of {len(up)} right in {time.monotonic() - t1:.2f} s "
          f"({reasons(up) or 'no errors'})", flush=True)
    for c in conns + extra:
        (c.tls or c.raw).close()
    return 0 if ok == a.n and got == 0 else 1


def load(a):
    ctx, body = ctx_for(a), body_of(a.body)
    conns = [Conn(i, a) for i in range(a.n)]
    drive(conns, lambda c: c.handshake(ctx), time.monotonic() + 30)
    if any(c.state != "up" for c in conns):
        print(f"load: handshakes failed: {reasons(conns)}", flush=True)
        return 1
    print("up: " + " ".join(sorted({c.fp for c in conns})), flush=True)

    def again(c):
        if c.at_mark is None and os.path.exists(a.mark):
            c.at_mark = c.reqs
        if os.path.exists(a.stop):
            return None
        c.state = "up"
        return time.monotonic() + 0.01

    drive(conns, lambda c: c.request(body), time.monotonic() + 300, again)
    after = [c.reqs - c.at_mark if c.at_mark is not None else 0 for c in conns]
    print(f"load: {a.n} connections, {sum(c.reqs for c in conns)} requests, "
          f"{min(after)}..{max(after)} each after the mark; "
          f"{reasons(conns) or 'no errors'}", flush=True)
    for c in conns:
        c.tls.close()
    return 1 if any(c.err for c in conns) else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["hold", "load"])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("n", type=int)
    p.add_argument("--ca", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--body", type=int, required=True)
    p.add_argument("--go")
    p.add_argument("--extra", type=int, default=0)
    p.add_argument("--mark")
    p.add_argument("--stop")
    a = p.parse_args()
    want = a.n + a.extra + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    return hold(a) if a.mode == "hold" else load(a)


if __name__ == "__main__":
    sys.exit(main())
