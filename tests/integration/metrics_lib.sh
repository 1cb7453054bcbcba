# SPDX-License-Identifier: BSD-2-Clause
# metrics_lib.sh - helpers of the /metrics tests (sourced after lib.sh):
# test_metrics.sh (xtsd) and test_xportd_metrics.sh (xportd).  Set MNS
# (the server's namespace: dpu or host), ADDR and PORT first.
URL=http://$ADDR:$PORT/metrics
PEER="python3 $XTS_SRC/tests/integration/metrics_peer.py $ADDR $PORT"
PROMCHECK="python3 $XTS_SRC/tests/integration/promcheck.py"

scrape() { ip netns exec "${PFX}$MNS" curl -sS --max-time 5 "$URL"; }
# metric SERIES: its value in the last scrape ($WORK/m.txt)
metric() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/m.txt"; }
# until_metric SERIES VALUE: scrape until SERIES shows VALUE, 5 s at most
until_metric() {
	local i
	for ((i = 0; i < 50; i++)); do
		scrape >"$WORK/m.txt" 2>"$WORK/curl.err" && [ "$(metric "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	fail "$1: '$(metric "$1")', want $2 ($(cat "$WORK/curl.err"))"
}

# hostile_start: seven silent clients and one dripping a byte a second
# hold every slot of the server for 12 s (taken again when dropped); back
# once they all hold one, having checked that a 9th scraper gets 503 at
# once.  (Python starts slowly on a busy machine: up to 20 s allowed.)
hostile_start() {
	local i code t0 t1
	bg "$MNS" $PEER silent 7 12 >"$WORK/silent.out"
	bg "$MNS" $PEER drip 12 >"$WORK/drip.out"
	for ((i = 0; i < 200; i++)); do
		grep -q holding "$WORK/silent.out" && grep -q dripping "$WORK/drip.out" && break
		sleep 0.1
	done
	grep -q holding "$WORK/silent.out" || fail "silent clients: $(cat "$WORK/silent.out")"
	grep -q dripping "$WORK/drip.out" || fail "dripping client: $(cat "$WORK/drip.out")"
	sleep 0.2
	clock_us t0
	code=$(ip netns exec "${PFX}$MNS" curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL")
	clock_us t1
	info "with every slot held a 9th scraper got $code in $(((t1 - t0) / 1000)) ms"
	[ "$code" = 503 ] || fail "with every slot held: $code, want 503"
}

# hostile_end: once the hostile clients gave up, the server had dropped
# each at its 2 s request deadline (the drip after 1.5 to 4 s, the silent
# ones again and again) and serves a scrape at once.
hostile_end() {
	local i d
	for ((i = 0; i < 300; i++)); do grep -q "^silent: " "$WORK/silent.out" && break; sleep 0.1; done
	for ((i = 0; i < 100; i++)); do [ "$(tail -n 1 "$WORK/drip.out" | cut -c1-5)" = "drip:" ] && break; sleep 0.1; done
	grep -Eq "^silent: [1-9][0-9]* dropped" "$WORK/silent.out" || fail "silent ones not dropped: $(cat "$WORK/silent.out")"
	d=$(awk '$1 == "drip:" { print int($4 * 10); exit }' "$WORK/drip.out")
	[ -n "$d" ] && [ "$d" -ge 15 ] && [ "$d" -le 40 ] || fail "drip: $(cat "$WORK/drip.out"), want dropped after about 2 s"
	scrape >"$WORK/m.txt" || fail "no scrape served after the hostile clients"
	$PROMCHECK <"$WORK/m.txt" >/dev/null || fail "promcheck after the hostile clients"
	info "$(grep '^silent: ' "$WORK/silent.out"); the drip dropped after $(awk '$1 == "drip:" { print $4; exit }' "$WORK/drip.out") s"
}

# quick_ms LABEL CMD...: CMD (it must succeed) answers within 1.5 s, the
# best of three tries (lib.sh best_ms), with the hostile clients on; it
# takes tens of ms.  QUICK_MS is the best figure.
quick_ms() {
	local what=$1; shift
	best_ms 1500 "$what with 7 silent scrapers and one dripping" "$@"
	QUICK_MS=$BEST_MS
}
