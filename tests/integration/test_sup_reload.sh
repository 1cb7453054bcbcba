#!/usr/bin/env bash
# reload: a limit lowered while transfers are in flight takes effect for
# new connects (ENOBUFS past it) and the established transfers complete
# byte-exact; a file that fails validation changes nothing (exit 1, the
# reason with file:line).
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2 "limits = { max_conns = 100; };"
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7

# 8 connections on queue 0, 512 KiB each, about 4 s
H "$XTS_BIN/xts-hold" -q 0 -n 8 -s 524288 -c 2048 -p 8 -T 60 198.18.0.2 7 >"$WORK/hold.out" 2>&1 &
hold=$!
for ((i = 0; i < 100; i++)); do grep -q " up" "$WORK/hold.out" && break; sleep 0.1; done
grep -q "8 up" "$WORK/hold.out" || fail "hold: $(cat "$WORK/hold.out")"

sed -i 's/max_conns = 100;/max_conns = 3;/' "$WORK/xts.conf"
xtsctl reload >"$WORK/reload.out" 2>&1 || fail "reload: $(cat "$WORK/reload.out")"
grep -q "generation=2" "$WORK/reload.out" || fail "reload: $(cat "$WORK/reload.out")"
for ((i = 0; i < 50; i++)); do
	xtsctl status --json >"$WORK/st.json"
	[ "$(jget 'j["shards"][0]["cfg_gen"], j["shards"][1]["cfg_gen"]' <"$WORK/st.json")" = "2 2" ] && break
	sleep 0.05
done
[ "$(jget 'j["shards"][0]["max_conns"]' <"$WORK/st.json")" = 3 ] || fail "limit not in force: $(cat "$WORK/st.json")"
kill -0 $hold 2>/dev/null || fail "the transfer was over before the reload: make it longer"
echo "ok: reload to generation 2 (max_conns 3) while 8 connections transfer"

# the new limit: queue 1 takes 3 of 5
H "$XTS_BIN/xts-hold" -q 1 -n 5 -s 4096 -T 20 198.18.0.2 7 >"$WORK/lim.out" 2>&1
grep -q "ok 3 failed 2 ENOBUFS=2" "$WORK/lim.out" || fail "limit: $(cat "$WORK/lim.out")"
echo "ok: queue 1 after the reload: $(tail -n1 "$WORK/lim.out")"

wait $hold || fail "transfer across the reload: $(cat "$WORK/hold.out")"
grep -q "ok 8 failed 0" "$WORK/hold.out" || fail "hold: $(cat "$WORK/hold.out")"
echo "ok: in flight across the reload: $(tail -n1 "$WORK/hold.out")"

# a bad file: refused, generation 2 stays
cp "$WORK/xts.conf" "$WORK/good.conf"
echo "limits = { conn_buf = 1; };" >>"$WORK/xts.conf"
xtsctl reload >"$WORK/bad.out" 2>&1 && fail "bad reload exited 0"
grep -Eq "^xtsctl: reload: $WORK/xts.conf:[0-9]+: " "$WORK/bad.out" || fail "bad reload: $(cat "$WORK/bad.out")"
[ "$(xtsctl status --json | jget 'j["xtsds"][0]["generation"]')" = 2 ] || fail "generation changed"
echo "ok: bad file refused: $(cat "$WORK/bad.out")"
cp "$WORK/good.conf" "$WORK/xts.conf"
echo "queue = { window = 64; };" >>"$WORK/xts.conf"
xtsctl reload >"$WORK/bad.out" 2>&1 && fail "restart-only change accepted"
grep -q "queue.window: changed; that needs a restart" "$WORK/bad.out" || fail "$(cat "$WORK/bad.out")"
echo "ok: restart-only option refused: $(cat "$WORK/bad.out")"
echo "PASS: sup_reload"
