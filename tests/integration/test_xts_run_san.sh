#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xts-run's shim under the sanitizers (the ASan build of .ci/run runs it):
# programs that run with ASan's runtime preloaded (Debian's curl does not:
# it deadlocks in setlocale under a preloaded ASan runtime, with or without
# the shim), each step checked as in test_xts_run*:
# 1. xts-run-check (built with the sanitizers itself): errno and call
#    semantics against an echo server in xts-net;
# 2. a python3 listener on two queues (--queues 2), 20 connections;
# 3. a python3 server that forks a child per connection (the parent
#    closes its copy; the child echoes): the relay of pl_fork.c.
# A sanitizer report aborts the program: the step fails.  In a build
# without sanitizers the same steps run on the plain shim.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2
RUN="$XTS_BIN/xts-run"
dpu_listening() { # PORT COUNT
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(xtsctl listeners | grep -c ":$1 ")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7

before=$(total conns_opened)
H timeout 120 "$RUN" -- "$XTS_BIN/xts-run-check" 198.18.0.2 7 9 >"$WORK/check.out" 2>&1 ||
	{ cat "$WORK/check.out"; fail "xts-run-check"; }
grep "^ok" "$WORK/check.out"
stats_settle
[ $(($(total conns_opened) - before)) -ge 3 ] || fail "xts-run-check: not offloaded"

cat >"$WORK/acc.py" <<'EOP'
import os, socket, sys
mode, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", port))
l.listen(64)
got = 0
for i in range(n):
    c, a = l.accept()
    if mode == "fork":
        if os.fork() == 0:
            l.close()
            while True:
                b = c.recv(65536)
                if not b:
                    break
                c.sendall(b)
            os._exit(0)
        c.close()
        continue
    if mode == "forkall":  # the child echoes all at the end, then exits
        if os.fork() == 0:
            l.close()
            a = bytearray()
            while True:
                b = c.recv(65536)
                if not b:
                    break
                a += b
            c.sendall(a)
            os._exit(0)
        c.close()
        continue
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += len(b)
    c.close()
if mode in ("fork", "forkall"):
    for i in range(n):
        os.wait()
print("done %d bytes %d" % (n, got), flush=True)
EOP
H timeout 120 "$RUN" --queues 2 -- /usr/bin/python3 "$WORK/acc.py" count 9101 20 >"$WORK/q2.out" 2>&1 &
apid=$!
dpu_listening 9101 2 || fail "--queues 2: DPU listeners: $(xtsctl listeners)"
for ((i = 0; i < 20; i++)); do
	echo "connection $i" | N timeout 10 socat -u - TCP:198.18.0.1:9101 || fail "connection $i"
done
wait $apid || fail "python3 --queues 2: $(cat "$WORK/q2.out")"
grep -q "^done 20 bytes 270$" "$WORK/q2.out" || fail "python3 --queues 2: $(cat "$WORK/q2.out")"
echo "ok: a python3 listener on two queues accepted 20 connections"

H timeout 120 "$RUN" -- /usr/bin/python3 "$WORK/acc.py" fork 9102 3 >"$WORK/fork.out" 2>&1 &
apid=$!
dpu_listening 9102 1 || fail "fork server: no DPU listener: $(cat "$WORK/fork.out")"
head -c 300000 /dev/urandom >"$WORK/one"
for ((i = 0; i < 3; i++)); do
	N timeout 60 socat -b 65536 -t 5 - TCP:198.18.0.1:9102 <"$WORK/one" >"$WORK/echo$i" ||
		fail "client $i of the fork server"
	cmp -s "$WORK/one" "$WORK/echo$i" || fail "fork server: echo $i differs: $(cat "$WORK/fork.out")"
done
wait $apid || fail "python3 fork server: $(cat "$WORK/fork.out")"
echo "ok: a python3 server forking a child per connection: 3 x 300 KB echoed byte-exact by the children"

# The parent waits for its child and exits at once: the relay thread dies
# with it, and the 2 MB the child wrote just before it exited (in the unix
# pair, not yet on the XTS connection) must reach the peer all the same,
# as a kernel socket's buffer outlives its last writer (pl_fork_fini; a
# parent that exited at once cut the echo short).
H timeout 120 "$RUN" -- /usr/bin/python3 "$WORK/acc.py" forkall 9103 1 >"$WORK/forkall.out" 2>&1 &
apid=$!
dpu_listening 9103 1 || fail "forkall: no DPU listener: $(cat "$WORK/forkall.out")"
head -c 2000000 /dev/urandom >"$WORK/two"
N timeout 60 socat -b 65536 -t 30 - TCP:198.18.0.1:9103 <"$WORK/two" >"$WORK/echoall" ||
	fail "client of the forkall server"
wait $apid || fail "python3 forkall server: $(cat "$WORK/forkall.out")"
cmp "$WORK/two" "$WORK/echoall" ||
	fail "a child's last 2 MB, its parent exiting: $(wc -c <"$WORK/echoall") bytes of 2000000 echoed"
echo "ok: a child's 2 MB written just before it and its parent exited: echoed byte-exact"
echo "PASS: xts_run_san"
