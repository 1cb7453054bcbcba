#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# drain a shard with 100 live connections: all 100 complete, no new
# connection lands on it (connect fails with ESHUTDOWN, and the host's
# xport_queue_draining() says 1),
# status shows draining and how many remain, the other shard serves;
# undrain brings it back.  (Listeners: test_drain_listen.sh.)
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr,backlog=256 PIPE
wait_port net 7

H "$XTS_BIN/xts-hold" -P -q 1 -n 100 -s 131072 -c 1024 -p 25 -T 60 198.18.0.2 7 >"$WORK/hold.out" 2>&1 &
hold=$!
for ((i = 0; i < 100; i++)); do grep -q " up" "$WORK/hold.out" && break; sleep 0.1; done
grep -q "100 up" "$WORK/hold.out" || fail "hold: $(cat "$WORK/hold.out")"

xtsctl drain 1 >"$WORK/drain.out" || fail "drain 1"
cat "$WORK/drain.out"
read -r st left <<<"$(shard_get 1 STATE CONNECTIONS)"
[ "$st" = draining ] || fail "not draining: $(xtsctl status)"
[ "$left" -gt 0 ] || fail "status shows no connections left while 100 transfer"
echo "ok: shard 1 draining, $left connections remain"
opened=$(xtsctl stats --json | jget 'j["shards"][1]["conns_opened"]')

# the host's new connect on queue 1 (the hold's probe, -P) is refused
out=$(echo other | H "$XTS_BIN/xts-cat" -q 0 198.18.0.2 7) && [ "$out" = other ] || fail "queue 0 while 1 drains"
echo "ok: queue 0 serves meanwhile"

wait $hold || fail "drained connections: $(cat "$WORK/hold.out")"
grep -q "ok 100 failed 0 probe=ESHUTDOWN draining 1" "$WORK/hold.out" || fail "hold: $(cat "$WORK/hold.out")"
echo "ok: $(tail -n1 "$WORK/hold.out")"
sleep 0.2
xtsctl stats --json >"$WORK/stats.json"
[ "$(jget 'j["shards"][1]["conns_opened"]' <"$WORK/stats.json")" = "$opened" ] || fail "a connection landed on the draining shard"
[ "$(jget 'j["shards"][1]["conns_refused_drain"]' <"$WORK/stats.json")" = 1 ] || fail "refusal not counted"
for ((i = 0; i < 50; i++)); do
	[ "$(shard_get 1 CONNECTIONS)" = 0 ] && break; sleep 0.1
done
xtsctl status

xtsctl undrain 1 >/dev/null || fail "undrain 1"
[ "$(shard_get 1 STATE)" = running ] || fail "not running after undrain"
out=$(echo back | H "$XTS_BIN/xts-cat" -q 1 198.18.0.2 7) && [ "$out" = back ] || fail "queue 1 after undrain"
echo "ok: undrain 1: queue 1 takes connections again"
xtsctl drain 7 2>"$WORK/err" && fail "drain 7 accepted"
grep -q "no shard" "$WORK/err" || fail "drain 7: $(cat "$WORK/err")"
echo "PASS: sup_drain"
