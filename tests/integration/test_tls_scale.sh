#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# TLS terminated on the DPU at scale and across a certificate rotation
# (docs/design.md, "TLS at scale and across a certificate rotation"), xts-httpd -T on
# one queue, the clients in xts-net (tls_scale.py, one process on a
# selector):
#  1,000 at once: 1,000 TLS connections opened at once, every handshake
#    done and all held open together (limits.tls_conns = 1000 and
#    limits.tls_handshakes = 1000: exactly enough), what OpenSSL holds per
#    idle TLS connection measured (the tls_mem gauge) and bounded (24 KiB:
#    it fails without SSL_MODE_RELEASE_BUFFERS), the RSS printed; 10 more refused by
#    the limit (ENOBUFS on the DPU, counted in tls_refused_limit); then a
#    GET on each of the 1,000, every answer checked.
#  rotation under load: 8 kept-alive TLS connections loop GETs while the
#    certificate and key files are replaced (a new CN and serial) and
#    `xtsctl reload` runs: those 8 go on with no error and no reset (each
#    serves requests after the reload), new connections get the new
#    certificate (openssl s_client's fingerprint), curl --cacert is served.
. "$(dirname "$0")/lib.sh"
need_root
. "$(dirname "$0")/tls_lib.sh"
tls_pki
N=1000 EXTRA=10 BODY=16384
CLIENT="$XTS_SRC/tests/integration/tls_scale.py"

topo_up 1
xtsd_start 1 "tls = ( { name = \"web\"; cert = \"$PKI/dpu.pem\"; key = \"$PKI/dpu.key\"; } );" \
	"limits = { tls_conns = $N; tls_handshakes = $N; };"
bg host "$XTS_BIN/xts-httpd" -n 1 -p 8443 -s $BODY -T web >"$WORK/httpd.out" 2>&1
hpid=${BGPIDS[-1]}
for ((i = 0; i < 100; i++)); do grep -q 'listening on port 8443' "$WORK/httpd.out" && break; sleep 0.1; done
grep -q 'listening on port 8443' "$WORK/httpd.out" || fail "xts-httpd: $(cat "$WORK/httpd.out")"
pid0=$(stat 0 pid)
fetch() { N timeout 10 curl -sS --cacert "$PKI/ca.pem" --resolve dpu.xts.test:8443:198.18.0.1 \
	https://dpu.xts.test:8443/ 2>&1; }
out=$(fetch) && [ ${#out} = $BODY ] || fail "curl before the run: ${out:0:200}"
# the gauges back at 0 (curl's connection closed), then the baseline
tls_idle() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(stat 0 tls_conns)" = 0 ] && [ "$(stat 0 tls_handshaking)" = 0 ] && return 0
		sleep 0.1
	done
	fail "$1: tls_conns $(stat 0 tls_conns), tls_handshaking $(stat 0 tls_handshaking)"
}
tls_idle "after curl"
# wait_line FILE PREFIX PID TENTHS: until the client (PID) wrote its PREFIX line
wait_line() {
	local i
	for ((i = 0; i < $4; i++)); do
		grep -q "^$2" "$1" && return 0
		kill -0 "$3" 2>/dev/null || fail "tls_scale.py: $(cat "$1")"
		sleep 0.1
	done
	fail "tls_scale.py wrote no '$2' line in $(($4 / 10)) s: $(cat "$1")"
}
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid0/status"; }
rss0=$(rss) mem0=$(stat 0 tls_mem)

# ---- 1,000 TLS connections at once ----
t0=$SECONDS
bg net python3 "$CLIENT" hold 198.18.0.1 8443 $N --extra $EXTRA --ca "$PKI/ca.pem" \
	--name dpu.xts.test --body $BODY --go "$WORK/go" >"$WORK/hold.out" 2>&1
cpid=${BGPIDS[-1]}
wait_line "$WORK/hold.out" held: "$cpid" 900
grep -q "^held: $N of $N handshakes done" "$WORK/hold.out" || fail "$(cat "$WORK/hold.out")"
stats_settle
conns=$(stat 0 tls_conns) hs=$(stat 0 tls_handshaking) rss1=$(rss) mem1=$(stat 0 tls_mem)
[ "$conns" = $N ] && [ "$hs" = 0 ] || fail "while held: tls_conns $conns, tls_handshaking $hs"
per=$(((mem1 - mem0) / N)) rper=$(((rss1 - rss0) * 1024 / N))
info "shard 0: OpenSSL held $mem0 bytes idle, $mem1 with $N idle TLS connections: $per bytes each" \
	"(RSS $rss0 -> $rss1 kB, $rper bytes each, with what the $N concurrent handshakes left in the heap)"
info "shard 0's TLS counters while the $N are held: $(xtsctl stats --shard 0 | awk '$1 ~ /^tls_/ { printf "%s %s ", $1, $2 }')"
# measured 13.9 KB (SSL_MODE_RELEASE_BUFFERS); 47.2 KB without it
[ "$mem0" -gt 0 ] && [ "$per" -le 24576 ] ||
	fail "OpenSSL holds $per bytes per idle TLS connection (tls_mem $mem0 -> $mem1), want <= 24576"
touch "$WORK/go"
for ((i = 0; i < 900; i++)); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
wait "$cpid"; rc=$?
cat "$WORK/hold.out"
[ "$rc" = 0 ] || fail "tls_scale.py hold: exit $rc"
grep -q "^extra: $EXTRA of $EXTRA refused" "$WORK/hold.out" || fail "the connections past the limit"
grep -q "^answers: $N of $N right" "$WORK/hold.out" || fail "answers"
stats_settle
refused=$(stat 0 tls_refused_limit) ok=$(stat 0 tls_hs_ok)
[ "$refused" = $EXTRA ] || fail "tls_refused_limit $refused, want $EXTRA"
[ "$ok" = $((N + 1)) ] || fail "tls_hs_ok $ok, want $((N + 1)) (curl's and the $N)"
echo "ok: $N TLS connections at once in $((SECONDS - t0)) s: all handshaken and held together," \
	"OpenSSL holds $per bytes for each, $EXTRA past limits.tls_conns refused (tls_refused_limit $refused)," \
	"$N answers right; tls_hs_ok $ok, tls_hs_failed $(stat 0 tls_hs_failed)"
tls_idle "after the $N closed"

# ---- a certificate rotated under load ----
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g'; }
served_fp() { # the certificate a new connection gets
	N timeout 10 openssl s_client -connect 198.18.0.1:8443 -servername dpu.xts.test \
		</dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//; s/://g'
}
old=$(fpr "$PKI/dpu.pem")
[ "$(served_fp)" = "$old" ] || fail "before the rotation: not the configured certificate"
failed0=$(stat 0 tls_hs_failed)
rm -f "$WORK/mark" "$WORK/stop"
bg net python3 "$CLIENT" load 198.18.0.1 8443 8 --ca "$PKI/ca.pem" --name dpu.xts.test \
	--body $BODY --mark "$WORK/mark" --stop "$WORK/stop" >"$WORK/load.out" 2>&1
lpid=${BGPIDS[-1]}
wait_line "$WORK/load.out" up: "$lpid" 300
[ "$(sed -n 's/^up: //p' "$WORK/load.out")" = "$old" ] || fail "load client: $(cat "$WORK/load.out")"
sleep 1
# the new pair made aside and moved over the configured paths (what an
# operator's renewal does), then the reload
tls_mk_leaf dpu2 "DNS:dpu.xts.test,IP:198.18.0.1" ca || fail "openssl: the new certificate"
new=$(fpr "$PKI/dpu2.pem")
[ "$new" != "$old" ] || fail "the new certificate is the old one"
cp "$PKI/dpu2.pem" "$PKI/dpu.pem.tmp" && mv "$PKI/dpu.pem.tmp" "$PKI/dpu.pem" &&
	cp "$PKI/dpu2.key" "$PKI/dpu.key.tmp" && mv "$PKI/dpu.key.tmp" "$PKI/dpu.key" ||
	fail "replacing the certificate files"
gen=$(stat 0 cfg_gen)
xtsctl reload >"$WORK/reload.out" 2>&1 || fail "reload: $(cat "$WORK/reload.out")"
touch "$WORK/mark"
# the shard read the files when it took the generation: what is at the
# paths afterwards (here a broken certificate) changes nothing until the
# next reload
for ((i = 0; i < 50; i++)); do [ "$(stat 0 cfg_gen)" = $((gen + 1)) ] && break; sleep 0.1; done
[ "$(stat 0 cfg_gen)" = $((gen + 1)) ] || fail "the shard did not take generation $((gen + 1))"
echo garbage >"$PKI/dpu.pem"
for i in 1 2 3; do
	got=$(served_fp)
	[ "$got" = "$new" ] || fail "new connection $i after the reload got ${got:-nothing}, want the new certificate"
done
subj=$(N timeout 10 openssl s_client -connect 198.18.0.1:8443 -servername dpu.xts.test \
	</dev/null 2>/dev/null | openssl x509 -noout -subject -serial | tr '\n' ' ')
out=$(fetch) && [ ${#out} = $BODY ] || fail "curl after the rotation: ${out:0:200}"
sleep 1.5
touch "$WORK/stop"
for ((i = 0; i < 300; i++)); do kill -0 "$lpid" 2>/dev/null || break; sleep 0.1; done
wait "$lpid"; rc=$?
cat "$WORK/load.out"
[ "$rc" = 0 ] || fail "tls_scale.py load: exit $rc: established connections were hurt by the rotation"
after=$(sed -n 's/.* \([0-9]*\)\.\.[0-9]* each after the mark.*/\1/p' "$WORK/load.out")
[ "${after:-0}" -ge 10 ] || fail "a connection made ${after:-0} requests after the reload, want >= 10"
stats_settle
[ "$(stat 0 tls_hs_failed)" = "$failed0" ] || fail "handshakes failed during the rotation"
[ "$(stat 0 pid)" = "$pid0" ] || fail "the shard restarted"
echo "ok: certificate rotated under load: 8 kept-alive connections went on with no error" \
	"(each $after or more requests after the reload), new connections get the new" \
	"certificate ($subj; read at the reload, not at the next handshake), curl --cacert served"
kill "$hpid"; wait_gone "$hpid" 50 || fail "xts-httpd did not stop"
echo "PASS: tls_scale"
