#!/usr/bin/env bash
# kill -9 of one shard under load: only its queue's connections fail
# (ECONNRESET, at once: the restarted shard's QRESET), the other queues'
# transfers finish byte-exact, the shard is back within 1 s with a new
# epoch, and `xtsctl status` counts the restart.
. "$(dirname "$0")/lib.sh"
need_root
XTS_ALLOW_RESTART=1 # the kill is the point

topo_up 4
xtsd_start 4
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr,backlog=256 PIPE
wait_port net 7

pids=()
for q in 0 1 2 3; do
	# 10 connections x 192 KiB, 1 KiB every 15 ms: about 3 s of traffic
	H "$XTS_BIN/xts-hold" -q $q -n 10 -s 196608 -c 1024 -p 15 -T 60 198.18.0.2 7 \
		>"$WORK/hold$q.out" 2>&1 &
	pids[q]=$!
done
for ((i = 0; i < 100; i++)); do
	n=0; for q in 0 1 2 3; do grep -q " up" "$WORK/hold$q.out" && n=$((n + 1)); done
	[ $n = 4 ] && break; sleep 0.1
done
[ $n = 4 ] || fail "holds did not come up: $(cat "$WORK"/hold*.out)"
sleep 0.5
xtsctl status --json >"$WORK/st0.json" || fail "status"
old_pid=$(jget 'j["shards"][1]["pid"]' <"$WORK/st0.json")
old_epoch=$(jget 'j["shards"][1]["epoch"]' <"$WORK/st0.json")
[ "$old_epoch" != 0 ] || fail "shard 1 has no session before the kill"

t0=$(date +%s%N)
kill -9 "$old_pid" || fail "kill shard 1 ($old_pid)"
back=
for ((i = 0; i < 200; i++)); do
	xtsctl status --json >"$WORK/st1.json" 2>/dev/null &&
		[ "$(jget 'j["shards"][1]["state"]' <"$WORK/st1.json")" = running ] &&
		[ "$(jget 'j["shards"][1]["pid"]' <"$WORK/st1.json")" != "$old_pid" ] &&
		{ back=$(( ($(date +%s%N) - t0) / 1000000 )); break; }
	sleep 0.01
done
[ -n "$back" ] || fail "shard 1 not back after 2 s"
[ "$back" -le 1000 ] || fail "shard 1 back after $back ms, want <= 1000"
echo "ok: shard 1 back after $back ms (pid $old_pid -> $(jget 'j["shards"][1]["pid"]' <"$WORK/st1.json"))"

wait_gone ${pids[1]} 100 || fail "queue 1's connections did not fail within 10 s"
t1=$(( ($(date +%s%N) - t0) / 1000000 ))
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
out=$(echo hello | H "$XTS_BIN/xts-cat" -q 1 198.18.0.2 7) || fail "echo on queue 1 after restart"
[ "$out" = hello ] || fail "echo on queue 1 after restart: '$out'"
xtsctl status --json >"$WORK/st2.json" || fail status
new_epoch=$(jget 'j["shards"][1]["epoch"]' <"$WORK/st2.json")
restarts=$(jget 'j["shards"][1]["restarts"]' <"$WORK/st2.json")
[ "$new_epoch" != 0 ] && [ "$new_epoch" != "$old_epoch" ] ||
	fail "epoch $old_epoch -> $new_epoch: want a new one"
[ "$restarts" = 1 ] || fail "status: restarts = $restarts, want 1"
for q in 0 2 3; do
	[ "$(jget "j['shards'][$q]['restarts']" <"$WORK/st2.json")" = 0 ] || fail "shard $q restarted"
done
xtsctl status
echo "ok: epoch $old_epoch -> $new_epoch, restarts 1"
echo "PASS: sup_restart"
