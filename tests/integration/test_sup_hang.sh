#!/usr/bin/env bash
# A shard whose loop stops turning (SIGSTOP here: stuck, as far as xtsd can
# tell) is found by its still heartbeat after timeouts.hang_ms, killed and
# restarted with a new epoch; its queue serves again, the other shard is
# untouched, and a pause shorter than hang_ms is left alone.
. "$(dirname "$0")/lib.sh"
need_root
XTS_ALLOW_RESTART=1 # the restart of the hung shard is the point

topo_up 2
xtsd_start 2 "timeouts = { hang_ms = 600; };"
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7
stats_settle
xtsctl status --json >"$WORK/st0.json" || fail "status"
p0=$(jget 'j["shards"][0]["pid"]' <"$WORK/st0.json")
p1=$(jget 'j["shards"][1]["pid"]' <"$WORK/st0.json")
[ -n "$p1" ] && [ "$p1" -gt 0 ] || fail "no pid for shard 1"
out=$(echo before | H "$XTS_BIN/xts-cat" -q 1 198.18.0.2 7) && [ "$out" = before ] ||
	fail "echo on queue 1 before: '$out'"
e1=$(xtsctl status --json | jget 'j["shards"][1]["epoch"]')

# a pause shorter than hang_ms: no kill
kill -STOP "$p0"
sleep 0.3
kill -CONT "$p0"
sleep 1
kill -0 "$p0" || fail "shard 0 was killed for a 300 ms pause (hang_ms 600)"
grep -q "shard 0 .*hung" "$WORK/xtsd.log" && fail "shard 0 reported hung after a 300 ms pause"

# stuck for good: killed and restarted
t0=$(date +%s%N)
kill -STOP "$p1"
for ((i = 0; i < 50; i++)); do
	grep -q "shard 1 (pid $p1) hung" "$WORK/xtsd.log" && break
	sleep 0.1
done
t1=$(date +%s%N)
grep -q "shard 1 (pid $p1) hung" "$WORK/xtsd.log" || fail "a stopped shard was not found hung in 5 s"
ms=$(((t1 - t0) / 1000000))
info "hung shard found after ${ms} ms (hang_ms 600)"
[ "$ms" -ge 550 ] || fail "found hung after ${ms} ms, before hang_ms"
for ((i = 0; i < 50; i++)); do
	xtsctl status --json >"$WORK/st1.json" 2>/dev/null &&
		np1=$(jget 'j["shards"][1]["pid"]' <"$WORK/st1.json") &&
		[ -n "$np1" ] && [ "$np1" != 0 ] && [ "$np1" != "$p1" ] && break
	sleep 0.1
done
[ -n "$np1" ] && [ "$np1" != "$p1" ] && [ "$np1" != 0 ] || fail "shard 1 was not restarted"
kill -0 "$p1" 2>/dev/null && fail "the hung shard (pid $p1) is still there"
grep -q "shard 1 (pid $p1) killed by signal 9" "$WORK/xtsd.log" || fail "no restart logged for shard 1"
[ "$(jget 'j["shards"][0]["pid"]' <"$WORK/st1.json")" = "$p0" ] || fail "shard 0 changed"
sleep 0.5
xtsctl status --json >"$WORK/st2.json" || fail "status"
[ "$(jget 'j["shards"][1]["restarts"]' <"$WORK/st2.json")" = 1 ] || fail "restart not counted"
out=$(echo after | H "$XTS_BIN/xts-cat" -q 1 198.18.0.2 7) && [ "$out" = after ] ||
	fail "echo on queue 1 after the restart: '$out'"
e2=$(xtsctl status --json | jget 'j["shards"][1]["epoch"]')
info "queue 1 session epoch $e1 -> $e2"
[ "$e2" != 0 ] && [ "$e2" != "$e1" ] || fail "epoch $e1 -> $e2 across the restart"
out=$(echo zero | H "$XTS_BIN/xts-cat" -q 0 198.18.0.2 7) && [ "$out" = zero ] ||
	fail "echo on queue 0: '$out'"
echo "PASS: sup_hang"
