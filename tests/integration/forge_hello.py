#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# forge_hello.py IFNAME [NONCE]: one XTS HELLO (protocol 2) from a raw
# AF_PACKET socket on IFNAME, broadcast, as any process with CAP_NET_RAW on
# the host could send it: what a forger of a queue session does.  Which
# queue it reaches is the sender's choice of tx queue (the test steers it
# with XPS and the CPU it runs on).  No answer is read: a refusal goes to
# the queue's AF_XDP socket, not here; the test reads the shard's counters.
import os
import socket
import struct
import sys

ifname = sys.argv[1]
nonce = int(sys.argv[2], 0) if len(sys.argv) > 2 else os.getpid()
mac = open(f"/sys/class/net/{ifname}/address").read().strip()
src = bytes(int(x, 16) for x in mac.split(":"))
# struct xts_hdr: version 1 (HELLO keeps version 1's header), op HELLO,
# flags NOSEQ, epoch, seq, ack, dst, src, credit 0, len 32, reserved 0
hdr = struct.pack("<BBHIIIIIIHH", 1, 1, 1, 0, 0, 0, 0, 0, 0, 32, 0)
# struct xts_hello: versions 2..2, window 128, max_frame 3518, nonce, caps
hello = struct.pack("<HHIIIQII", 2, 2, 128, 3518, nonce, 0, 0, 0)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
s.send(b"\xff" * 6 + src + struct.pack("!H", 0x88B5) + hdr + hello)
