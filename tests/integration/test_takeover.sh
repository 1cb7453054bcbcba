#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A HELLO while a queue's session lives: the shard asks the live host (a
# PING in the session) before anything changes.
# 1. A forged HELLO (a raw AF_PACKET socket in the host namespace, steered
#    to queue 1 with XPS) while xts-hold carries traffic there: the host
#    answers, the HELLO is refused (hellos_refused_busy), the epoch stays,
#    the traffic completes byte-exact.
# 2. A host SIGKILLed and restarted on the same queue: nobody answers, so
#    the new HELLO takes the queue over when the probe's bound (500 ms)
#    expires; the new program gets its session (figure printed).
. "$(dirname "$0")/lib.sh"
need_root
command -v taskset >/dev/null || fail "taskset not installed"

topo_up 2
xtsd_start 2
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7
stat1() { xtsctl stats --json | jget "j['shards'][1]['$1']"; }
epoch1() { xtsctl status --json | jget "j['shards'][1]['epoch']"; }

# frames this host namespace sends from CPU 0 leave on xh0's tx queue 1,
# which reaches DPU queue 1 (veth keeps the queue index)
for t in 0 1; do
	m=0
	[ "$t" = 1 ] && m=1
	H sh -c "echo $m >/sys/class/net/xh0/queues/tx-$t/xps_cpus" || fail "xps_cpus"
done

H "$XTS_BIN/xts-hold" -q 1 -n 4 -s 1048576 -c 1024 -p 10 -T 60 198.18.0.2 7 >"$WORK/hold.out" 2>&1 &
hold=$!
for ((i = 0; i < 100; i++)); do grep -q " up" "$WORK/hold.out" && break; sleep 0.1; done
grep -q "4 up" "$WORK/hold.out" || fail "hold: $(cat "$WORK/hold.out")"
e0=$(epoch1)
H taskset -c 0 python3 "$XTS_SRC/tests/integration/forge_hello.py" xh0 || fail "forge_hello"
kill -0 $hold 2>/dev/null || fail "the transfer was over before the forged HELLO: make it longer"
for ((i = 0; i < 30; i++)); do [ "$(stat1 hellos_refused_busy)" = 1 ] && break; sleep 0.1; done
[ "$(stat1 hellos_refused_busy)" = 1 ] || fail "the forged HELLO was not refused"
sleep 0.7 # past the probe's bound: a takeover would have happened by now
[ "$(stat1 takeovers)" = 0 ] || fail "the forged HELLO took the live session over"
# the same session, or none: xts-hold may have finished meanwhile and
# ended it (epoch 0); a takeover would show a new epoch
e=$(epoch1)
[ "$e" = "$e0" ] || [ "$e" = 0 ] || fail "queue 1's epoch changed: $e0 -> $e"
wait $hold || fail "traffic across the forged HELLO: $(cat "$WORK/hold.out")"
grep -q "ok 4 failed 0" "$WORK/hold.out" || fail "hold: $(cat "$WORK/hold.out")"
echo "ok: forged HELLO refused (EBUSY), epoch $e0 kept, $(tail -n1 "$WORK/hold.out")"

# a host that dies without a word, and its successor on the same queue
# bg, not H ... &: $! must be the program itself, not a subshell around it
bg host "$XTS_BIN/xts-hold" -q 1 -n 1 -s 1048576 -c 1024 -p 50 -T 60 198.18.0.2 7 >"$WORK/dead.out" 2>&1
dead=$!
for ((i = 0; i < 100; i++)); do grep -q " up" "$WORK/dead.out" && break; sleep 0.1; done
grep -q "1 up" "$WORK/dead.out" || fail "hold: $(cat "$WORK/dead.out")"
e1=$(epoch1)
# It took nothing over: the program before it ended its session on exit
# (xport_close_queue's graceful QRESET err 0), so its HELLO found the
# queue free and no probe ran.
n0=$(stat1 takeovers)
[ "$n0" = 0 ] || fail "a program started after another exited took the queue over ($n0): the first one's session outlived it"
kill -9 $dead
wait $dead 2>/dev/null
# The kernel releases the dead program's AF_XDP socket a little later
# (EBUSY from bind until then): try until the queue can be opened.
tk=$(date +%s%N)
for ((i = 0; i < 50; i++)); do
	t0=$(date +%s%N)
	out=$(echo again | H "$XTS_BIN/xts-cat" -q 1 198.18.0.2 7 2>&1)
	t1=$(date +%s%N)
	[ "$out" = again ] && break
	echo "$out" | grep -q "Device or resource busy" || break
	sleep 0.05
done
[ "$out" = again ] || fail "the restarted host got no session: '$out'"
ms=$(((t1 - t0) / 1000000))
info "restarted host: served ${ms} ms after its start ($((i + 1)) start(s), $(((t1 - tk) / 1000000)) ms after the kill; probe bound 500 ms)"
# the shard publishes its counters a moment after it counts: a read
# straight after the reply saw takeovers still 0 once (then 1)
stats_settle
[ "$(stat1 hellos_refused_busy)" = 1 ] || fail "the restarted host's HELLO was refused"
n1=$(stat1 takeovers)
[ "$n1" = $((n0 + 1)) ] || fail "takeovers $n0 -> $n1, want +1"
[ "$(epoch1)" != "$e1" ] || fail "the epoch did not change"
((ms >= 450)) || fail "served after ${ms} ms: before the probe's bound"
echo "PASS: takeover"
