#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xtsctl's output for people (issue 15): every table has its header row and
# its cells aligned under it (tablecheck.py); status shows "-" for the CPU
# and node of an unpinned shard and the pinned one's CPU, uptimes as 5s /
# 1m03s, epochs as 8 hex digits; stats shows a known transfer in IEC
# units and exact counts; top's rates, summed over its samples, give back
# the bytes of a known transfer exactly, and its table carries units; conns
# filters by shard, state, address and port; reload names the option it
# changed (and says when none did); stop --wait exits 1 when xtsd outlives
# --timeout and 0 once it is gone.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2 "shards = ( { queue = 1; cpus = [ 0 ]; } );"
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7
TC="python3 $XTS_SRC/tests/integration/tablecheck.py"

# --- status ------------------------------------------------------------------
xtsctl status >"$WORK/status.txt" || fail "status"
$TC SHARD ">SHARD|>PID|STATE|>CPU|>NODE|>UPTIME|>RESTARTS|>CONNECTIONS|EPOCH" \
	<"$WORK/status.txt" >"$WORK/status.tsv" || fail "status table: $(cat "$WORK/status.txt")"
IFS=$'\t' read -r id pid st cpu node up rs cn ep < <(sed -n 1p "$WORK/status.tsv")
[ "$id $cpu $node" = "0 - -" ] || fail "unpinned shard 0: cpu '$cpu' node '$node', want - -"
[[ $up =~ ^[0-9]+s$|^[0-9]+m[0-9][0-9]s$ ]] || fail "uptime '$up', want like 5s or 1m03s"
[[ $ep =~ ^[0-9a-f]{8}$ ]] || fail "epoch '$ep', want 8 hex digits"
IFS=$'\t' read -r id pid st cpu node up rs cn ep < <(sed -n 2p "$WORK/status.tsv")
[ "$id $cpu" = "1 0" ] || fail "pinned shard 1: cpu '$cpu', want 0"
[ "$pid" = "$(stat 1 pid)" ] || fail "shard 1 pid '$pid', want $(stat 1 pid)"
echo "ok: status: header, aligned, shard 0 CPU/node '-', shard 1 CPU 0, uptime $up, epoch $ep"

# --- stats: a known transfer in units ---------------------------------------
BYTES=3000000
head -c $BYTES /dev/urandom >"$WORK/data"
got=$(H "$XTS_BIN/xts-cat" -q 1 198.18.0.2 7 <"$WORK/data" | wc -c) || fail "xts-cat"
[ "$got" = $BYTES ] || fail "echoed $got bytes, want $BYTES"
stats_settle
xtsctl stats >"$WORK/stats.txt" || fail "stats"
$TC COUNTER "COUNTER|>SHARD 0|>SHARD 1|>TOTAL" <"$WORK/stats.txt" >"$WORK/stats.tsv" ||
	fail "stats table: $(cat "$WORK/stats.txt")"
row() { awk -F'\t' -v k="$1" '$1 == k { print $2 "|" $3 "|" $4 }' "$WORK/stats.tsv"; }
# 3,000,000 B = 2.86 MiB
[ "$(row data_to_net)" = "0 B|2.9 MiB|2.9 MiB" ] || fail "stats data_to_net: '$(row data_to_net)'"
[ "$(row conns_opened)" = "0|1|1" ] || fail "stats conns_opened: '$(row conns_opened)'"
[ "$(row state)" = "running|running|" ] || fail "stats state: '$(row state)'"
echo "ok: stats: $BYTES bytes to the net shown as $(row data_to_net | cut -d'|' -f2), conns_opened exact"

# --- top: rates whose sum over the samples is the transfer ----------------------
BYTES=8000000
head -c $BYTES /dev/urandom >"$WORK/data8"
xtsctl top --interval 0.5 --count 12 --json >"$WORK/top.json" 2>"$WORK/top.err" &
top=$!
sleep 0.8
clock_us t0
got=$(H "$XTS_BIN/xts-cat" -q 1 198.18.0.2 7 <"$WORK/data8" | wc -c) || fail "xts-cat"
clock_us t1
[ "$got" = $BYTES ] || fail "echoed $got bytes, want $BYTES"
kill -0 $top 2>/dev/null || fail "top ended before the transfer did (took $(((t1 - t0) / 1000)) ms)"
wait $top || fail "top: $(cat "$WORK/top.err")"
python3 - "$WORK/top.json" $BYTES <<'PY' || fail "top's rates: see above"
import json, sys
samples = [json.loads(l) for l in open(sys.argv[1])]
B = int(sys.argv[2])
assert len(samples) == 12, "want 12 samples, got %d" % len(samples)
net = sum(s["shards"][1]["data_to_net_per_s"] * s["interval_s"] for s in samples)
host = sum(s["shards"][1]["data_to_host_per_s"] * s["interval_s"] for s in samples)
tot = sum(s["total"]["data_to_net_per_s"] * s["interval_s"] for s in samples)
peak = max(s["shards"][1]["data_to_net_per_s"] for s in samples)
print("# top: sum of rate x interval: to net %.0f, to host %.0f, total %.0f (sent %d); "
      "peak %.1f MiB/s" % (net, host, tot, B, peak / 1048576))
# each rate is printed to 0.001/s and its interval to 1 us: the sum is the
# counters' difference to within a few bytes
ok = abs(net - B) < 16 and abs(host - B) < 16 and abs(tot - B) < 16 and peak > 0
sys.exit(0 if ok else 1)
PY
xtsctl top --interval 0.2 --count 2 >"$WORK/top.txt" || fail "top"
[ "$(grep -c '^xtsctl top: .*(sample [12] of 2)$' "$WORK/top.txt")" = 2 ] ||
	fail "top: want 2 samples: $(cat "$WORK/top.txt")"
$TC SHARD ">SHARD|STATE|>CONNS|>OPENED|>FROM HOST|>TO HOST|>DATA TO NET|>DATA TO HOST|>STALLS" \
	<"$WORK/top.txt" >"$WORK/top.tsv" || fail "top table: $(cat "$WORK/top.txt")"
# the total row: no state; rates with their units (tabs: awk, not read)
awk -F'\t' 'NR == 3 && $1 == "total" && $2 == "" && $4 ~ /^[0-9.]+k?\/s$/ && $5 ~ / [kMG]?pps$/ &&
	$7 ~ / (B|KiB|MiB|GiB)\/s$/ { ok = 1 } END { exit !ok }' "$WORK/top.tsv" ||
	fail "top total row: '$(sed -n 3p "$WORK/top.tsv")'"
rx=$(awk -F'\t' 'NR == 3 { print $5 }' "$WORK/top.tsv") dn=$(awk -F'\t' 'NR == 3 { print $7 }' "$WORK/top.tsv")
echo "ok: top: 12 samples sum to the $BYTES bytes sent; table with units ($rx, $dn)"

# --- conns filters --------------------------------------------------------------
H "$XTS_BIN/xts-hold" -q 0 -n 3 -s 2097152 -c 1024 -p 20 198.18.0.2 7 >"$WORK/hold.out" 2>&1 &
hold=$!
for ((i = 0; i < 50; i++)); do grep -q " up" "$WORK/hold.out" && break; sleep 0.1; done
grep -q " up" "$WORK/hold.out" || fail "xts-hold: $(cat "$WORK/hold.out")"
shown() { # ARGS...: the conns rows shown with these filters
	xtsctl conns "$@" >"$WORK/conns.txt" || fail "conns $*"
	if grep -q '^ *SHARD' "$WORK/conns.txt"; then
		$TC SHARD ">SHARD|>ID|>HOST_ID|STATE|LOCAL|PEER|>BUFFERED|>CREDIT" \
			<"$WORK/conns.txt" >"$WORK/conns.tsv" || fail "conns table: $(cat "$WORK/conns.txt")"
		wc -l <"$WORK/conns.tsv"
	else
		echo 0
	fi
}
[ "$(shown)" = 3 ] || fail "conns: $(cat "$WORK/conns.txt")"
grep -q "^shard 0 (running): 3 connections, 3 shown$" "$WORK/conns.txt" || fail "conns footer: $(cat "$WORK/conns.txt")"
awk -F'\t' '$1 != 0 || $4 != "open" || $6 != "198.18.0.2:7" || $7 !~ / B$|iB$/ || $8 !~ /iB$/ { exit 1 }' \
	"$WORK/conns.tsv" || fail "conns rows: $(cat "$WORK/conns.tsv")"
for f in "--shard 0" "--state open" "--port 7" "--addr 198.18.0.2" "--addr 198.18.0.1" \
	"--shard 0 --state open --port 7 --addr 198.18.0.2"; do
	# shellcheck disable=SC2086
	[ "$(shown $f)" = 3 ] || fail "conns $f: $(cat "$WORK/conns.txt")"
done
for f in "--shard 1" "--state closing" "--port 8" "--addr 198.18.0.9" "--addr 198.18.0"; do
	# shellcheck disable=SC2086
	[ "$(shown $f)" = 0 ] || fail "conns $f: $(cat "$WORK/conns.txt")"
done
lport=$(cut -f5 "$WORK/conns.tsv" | head -1 | sed 's/.*://')
[ "$(shown --port "$lport")" = 1 ] || fail "conns --port $lport (a local port): $(cat "$WORK/conns.txt")"
[ "$(xtsctl conns --shard 0 --state open --json | jget 'len(j["conns"])')" = 3 ] || fail "conns --json filtered"
xtsctl conns --shard 7 >/dev/null 2>"$WORK/err" && fail "conns --shard 7 (of 2) accepted"
grep -q "no shard" "$WORK/err" || fail "conns --shard 7: $(cat "$WORK/err")"
echo "ok: conns: 3 open connections, filters by shard, state, address and port (local $lport too)"

# --- reload: what changed ---------------------------------------------------------
{
	echo 'interface = "xd0";'
	echo 'queues = 2;'
	echo "run_dir = \"$WORK/run\";"
	echo 'shards = ( { queue = 1; cpus = [ 0 ]; } );'
	echo 'timeouts = { idle_ms = 4000; };'
} >"$WORK/xts.conf.new"
mv "$WORK/xts.conf.new" "$WORK/xts.conf"
xtsctl reload >"$WORK/reload.txt" || fail "reload: $(cat "$WORK/reload.txt")"
grep -q "^configuration generation 2 in force .*: 1 change$" "$WORK/reload.txt" || fail "reload: $(cat "$WORK/reload.txt")"
$TC OPTION "OPTION|OLD|NEW|APPLIES TO" <"$WORK/reload.txt" >"$WORK/reload.tsv" || fail "reload table"
[ "$(cat "$WORK/reload.tsv")" = "$(printf 'timeouts.idle_ms\t5000\t4000\tall shards')" ] ||
	fail "reload diff: $(cat "$WORK/reload.txt")"
grep -q "reload: timeouts.idle_ms: 5000 -> 4000 (all shards)" "$WORK/xtsd.log" || fail "reload diff not logged"
xtsctl reload >"$WORK/reload.txt" || fail "reload again"
grep -q "^configuration generation 3 in force .*: no option changed$" "$WORK/reload.txt" ||
	fail "reload with no change: $(cat "$WORK/reload.txt")"
echo "ok: reload: '$(head -1 "$WORK/reload.tsv" | tr '\t' ' ')', then 'no option changed'"

# --- stop --wait ----------------------------------------------------------------------
xtsctl stop --timeout 1 >/dev/null 2>&1; [ $? = 2 ] || fail "stop --timeout without --wait: want exit 2"
# xts-hold's connections keep xtsd draining (timeouts.drain_ms, 3 s) longer than 0.3 s
clock_us t0
xtsctl stop --wait --timeout 0.3 >"$WORK/stop.out" 2>"$WORK/stop.err"; rc=$?
clock_us t1
[ $rc = 1 ] && grep -q "still runs after 0.3 s" "$WORK/stop.err" ||
	fail "stop --wait --timeout 0.3 while draining: exit $rc, $(cat "$WORK/stop.out" "$WORK/stop.err")"
kill -0 "$XTSD_PID" || fail "xtsd gone already"
info "stop --wait --timeout 0.3: exit 1 after $(((t1 - t0) / 1000)) ms: $(cat "$WORK/stop.err")"
wait $hold # its connections were cut by the stop: its exit says nothing here
wait_gone "$XTSD_PID" 200 || fail "xtsd still there 20 s after its stop"
# a fresh xtsd, stopped with --wait: 0, and gone when xtsctl returns
xtsd_start 2
xtsctl stop --wait >"$WORK/stop.out" 2>&1 || fail "stop --wait: $(cat "$WORK/stop.out")"
kill -0 "$XTSD_PID" 2>/dev/null && fail "stop --wait returned 0 with xtsd (pid $XTSD_PID) alive"
grep -q "^xtsd (pid $XTSD_PID) is gone" "$WORK/stop.out" || fail "stop --wait: $(cat "$WORK/stop.out")"
wait "$XTSD_PID"
XTSD_PID=
echo "ok: stop --wait: exit 1 past --timeout, 0 once xtsd is gone ($(tail -1 "$WORK/stop.out"))"
echo "PASS: ctl_output"
