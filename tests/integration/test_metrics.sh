#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xtsd's GET /metrics (metrics.listen), scraped with curl and checked with
# the strict parser (promcheck.py): during a transfer the byte counters
# match what was sent; restarts go up after a kill -9 of a shard; the
# config generation and the reload result move with reloads (a failed
# one too, and a change of metrics.listen is refused: restart only);
# build info is there; per-listener series (two listeners on two shards:
# each connection counted on its listener's shard and address, series gone
# with the listener); the series are those of `xtsctl stats
# --prometheus` (one formatter); 404/405/400/431 for what is not a GET
# /metrics.  Hostile scrapers: seven silent connections and a client
# dripping a byte a second (every slot, taken again when dropped) delay
# neither `xtsctl status` nor a shard's restart (both measured and
# printed); the next scraper gets 503 at once; the server drops each
# slow one at its 2 s request deadline; scrapes work again after.
. "$(dirname "$0")/lib.sh"
need_root
XTS_ALLOW_RESTART=1 # the kill is part of it

ADDR=127.0.0.1
PORT=9464
MNS=dpu
. "$(dirname "$0")/metrics_lib.sh"

topo_up 2
# dead_host_ms: the listener killed below goes with its host's session
xtsd_start 2 "metrics = { listen = \"$ADDR:$PORT\"; }; timeouts = { dead_host_ms = 3000; };"
grep -q "metrics on http://$ADDR:$PORT/metrics" "$WORK/xtsd.log" || fail "no metrics line in the log"
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7

# ---- during a transfer: the counters match the bytes sent ----
B1=2000000
B2=1000000
head -c $B1 /dev/urandom >"$WORK/d1"
head -c $B2 /dev/urandom >"$WORK/d2"
{ cat "$WORK/d1"; sleep 3; cat "$WORK/d2"; } |
	H "$XTS_BIN/xts-cat" -q 1 198.18.0.2 7 >"$WORK/echo.out" 2>"$WORK/cat.err" &
cat_pid=$!
for ((i = 0; i < 100; i++)); do
	[ "$(wc -c <"$WORK/echo.out")" -ge $B1 ] && break
	sleep 0.05
done
[ "$(wc -c <"$WORK/echo.out")" = $B1 ] || fail "first part: echoed $(wc -c <"$WORK/echo.out") bytes, want $B1"
until_metric 'xts_shard_data_to_net_bytes_total{shard="1"}' $B1
until_metric 'xts_shard_data_to_host_bytes_total{shard="1"}' $B1
kill -0 $cat_pid 2>/dev/null || fail "the transfer was over before the scrape: make the pause longer"
[ "$(metric 'xts_shard_conns_active{shard="1"}')" = 1 ] || fail "conns_active during the transfer: $(metric 'xts_shard_conns_active{shard="1"}')"
$PROMCHECK <"$WORK/m.txt" || fail "the scrape during the transfer is not valid exposition"
# connections by state: the one connection is open, no other state counts
[ "$(metric 'xts_shard_connections{shard="1",state="open"}')" = 1 ] ||
	fail "open connections on shard 1 during the transfer: '$(metric 'xts_shard_connections{shard="1",state="open"}')'"
for st in connecting closing closed accepted; do
	[ "$(metric "xts_shard_connections{shard=\"1\",state=\"$st\"}")" = 0 ] ||
		fail "shard 1: $st connections during the transfer: '$(metric "xts_shard_connections{shard=\"1\",state=\"$st\"}")'"
done
echo "ok: mid-transfer scrape: data_to_net = data_to_host = $B1 on shard 1, 1 connection, promcheck clean"
wait $cat_pid || fail "xts-cat: $(cat "$WORK/cat.err")"
cmp -s <(cat "$WORK/d1" "$WORK/d2") "$WORK/echo.out" || fail "the echo differs from what was sent"
# the counters are published every heartbeat: a scrape right after the
# echo may show the last bytes out to the net and not yet their echo in,
# so each is awaited (both are exact once published)
until_metric 'xts_shard_data_to_net_bytes_total{shard="1"}' $((B1 + B2))
until_metric 'xts_shard_data_to_host_bytes_total{shard="1"}' $((B1 + B2))
[ "$(metric 'xts_shard_conns_opened_total{shard="1"}')" = 1 ] || fail "conns_opened on shard 1"
[ "$(metric 'xts_shard_data_to_net_bytes_total{shard="0"}')" = 0 ] || fail "shard 0 moved data"
# closed and gone: every state's gauge back to 0 (each kept as states
# change, so one missed transition would leave a count behind)
for st in open connecting closing closed accepted; do
	until_metric "xts_shard_connections{shard=\"1\",state=\"$st\"}" 0
done
echo "ok: after the transfer: $((B1 + B2)) bytes each way on shard 1, 0 on shard 0"

# ---- per listener: shard 1 listens on 7010, shard 0 on 7011 (xts-cat -l
# takes [::]); 3 + 1 connections to the first (the last held open during
# the scrape), 2 to the second: each counted on its own shard and series ----
L1='listener="[::]:7010"'
L0='listener="[::]:7011"'
bg host timeout 300 "$XTS_BIN/xts-cat" -l -k -q 1 7010 </dev/null >"$WORK/l1.out" 2>&1
l1_pid=${BGPIDS[-1]} # timeout's: it passes a TERM on
bg host timeout 300 "$XTS_BIN/xts-cat" -l -k -q 0 7011 </dev/null >"$WORK/l0.out" 2>&1
l0_pid=${BGPIDS[-1]}
wait_port dpu 7010
wait_port dpu 7011
for i in 1 2 3; do N timeout 10 socat -u - TCP4:198.18.0.1:7010 <<<"conn $i" || fail "conn $i to 7010"; done
for i in 1 2; do N timeout 10 socat -u - TCP4:198.18.0.1:7011 <<<"conn $i" || fail "conn $i to 7011"; done
# held until the checks below are done (a fixed sleep ran out under load
# before `xtsctl listeners` looked); stderr away from ctest's pipe, so a
# failure above cannot leave the loop holding it
{ printf held; timeout 60 bash -c "until [ -e '$WORK/release' ]; do sleep 0.1; done"; } 2>/dev/null |
	N timeout 70 socat -u - TCP4:198.18.0.1:7010 &
held_pid=$!
# each shard publishes its own counters at its own heartbeat: wait for
# shard 0's too (a scrape that saw shard 1's showed 7011's second accept
# not yet published once, under load)
until_metric "xts_listener_connections_accepted_total{shard=\"0\",$L0}" 2
until_metric "xts_listener_to_host_bytes_total{shard=\"0\",$L0}" 14
until_metric "xts_listener_connections{shard=\"1\",$L1}" 1
until_metric "xts_listener_to_host_bytes_total{shard=\"1\",$L1}" $((3 * 7 + 4))
kill -0 $held_pid 2>/dev/null || fail "the held connection ended before the scrape"
$PROMCHECK <"$WORK/m.txt" >/dev/null || fail "the scrape with listener series is not valid exposition"
for want in "xts_listener_connections_accepted_total{shard=\"1\",$L1} 4" \
	"xts_listener_connections_offered_total{shard=\"1\",$L1} 4" \
	"xts_listener_connections_accepted_total{shard=\"0\",$L0} 2" \
	"xts_listener_connections{shard=\"0\",$L0} 0" \
	"xts_listener_to_host_bytes_total{shard=\"0\",$L0} 14" \
	"xts_listener_to_net_bytes_total{shard=\"1\",$L1} 0" \
	"xts_listener_connections_dropped_total{shard=\"1\",$L1,reason=\"refused\"} 0"; do
	grep -qxF "$want" "$WORK/m.txt" || fail "want '$want'; listener series: $(grep '^xts_listener.*70' "$WORK/m.txt")"
done
for wrong in "shard=\"0\",$L1" "shard=\"1\",$L0"; do
	grep -qF "$wrong" "$WORK/m.txt" && fail "a series with $wrong: $(grep -F "$wrong" "$WORK/m.txt" | head -3)"
done
grep -q '^# TYPE xts_listener_connections_accepted_total counter$' "$WORK/m.txt" || fail "accepted not a counter"
# xtsctl listeners: the same counters by the registry's entries
xtsctl listeners >"$WORK/ls.txt" || fail "xtsctl listeners"
kill -0 $held_pid 2>/dev/null || fail "the held connection ended before xtsctl listeners"
python3 "$XTS_SRC/tests/integration/tablecheck.py" QUEUE \
	'>QUEUE|LOCAL|>HOST_ID|>BACKLOG|FLAGS|>ACCEPTED|>OPEN|>DROPPED|>TO HOST|>TO NET' \
	< <(grep -v ' listeners, ' "$WORK/ls.txt") >"$WORK/ls.tsv" || fail "listeners table: $(cat "$WORK/ls.txt")"
awk -F'\t' '$1 == 1 && $2 == "[::]:7010" && $6 == 4 && $7 == 1 && $8 == 0 && $9 == "25 B" { f = 1 }
	END { exit !f }' "$WORK/ls.tsv" ||
	fail "listeners: no row for 7010 on queue 1 with 4 accepted, 1 open, 0 dropped, 25 B: $(cat "$WORK/ls.txt")"
xtsctl listeners --json | python3 -c '
import json, sys
r = [x for x in json.load(sys.stdin)["listeners"] if x["local"] == "[::]:7011"]
assert len(r) == 1 and r[0]["queue"] == 0 and r[0]["accepted"] == 2, r' ||
	fail "listeners --json: 7011"
touch "$WORK/release"
echo "ok: per listener: [::]:7010 on shard 1 accepted 4 (1 open, 25 bytes to the host mid-transfer)," \
	"[::]:7011 on shard 0 accepted 2, no series of either on the other shard; xtsctl listeners agrees"
wait $held_pid || fail "the held connection"
until_metric "xts_listener_connections{shard=\"1\",$L1}" 0
# a listener closed with no connection left: its series go, the other's
# stay (killed: its session, and so its listener, end at dead_host_ms)
kill $l1_pid
wait $l1_pid 2>/dev/null
for ((i = 0; i < 150; i++)); do
	scrape >"$WORK/m.txt" && ! grep -qF "$L1" "$WORK/m.txt" && break
	sleep 0.1
done
grep -qF "$L1" "$WORK/m.txt" && fail "7010's series stayed 15 s after its listener's host was killed"
[ "$(metric "xts_listener_connections_accepted_total{shard=\"0\",$L0}")" = 2 ] || fail "7011's series went too"
kill $l0_pid
wait $l0_pid 2>/dev/null
echo "ok: listener 7010 closed: its series gone, 7011's still there"

# ---- the one formatter: the same series as xtsctl stats --prometheus ----
xtsctl stats --prometheus >"$WORK/ctl.txt" || fail "stats --prometheus"
$PROMCHECK <"$WORK/ctl.txt" >/dev/null || fail "stats --prometheus is not valid exposition"
diff <(sed 's/ [^ ]*$//' "$WORK/m.txt") <(sed 's/ [^ ]*$//' "$WORK/ctl.txt") >"$WORK/series.diff" ||
	fail "/metrics and xtsctl stats --prometheus differ in their series: $(head "$WORK/series.diff")"
n=$(grep -vc '^#' "$WORK/m.txt")
echo "ok: /metrics and xtsctl stats --prometheus: the same $n series"

# ---- build info, the operators' series ----
v=$(sed -n 's/^project(xts VERSION \([0-9.]*\).*/\1/p' "$XTS_SRC/CMakeLists.txt")
grep -qx "xts_build_info{version=\"$v\"} 1" "$WORK/m.txt" || fail "no xts_build_info $v"
for s in 'xts_config_generation' 'xts_config_last_reload_successful' \
	'xts_shard_up{shard="0"}' 'xts_shard_up{shard="1"}' \
	'xts_shard_state{shard="1",state="running"}' 'xts_shard_restarts_total{shard="1"}' \
	'xts_shard_drain_requested{shard="1"}' 'xts_shard_config_generation{shard="1"}' \
	'xts_shard_credit_stalls_total{shard="1"}' 'xts_shard_session_resets_total{shard="1"}' \
	'xts_shard_conns_refused_acl_total{shard="1"}' 'xts_shard_tls_hs_ok_total{shard="1"}' \
	'xts_shard_tls_hs_failed_total{shard="1"}' 'xts_shard_start_time_seconds{shard="1"}'; do
	[ -n "$(metric "$s")" ] || fail "no $s in the scrape"
done
[ "$(metric 'xts_shard_state{shard="1",state="stopped"}')" = 0 ] || fail "shard 1 stopped?"
grep -q '^# TYPE xts_shard_restarts_total counter$' "$WORK/m.txt" || fail "restarts not a counter"
echo "ok: build info $v, shard state, restarts, drain, generation, stalls, resets, ACL, TLS series present"

# ---- HTTP: what is not a GET /metrics ----
D $PEER codes || fail "status codes"

# ---- restarts after a kill -9 ----
read -r old st <<<"$(shard_get 1 PID STATE)"
[ "$(metric 'xts_shard_restarts_total{shard="1"}')" = 0 ] || fail "restarts before the kill"
clock_us t0
kill -9 "$old"
shard_back 1 "$old" "$t0"
until_metric 'xts_shard_restarts_total{shard="1"}' 1
[ "$(metric 'xts_shard_up{shard="1"}')" = 1 ] || fail "shard 1 not up after its restart"
[ "$(metric 'xts_shard_restarts_total{shard="0"}')" = 0 ] || fail "shard 0 restarted"
echo "ok: kill -9 of shard 1: xts_shard_restarts_total 0 -> 1, up again"

# ---- generation and reload result ----
[ "$(metric xts_config_generation)" = 1 ] || fail "generation at start: $(metric xts_config_generation)"
xtsctl reload >/dev/null || fail "reload"
until_metric xts_config_generation 2
[ "$(metric 'xts_config_reloads_total{result="ok"}')" = 1 ] || fail "reloads ok"
[ "$(metric xts_config_last_reload_successful)" = 1 ] || fail "last reload successful"
until_metric 'xts_shard_config_generation{shard="1"}' 2
cp "$WORK/xts.conf" "$WORK/good.conf"
echo 'limits = { conn_buf = 1; };' >>"$WORK/xts.conf"
xtsctl reload >/dev/null 2>&1 && fail "a bad reload passed"
until_metric xts_config_last_reload_successful 0
[ "$(metric xts_config_generation)" = 2 ] || fail "generation moved on a failed reload"
[ "$(metric 'xts_config_reloads_total{result="failed"}')" = 1 ] || fail "reloads failed"
sed "s/$PORT/9465/" "$WORK/good.conf" >"$WORK/xts.conf"
xtsctl reload >"$WORK/rl.out" 2>&1 && fail "a change of metrics.listen was reloaded"
grep -q "metrics.listen: changed; that needs a restart" "$WORK/rl.out" || fail "reload: $(cat "$WORK/rl.out")"
cp "$WORK/good.conf" "$WORK/xts.conf"
echo "ok: generation 1 -> 2 on reload; a failed one leaves it and sets last_reload_successful 0; metrics.listen needs a restart"

# ---- hostile scrapers do not delay status nor a restart ----
hostile_start
quick_ms "xtsctl status" xtsctl status
kill_timed 0 "with hostile scrapers"
hostile_end
echo "ok: status in $QUICK_MS ms, shard forked in $FORK_MS ms (back in $BACK_MS ms), 503 when full, slow ones dropped at 2 s"
echo "PASS: metrics"
