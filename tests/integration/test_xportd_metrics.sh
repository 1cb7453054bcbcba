#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xportd's GET /metrics (metrics.listen), scraped with curl and checked
# with the strict parser (promcheck.py): a lease shows with its lessee
# (uid, pid, command), the leases per uid, the bytes it moved; refusals
# count by reason (policy EACCES, quota EDQUOT); granted and ended move;
# build info is there; 404/405/400/431 as xtsd's.  Hostile scrapers
# (seven silent, one dripping a byte a second: every slot) delay neither
# `xportd status` nor a lease (both measured and printed); the next
# scraper gets 503 at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/xportd_lib.sh"
need_root

GRP=4242
ADDR=127.0.0.1
PORT=9465
MNS=host
. "$(dirname "$0")/metrics_lib.sh"

topo_up 2
xtsd_start 2
xportd_start 2 "metrics = { listen = \"$ADDR:$PORT\"; };" \
	"policy = ( { group = $GRP; leases = 1; queues = [ 0, 1 ]; } );"
grep -q "metrics on http://$ADDR:$PORT/metrics" "$WORK/xportd.log" || fail "no metrics line in xportd's log"
bg net socat -b 4096 TCP4-LISTEN:7,fork,reuseaddr PIPE
wait_port net 7

scrape >"$WORK/m.txt" || fail "scrape"
$PROMCHECK <"$WORK/m.txt" || fail "not valid exposition with no lease"
v=$("$XTS_BIN/xportd" --version | awk '{ print $2 }')
grep -qx "xportd_build_info{version=\"$v\"} 1" "$WORK/m.txt" || fail "no xportd_build_info $v"
[ "$(metric 'xportd_queues{state="free"}')" = 2 ] || fail "free queues at start"

# ---- a lease, its lessee and its bytes ----
B=1048576
as_user 65534 $GRP "$XTS_BIN/xts-lessee" -b $B -r -H 30000 198.18.0.2 7 >"$WORK/l1.out" 2>&1 &
l1=$!
for ((i = 0; i < 100; i++)); do grep -q "^ready" "$WORK/l1.out" && break; sleep 0.05; done
grep -q "^ready" "$WORK/l1.out" || fail "lease: $(cat "$WORK/l1.out")"
until_metric 'xportd_queues{state="leased"}' 1
until_metric 'xportd_leases_by_uid{uid="65534"}' 1
q=$(sed -n 's/^xportd_lease_info{queue="\([0-9]*\)",uid="65534",pid="[0-9]*",comm="xts-lessee"} 1$/\1/p' "$WORK/m.txt")
[ -n "$q" ] || fail "no xportd_lease_info for uid 65534: $(grep lease_info "$WORK/m.txt")"
until_metric "xportd_lease_sent_bytes_total{queue=\"$q\"}" $B
until_metric "xportd_lease_received_bytes_total{queue=\"$q\"}" $B
[ "$(metric "xportd_lease_sockets{queue=\"$q\"}")" = 1 ] || fail "sockets of the lease"
[ "$(metric xportd_leases_granted_total)" = 1 ] || fail "granted"
$PROMCHECK <"$WORK/m.txt" || fail "not valid exposition with a lease"
echo "ok: queue $q leased to uid 65534 (xts-lessee), $B bytes each way, 1 socket"

# ---- refusals by reason ----
as_user 65534 $GRP "$XTS_BIN/xts-lessee" -b 1K 198.18.0.2 7 >"$WORK/out" 2>&1 && fail "a second lease passed"
as_user 65534 - "$XTS_BIN/xts-lessee" -b 1K 198.18.0.2 7 >"$WORK/out" 2>&1 && fail "a lease outside the policy passed"
until_metric 'xportd_requests_refused_total{reason="quota"}' 1
[ "$(metric 'xportd_requests_refused_total{reason="policy"}')" = 1 ] || fail "policy refusals: $(metric 'xportd_requests_refused_total{reason="policy"}')"
echo "ok: refusals: quota 1 (EDQUOT), policy 1 (EACCES)"
# the lessee's own pid (as_user's $! is a subshell's), from the metrics
pid=$(sed -n 's/^xportd_lease_info{queue="[0-9]*",uid="65534",pid="\([0-9]*\)",comm="xts-lessee"} 1$/\1/p' "$WORK/m.txt")
[ -n "$pid" ] && kill "$pid" || fail "the first lease ended before the refusals were counted: $(cat "$WORK/l1.out")"
wait $l1
until_metric xportd_leases_ended_total 1
[ "$(metric 'xportd_queues{state="leased"}')" = 0 ] || fail "a queue still leased"
[ -z "$(metric 'xportd_leases_by_uid{uid="65534"}')" ] || fail "uid 65534 still counted"
echo "ok: the lease ended: ended_total 1, no queue leased"

# ---- HTTP ----
H $PEER codes || fail "status codes"

# ---- hostile scrapers delay neither status nor a lease ----
hostile_start
quick_ms "xportd status" xportd_cli status
clock_us t0
as_user 65534 $GRP "$XTS_BIN/xts-lessee" -b 64K 198.18.0.2 7 >"$WORK/l2.out" 2>&1 || fail "a lease with hostile scrapers: $(cat "$WORK/l2.out")"
clock_us t1
lms=$(((t1 - t0) / 1000))
info "a lease, 64 KiB echoed and its end took $lms ms with hostile scrapers"
[ "$lms" -le 5000 ] || fail "the lease took $lms ms, want <= 5000"
hostile_end
echo "ok: status in $QUICK_MS ms, a lease in $lms ms, 503 when full, slow ones dropped at 2 s"
xportd_log_check
echo "PASS: xportd_metrics"
