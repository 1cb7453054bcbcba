#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# kill -9 of one shard under load: only its queue's connections fail
# (ECONNRESET, at once: the restarted shard's QRESET), the other queues'
# transfers finish byte-exact, the shard is back (about 0.1 s; the bound
# leaves room for a loaded machine) with a new epoch, and `xtsctl status`
# counts the restart.
. "$(dirname "$0")/lib.sh"
need_root
XTS_ALLOW_RESTART=1 # the kill is the point

topo_up 4
xtsd_start 4
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr,backlog=256 PIPE
wait_port net 7

pids=()
for q in 0 1 2 3; do
	# 10 connections x 384 KiB, 1 KiB every 15 ms: about 6 s of traffic
	H "$XTS_BIN/xts-hold" -q $q -n 10 -s 393216 -c 1024 -p 15 -T 60 198.18.0.2 7 \
		>"$WORK/hold$q.out" 2>&1 &
	pids[q]=$!
done
for ((i = 0; i < 100; i++)); do
	n=0; for q in 0 1 2 3; do grep -q " up" "$WORK/hold$q.out" && n=$((n + 1)); done
	[ $n = 4 ] && break; sleep 0.1
done
[ $n = 4 ] || fail "holds did not come up: $(cat "$WORK"/hold*.out)"
sleep 0.5
read -r old_pid old_epoch <<<"$(shard_get 1 PID EPOCH)"
[ -n "$old_epoch" ] && [ "$old_epoch" != 00000000 ] || fail "shard 1 has no session before the kill"
for q in 0 1 2 3; do
	kill -0 ${pids[q]} 2>/dev/null || fail "queue $q's load ended before the kill: $(cat "$WORK/hold$q.out")"
done

# One cheap xtsctl call per poll: the figure is xtsd's, not the poll's.
# A restart takes about 0.1 s (backoff 50 ms, fork, UMEM, socket; see
# docs/design.md); the bound leaves room for a loaded machine.
clock_us t0
kill -9 "$old_pid" || fail "kill shard 1 ($old_pid)"
shard_back 1 "$old_pid" "$t0"
info "shard 1 back after $BACK_MS ms (pid $old_pid -> $BACK_PID)"
[ "$BACK_MS" -le 2000 ] || fail "shard 1 back after $BACK_MS ms, want <= 2000"
echo "ok: shard 1 back after $BACK_MS ms"

wait_gone ${pids[1]} 100 || fail "queue 1's connections did not fail within 10 s"
clock_us t; t1=$(((t - t0) / 1000))
wait ${pids[1]}; rc=$?
[ $rc = 1 ] || fail "queue 1: exit $rc: $(cat "$WORK/hold1.out")"
grep -Eq "queue 1: ok 0 failed 10 ECONNRESET=10 " "$WORK/hold1.out" ||
	fail "queue 1: want all 10 ECONNRESET: $(cat "$WORK/hold1.out")"
echo "ok: queue 1: $(tail -n1 "$WORK/hold1.out") (ended ${t1} ms after the kill)"
for q in 0 2 3; do
	wait ${pids[q]} || fail "queue $q: $(cat "$WORK/hold$q.out")"
	grep -q "ok 10 failed 0" "$WORK/hold$q.out" || fail "queue $q: $(cat "$WORK/hold$q.out")"
	echo "ok: queue $q: $(tail -n1 "$WORK/hold$q.out")"
done

# a new session on the restarted shard: a new epoch
new_epoch=$(live_epoch 1 hello) || exit 1
restarts=$(shard_get 1 RESTARTS)
[ "$new_epoch" != 00000000 ] && [ "$new_epoch" != "$old_epoch" ] ||
	fail "epoch $old_epoch -> $new_epoch: want a new one"
[ "$restarts" = 1 ] || fail "status: restarts = $restarts, want 1"
for q in 0 2 3; do
	[ "$(shard_get $q RESTARTS)" = 0 ] || fail "shard $q restarted"
done
xtsctl status
echo "ok: epoch $old_epoch -> $new_epoch, restarts 1"
echo "PASS: sup_restart"
