#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# `xtsctl stats --json` is valid JSON whose counters match what the test
# sent; `--prometheus` passes a strict text-format check (promcheck.py);
# every command answers --json with valid JSON and --help with exit 0;
# the shards' publish count moves while they idle (stats_settle).
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
# until shard 1 has published the close (one xtsctl and one awk per poll)
for ((i = 0; i < 100; i++)); do
	[ "$(xtsctl stats --shard 1 | awk '$1 == "conns_closed" { print $2 }')" = 1 ] &&
		break
	sleep 0.05
done
sleep 0.1
xtsctl stats --json >"$WORK/stats.json" || fail "stats --json"
# every check in one Python run (each start costs about 0.5 s here)
python3 - "$WORK/stats.json" $BYTES <<'PY' || fail "stats --json: see above"
import json, sys
j = json.load(open(sys.argv[1]))  # also: it is JSON
B = int(sys.argv[2])
s0, s1, t = j["shards"][0], j["shards"][1], j["totals"][0]
checks = [
    ("shard 1 data_to_net", s1["data_to_net"], B),
    ("shard 1 data_to_host", s1["data_to_host"], B),
    ("shard 1 conns_opened", s1["conns_opened"], 1),
    ("shard 1 conns_active", s1["conns_active"], 0),
    ("shard 0 data_to_net", s0["data_to_net"], 0),
    ("total data_to_net", t["data_to_net"], B),
    ("shard 1 seq_gaps + xsk_rx_dropped", s1["seq_gaps"] + s1["xsk_rx_dropped"], 0),
    ("shard 1 rx_frames >= %d" % (B // 3458), s1["rx_frames"] >= B // 3458, True),
]
bad = 0
for name, got, want in checks:
    print("%s: %s = %s, want %s" % ("ok" if got == want else "FAIL", name, got, want))
    bad |= got != want
sys.exit(bad)
PY

xtsctl stats --prometheus >"$WORK/prom.txt" || fail "stats --prometheus"
python3 "$XTS_SRC/tests/integration/promcheck.py" <"$WORK/prom.txt" || fail "prometheus format"
grep -q "^xts_shard_data_to_net_bytes_total{shard=\"1\"} $BYTES\$" "$WORK/prom.txt" || fail "prometheus: data_to_net"
# the checker itself refuses broken input
printf 'xts_x{shard="1} 1\n' | python3 "$XTS_SRC/tests/integration/promcheck.py" >/dev/null && fail "promcheck passed garbage"

for c in status stats conns listeners; do
	xtsctl $c --json >"$WORK/$c.json" || fail "$c --json"
	xtsctl $c >/dev/null || fail "$c"
done
python3 -c 'import json, sys
for f in sys.argv[1:]: json.load(open(f))' "$WORK"/{status,stats,conns,listeners}.json ||
	fail "a --json output is not JSON"
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

# conflicting output options: an error with a reason, not silently one of them
for o in "--prometheus --json" "--json --prometheus"; do
	xtsctl stats $o >"$WORK/out" 2>"$WORK/err"; rc=$?
	[ $rc = 2 ] && [ ! -s "$WORK/out" ] && grep -q "pick one" "$WORK/err" ||
		fail "stats $o: exit $rc, stdout $(wc -c <"$WORK/out") bytes, stderr '$(cat "$WORK/err")'"
done
echo "ok: stats --prometheus --json: $(cat "$WORK/err") (exit 2)"

# the version: --version on both programs, in status and in the metrics
v=$(sed -n 's/^project(xts VERSION \([0-9.]*\).*/\1/p' "$XTS_SRC/CMakeLists.txt")
[ -n "$v" ] || fail "no version in CMakeLists.txt"
[ "$("$XTS_BIN/xtsd" --version)" = "xtsd $v" ] || fail "xtsd --version: $("$XTS_BIN/xtsd" --version)"
[ "$("$XTS_BIN/xtsctl" --version)" = "xtsctl $v" ] || fail "xtsctl --version: $("$XTS_BIN/xtsctl" --version)"
xtsctl status | grep -q "^xtsd $v pid $XTSD_PID," || fail "status: $(xtsctl status | head -n 1)"
grep -q "^xts_build_info{version=\"$v\"} 1\$" "$WORK/prom.txt" || fail "no xts_build_info $v in the metrics"
echo "ok: version $v in --version, status and xts_build_info"

# each shard says how many times it published its counters (stats_settle
# waits on it): an idle shard publishes with its heartbeat, every 100 ms
p=$(stat 1 published)
sleep 0.5
p2=$(stat 1 published)
[ -n "$p" ] && [ "$p2" -ge $((p + 2)) ] || fail "shard 1 published '$p' -> '$p2' in 0.5 s idle, want 2 more at least"
clock_us t0
stats_settle
clock_us t1
ms=$(((t1 - t0) / 1000))
info "stats_settle: $ms ms with idle shards (it slept 1200 before)"
# it takes 100-300 ms; the bound is for a wait that never ends (the
# publish count checked above is what shows the shards publish idle)
[ $ms -lt 15000 ] || fail "stats_settle took $ms ms with idle shards"
echo "ok: shard 1 published $((p2 - p)) times in 0.5 s idle; stats_settle took $ms ms"
echo "PASS: sup_stats"
