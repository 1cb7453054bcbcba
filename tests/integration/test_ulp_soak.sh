#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A hostile soak at a TLS listener on the DPU (docs/design.md, "TLS on the
# shard"): for XTS_SOAK_SECS seconds (default 15 here; 60 by hand:
# XTS_SOAK_SECS=60), 8 hostile clients from xts-net (tls_hostile.py:
# random bytes, garbage after a ClientHello, slowloris handshakes,
# truncated records, TLS 1.2 renegotiation attempts) while curl fetches
# over TLS in a loop: every curl succeeds, the shard never restarts (lib.sh
# fails on one), xts-httpd is offered only handshaken connections, and
# the counters say the hostile handshakes failed.  Then one TLS 1.2
# client asks to renegotiate (openssl s_client, "R"): refused (s_client
# says "no renegotiation"), counted once in tls_reneg_refused, and the
# next client is served.
. "$(dirname "$0")/lib.sh"
need_root
. "$(dirname "$0")/tls_lib.sh"
tls_pki
SECS=${XTS_SOAK_SECS:-15}

topo_up 1
xtsd_start 1 "tls = ( { name = \"web\"; cert = \"$PKI/dpu.pem\"; key = \"$PKI/dpu.key\"; } );" \
	"timeouts = { tls_handshake_ms = 2000; };"
bg host "$XTS_BIN/xts-httpd" -n 1 -p 8443 -s 100 -T web >"$WORK/httpd.out" 2>&1
hpid=${BGPIDS[-1]}
for ((i = 0; i < 100; i++)); do grep -q 'listening on port 8443' "$WORK/httpd.out" && break; sleep 0.1; done
grep -q 'listening on port 8443' "$WORK/httpd.out" || fail "xts-httpd: $(cat "$WORK/httpd.out")"
pid0=$(stat 0 pid)

bg net python3 "$XTS_SRC/tests/integration/tls_hostile.py" 198.18.0.1 8443 "$SECS" >"$WORK/hostile.out" 2>&1
hostile=${BGPIDS[-1]}
good=0 bad=0 t0=$SECONDS
while kill -0 "$hostile" 2>/dev/null; do
	if out=$(N timeout 10 curl -sS --cacert "$PKI/ca.pem" --resolve dpu.xts.test:8443:198.18.0.1 \
		https://dpu.xts.test:8443/ 2>&1) && [ ${#out} = 100 ]; then
		good=$((good + 1))
	else
		bad=$((bad + 1)); echo "# curl failed: $out"
	fi
	sleep 0.2
done
wait "$hostile"
[ "$bad" = 0 ] && [ "$good" -ge 5 ] || fail "good clients during the soak: $good ok, $bad failed"
stats_settle
[ "$(stat 0 pid)" = "$pid0" ] || fail "the shard restarted during the soak"
failed=$(stat 0 tls_hs_failed) ok=$(stat 0 tls_hs_ok)
[ "$failed" -ge 20 ] || fail "tls_hs_failed $failed: the hostile handshakes were not counted"

# a TLS 1.2 client that asks for a new handshake ("R" to openssl
# s_client) is refused (no_renegotiation, counted), and the next client
# is served
reneg=$(stat 0 tls_reneg_refused)
rout=$( (echo R; sleep 2) | N timeout 10 openssl s_client -connect 198.18.0.1:8443 -tls1_2 \
	-servername dpu.xts.test -CAfile "$PKI/ca.pem" 2>&1)
grep -q "^RENEGOTIATING" <<<"$rout" && grep -q "no renegotiation" <<<"$rout" ||
	fail "renegotiation not refused: $(tail -n 8 <<<"$rout")"
out=$(N timeout 10 curl -sS --cacert "$PKI/ca.pem" --resolve dpu.xts.test:8443:198.18.0.1 \
	https://dpu.xts.test:8443/ 2>&1) && [ ${#out} = 100 ] || fail "curl after the renegotiation: $out"
stats_settle
[ "$(stat 0 tls_reneg_refused)" = $((reneg + 1)) ] ||
	fail "tls_reneg_refused $(stat 0 tls_reneg_refused), want $((reneg + 1))"
[ "$(stat 0 pid)" = "$pid0" ] || fail "the shard restarted"
ok=$(stat 0 tls_hs_ok)
echo "ok: a TLS 1.2 renegotiation refused (s_client: $(grep -m1 'no renegotiation' <<<"$rout")," \
	"tls_reneg_refused $reneg -> $((reneg + 1)); the soak's own: $reneg), the next client served"
kill "$hpid"; wait_gone "$hpid" 50 || fail "xts-httpd did not stop"
n=$(sed -n 's/.*queue 0: \([0-9]*\) connections.*/\1/p' "$WORK/httpd.out")
# offered: the handshaken ones only (curl's and the renegotiating
# clients', whose handshake succeeded before they asked for more)
[ "${n:-x}" = "$ok" ] || fail "xts-httpd was offered $n connections, $ok handshakes succeeded"
echo "ok: $((SECONDS - t0)) s of hostile TLS clients ($(grep hostile: "$WORK/hostile.out")): $good curl fetches all served; xts-httpd offered only handshaken connections ($n = tls_hs_ok); tls_hs_failed $failed; the shard never restarted"
