#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# sd_listen.py - a fake service manager's NOTIFY_SOCKET, for test_sd_notify.
#
#   sd_listen.py ADDR LOG [CMD...]
#
# Binds a unix datagram socket at ADDR (a path, or "@name": abstract),
# with SO_PASSCRED so that each message comes with its sender's pid, as
# systemd checks it (NotifyAccess=main).  Each datagram is appended to LOG
# as one line: "RECV_US PID KEY=VALUE|KEY=VALUE..." (RECV_US: CLOCK_MONOTONIC
# in microseconds when it arrived).  Every message with READY=1 runs CMD at
# once (if given) and appends its output, each line prefixed "SNAP ", then
# "SNAPEND": the daemon's state as a client sees it at that moment.
# A datagram that is not UTF-8 KEY=VALUE lines is logged as "BAD ...".
import os
import socket
import struct
import subprocess
import sys
import time

addr, log = sys.argv[1], sys.argv[2]
cmd = sys.argv[3:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
with open(log, "a") as f:
    f.write("LISTENING\n")
    f.flush()
    while True:
        msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        pid = -1
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        try:
            lines = msg.decode().split("\n")
            ok = all("=" in l and l.split("=", 1)[0].isupper() for l in lines if l)
        except UnicodeDecodeError:
            ok = False
        f.write("%s %d %d %s\n" % ("MSG" if ok else "BAD", now, pid,
                                   "|".join(l for l in lines if l) if ok else repr(msg)))
        f.flush()
        if ok and "READY=1" in lines and cmd:
            r = subprocess.run(cmd, capture_output=True, text=True)
            for l in (r.stdout + r.stderr).splitlines():
                f.write("SNAP " + l + "\n")
            f.write("SNAPEND\n")
            f.flush()
