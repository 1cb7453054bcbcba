#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A shard whose loop stops turning (SIGSTOP here: stuck, as far as xtsd can
# tell) is found by its still heartbeat after timeouts.hang_ms, killed and
# restarted with a new epoch; its queue serves again, the other shard is
# untouched, a pause shorter than hang_ms is left alone, and so is a shard
# that a real-time task keeps off its CPU for longer than hang_ms (late,
# not stuck).
. "$(dirname "$0")/lib.sh"
need_root
XTS_ALLOW_RESTART=1 # the restart of the hung shard is the point
HANG=1000 # ms; the short pause below is 300 ms: headroom for a loaded machine

last=$(($(nproc) - 1))
topo_up 2
xtsd_start 2 "timeouts = { hang_ms = $HANG; };" "shards = ( { queue = 0; cpus = [ $last ]; } );"
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7
read -r p0 st0 <<<"$(shard_get 0 PID STATE)"
read -r p1 st1 <<<"$(shard_get 1 PID STATE)"
[ "$st0 $st1" = "running running" ] || fail "shards not running: $st0 $st1"
e1=$(live_epoch 1 before) || exit 1

# a pause shorter than hang_ms: no kill.  The test measures the pause it
# made (a loaded machine may stretch it) and says so if it was not short.
clock_us t0
kill -STOP "$p0"
sleep 0.3
kill -CONT "$p0"
clock_us t1
pause=$(((t1 - t0) / 1000))
info "shard 0 paused for $pause ms (hang_ms $HANG)"
[ "$pause" -lt $((HANG * 3 / 4)) ] || fail "could not make a short pause: $pause ms"
sleep 1
kill -0 "$p0" || fail "shard 0 was killed for a $pause ms pause (hang_ms $HANG)"
grep -q "shard 0 .*hung" "$WORK/xtsd.log" && fail "shard 0 reported hung after a $pause ms pause"
echo "ok: a $pause ms pause is left alone"

# stuck for good: killed and restarted
clock_us t0
kill -STOP "$p1"
for ((i = 0; i < 100; i++)); do
	grep -q "shard 1 (pid $p1) hung" "$WORK/xtsd.log" && break
	sleep 0.1
done
clock_us t1
grep -q "shard 1 (pid $p1) hung" "$WORK/xtsd.log" || fail "a stopped shard was not found hung in 10 s"
ms=$(((t1 - t0) / 1000))
info "hung shard found after ${ms} ms (hang_ms $HANG)"
# an idle shard's heartbeat moves every 100 ms (its loop sleeps to that
# deadline), so its last beat may be up to 100 ms older than the stop
[ "$ms" -ge $((HANG - 150)) ] || fail "found hung after ${ms} ms, before hang_ms less one heartbeat"
shard_back 1 "$p1" "$t0"
kill -0 "$p1" 2>/dev/null && fail "the hung shard (pid $p1) is still there"
grep -q "shard 1 (pid $p1) killed by signal 9" "$WORK/xtsd.log" || fail "no restart logged for shard 1"
[ "$(shard_get 0 PID)" = "$p0" ] || fail "shard 0 changed"
[ "$(shard_get 1 RESTARTS)" = 1 ] || fail "restart not counted"
e2=$(live_epoch 1 after) || exit 1
info "queue 1 session epoch $e1 -> $e2"
[ "$e2" != 00000000 ] && [ "$e2" != "$e1" ] || fail "epoch $e1 -> $e2 across the restart"
out=$(echo zero | H "$XTS_BIN/xts-cat" -q 0 198.18.0.2 7) && [ "$out" = zero ] ||
	fail "echo on queue 0: '$out'"

# starved, not stuck: a SCHED_FIFO busy loop on shard 0's CPU for 1.2 s
# (the kernel's RT throttling lets others run 50 ms a second; timeout runs
# above the loop so that it surely ends it) with hang_ms 500: shard 0
# waits for its CPU far longer than hang_ms, and is left alone
sed -i "s/hang_ms = $HANG;/hang_ms = 500;/" "$WORK/xts.conf"
xtsctl reload >/dev/null || fail "reload hang_ms 500"
p0=$(shard_get 0 PID)
w0=$(awk '{ print $2 }' "/proc/$p0/schedstat")
clock_us t0
chrt -f 99 taskset -c $last timeout 1.2 chrt -f 50 bash -c 'while :; do :; done'
clock_us t1
sleep 0.5
kill -0 "$p0" 2>/dev/null || fail "shard 0 was killed for waiting for its CPU: $(grep hung "$WORK/xtsd.log")"
waited=$((($(awk '{ print $2 }' "/proc/$p0/schedstat") - w0) / 1000000))
info "shard 0 waited $waited ms for its CPU during a $(((t1 - t0) / 1000)) ms real-time hog (hang_ms 500)"
[ "$waited" -ge 500 ] || fail "the hog kept shard 0 off its CPU only $waited ms: the check proves nothing"
grep -q "shard 0 .*hung" "$WORK/xtsd.log" && fail "shard 0 reported hung while it waited for a CPU"
[ "$(shard_get 0 PID)" = "$p0" ] || fail "shard 0 changed"
out=$(echo late | H "$XTS_BIN/xts-cat" -q 0 198.18.0.2 7) && [ "$out" = late ] ||
	fail "echo on queue 0 after the hog: '$out'"
echo "ok: a shard kept off its CPU for $waited ms is left alone"
echo "PASS: sup_hang"
