#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xtsd's GET /metrics (metrics.listen), scraped with curl and checked with
# the strict parser (promcheck.py): during a transfer the byte counters
# match what was sent; restarts go up after a kill -9 of a shard; the
# config generation and the reload result move with reloads (a failed
# one too, and a change of metrics.listen is refused: restart only);
# build info is there; the series are those of `xtsctl stats
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
xtsd_start 2 "metrics = { listen = \"$ADDR:$PORT\"; };"
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
until_metric 'xts_shard_data_to_net_bytes_total{shard="1"}' $((B1 + B2))
[ "$(metric 'xts_shard_conns_opened_total{shard="1"}')" = 1 ] || fail "conns_opened on shard 1"
[ "$(metric 'xts_shard_data_to_host_bytes_total{shard="1"}')" = $((B1 + B2)) ] || fail "data_to_host after the transfer"
[ "$(metric 'xts_shard_data_to_net_bytes_total{shard="0"}')" = 0 ] || fail "shard 0 moved data"
# closed and gone: every state's gauge back to 0 (each kept as states
# change, so one missed transition would leave a count behind)
for st in open connecting closing closed accepted; do
	until_metric "xts_shard_connections{shard=\"1\",state=\"$st\"}" 0
done
echo "ok: after the transfer: $((B1 + B2)) bytes each way on shard 1, 0 on shard 0"

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
