#!/usr/bin/env bash
# `xtsctl stats --json` is valid JSON whose counters match what the test
# sent; `--prometheus` passes a strict text-format check (promcheck.py);
# every command answers --json with valid JSON and --help with exit 0.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7

BYTES=3000000
head -c $BYTES /dev/urandom >"$WORK/data"
got=$(H "$XTS_BIN/xts-cat" -q 1 198.18.0.2 7 <"$WORK/data" | wc -c) || fail "xts-cat"
[ "$got" = $BYTES ] || fail "echoed $got bytes, want $BYTES"
for ((i = 0; i < 50; i++)); do
	xtsctl stats --json >"$WORK/stats.json" || fail "stats --json"
	[ "$(jget 'j["shards"][1]["conns_closed"]' <"$WORK/stats.json")" = 1 ] && break
	sleep 0.05
done
sleep 0.1
xtsctl stats --json >"$WORK/stats.json" || fail "stats --json"
python3 -m json.tool "$WORK/stats.json" >/dev/null || fail "stats --json is not JSON"
check() { # expr want
	local v; v=$(jget "$1" <"$WORK/stats.json")
	[ "$v" = "$2" ] || fail "$1 = $v, want $2"
	echo "ok: $1 = $v"
}
check 'j["shards"][1]["data_to_net"]' $BYTES
check 'j["shards"][1]["data_to_host"]' $BYTES
check 'j["shards"][1]["conns_opened"]' 1
check 'j["shards"][1]["conns_active"]' 0
check 'j["shards"][0]["data_to_net"]' 0
check 'j["totals"][0]["data_to_net"]' $BYTES
check 'j["shards"][1]["seq_gaps"] + j["shards"][1]["xsk_rx_dropped"]' 0
check 'j["shards"][1]["rx_frames"] >= '$((BYTES / 3458)) True

xtsctl stats --prometheus >"$WORK/prom.txt" || fail "stats --prometheus"
python3 "$XTS_SRC/tests/integration/promcheck.py" <"$WORK/prom.txt" || fail "prometheus format"
grep -q "^xts_shard_data_to_net_total{shard=\"1\"} $BYTES\$" "$WORK/prom.txt" || fail "prometheus: data_to_net"
# the checker itself refuses broken input
printf 'xts_x{shard="1} 1\n' | python3 "$XTS_SRC/tests/integration/promcheck.py" >/dev/null && fail "promcheck passed garbage"

for c in status stats conns listeners; do
	xtsctl $c --json | python3 -m json.tool >/dev/null || fail "$c --json"
	xtsctl $c >/dev/null || fail "$c"
done
for c in status stats conns listeners reload drain undrain stop; do
	xtsctl $c --help | grep -q "usage: xtsctl $c" || fail "$c --help"
done
xtsctl listeners | grep -q "^0 listeners" || fail "listeners: $(xtsctl listeners)"
# conns lists a live connection
H "$XTS_BIN/xts-hold" -q 0 -n 3 -s 65536 -c 1024 -p 20 198.18.0.2 7 >"$WORK/hold.out" 2>&1 &
hold=$!
for ((i = 0; i < 50; i++)); do grep -q " up" "$WORK/hold.out" && break; sleep 0.1; done
xtsctl conns --json >"$WORK/conns.json" || fail "conns"
[ "$(jget 'len([c for c in j["conns"] if c["shard"] == 0 and c["peer"] == "198.18.0.2:7"])' <"$WORK/conns.json")" = 3 ] ||
	fail "conns: $(cat "$WORK/conns.json")"
echo "ok: conns lists the 3 connections of queue 0"
wait $hold || fail "hold: $(cat "$WORK/hold.out")"
xtsctl bogus 2>/dev/null; [ $? = 2 ] || fail "unknown command: want exit 2"
echo "PASS: sup_stats"
