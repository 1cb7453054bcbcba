#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# TLS on the DPU against real peers from Debian (docs/design.md, "TLS on
# the shard"): the host programs speak plaintext and hold no key.
#  terminate: xts-httpd with TLS pushed on its listener; openssl s_client
#    (TLS 1.3 and 1.2) and curl --cacert from xts-net get the configured
#    certificate, ALPN http/1.1 and the right body; garbage instead of a
#    ClientHello is never offered to the host.
#  originate: xts-cat with TLS to nginx (TLS only) in xts-net: verified,
#    right body; a wrong hostname and an unknown CA fail with EKEYREJECTED
#    and their reason, a server that does not speak TLS with EPROTO, and
#    nothing the program wrote leaves in clear.  Profile api carries its
#    records through OpenSSL's socket BIO (bio "socket"; web and other
#    through the shard's own, "auto" on a kernel without the tls ULP): the
#    shards count which, and say at start what "auto" is here and why.
# Certificates are made here (openssl req) in the test's directory.
. "$(dirname "$0")/lib.sh"
need_root

. "$(dirname "$0")/tls_lib.sh"
tls_pki

topo_up 2
xtsd_start 2 "tls = ( { name = \"web\"; cert = \"$PKI/dpu.pem\"; key = \"$PKI/dpu.key\";
                        alpn = [ \"http/1.1\" ]; },
                      { name = \"api\"; ca = \"$PKI/ca.pem\"; bio = \"socket\"; },
                      { name = \"other\"; ca = \"$PKI/rogue.pem\"; } );"

# ---- terminate: HTTPS clients, a plaintext host server ----
bg host "$XTS_BIN/xts-httpd" -n 1 -p 8443 -s 100 -T web >"$WORK/httpd.out" 2>&1
hpid=${BGPIDS[-1]}
for ((i = 0; i < 100; i++)); do
	grep -q 'listening on port 8443' "$WORK/httpd.out" && break
	kill -0 "$hpid" 2>/dev/null || { cat "$WORK/httpd.out"; fail "xts-httpd exited"; }
	sleep 0.1
done
grep -q 'listening on port 8443' "$WORK/httpd.out" || fail "xts-httpd with TLS did not listen"
BODY=$(head -c 100 < <(while :; do printf abcdefghijklmnopqrstuvwxyz; done))

s_client() { # VERSION_FLAG
	printf 'GET / HTTP/1.1\r\nHost: dpu.xts.test\r\nConnection: close\r\n\r\n' |
		N timeout 10 openssl s_client -connect 198.18.0.1:8443 "$1" -CAfile "$PKI/ca.pem" \
			-servername dpu.xts.test -verify_hostname dpu.xts.test -alpn http/1.1 \
			-ign_eof 2>&1
}
for v in 1_3 1_2; do
	out=$(s_client "-tls$v")
	grep -q "Verify return code: 0 (ok)" <<<"$out" || fail "s_client TLS ${v/_/.}: not verified: $out"
	grep -q "ALPN protocol: http/1.1" <<<"$out" || fail "s_client TLS ${v/_/.}: no ALPN: $out"
	grep -Eq "Protocol *: TLSv${v/_/.}" <<<"$out" || fail "s_client TLS ${v/_/.}: $(grep Protocol <<<"$out")"
	grep -q "subject=CN = dpu" <<<"$out" || fail "s_client TLS ${v/_/.}: not our certificate"
	grep -q "^$BODY" <<<"$out" || fail "s_client TLS ${v/_/.}: body missing: $out"
	echo "ok: openssl s_client TLS ${v/_/.} to xts-httpd (TLS on the DPU): verified, ALPN http/1.1, body"
done
out=$(N timeout 10 curl -sS --cacert "$PKI/ca.pem" --resolve dpu.xts.test:8443:198.18.0.1 \
	-w '\n%{http_version} %{ssl_verify_result}' https://dpu.xts.test:8443/ 2>&1) ||
	fail "curl https: $out"
[ "$out" = "$BODY
1.1 0" ] || fail "curl https: '$out'"
echo "ok: curl --cacert https://dpu.xts.test:8443/: 100-byte body, HTTP/1.1, verified"
# garbage instead of a ClientHello: that connection fails, the rest go on
out=$(printf 'GET / HTTP/1.0\r\n\r\n' | N timeout 5 socat -t 3 - TCP4:198.18.0.1:8443 2>&1)
[ -z "$out" ] || fail "a plaintext client got an answer: '$out'"
out=$(N timeout 10 curl -sS --cacert "$PKI/ca.pem" --resolve dpu.xts.test:8443:198.18.0.1 \
	https://dpu.xts.test:8443/ 2>&1) || fail "curl after garbage: $out"
[ "$out" = "$BODY" ] || fail "curl after garbage: '$out'"
echo "ok: a plaintext client is dropped on the DPU, never offered to xts-httpd; the next client is served"
kill "$hpid"; wait_gone "$hpid" 50 || fail "xts-httpd did not stop"
grep -q "queue 0: 4 connections, 4 requests" "$WORK/httpd.out" ||
	fail "xts-httpd saw other than the 4 TLS clients: $(grep 'queue 0:' "$WORK/httpd.out")"

# ---- originate: a plaintext host client, nginx speaking only TLS ----
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx;
	fastcgi_temp_path $WORK/nginx; uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
	server {
		listen 198.18.0.2:8443 ssl;
		ssl_certificate $PKI/net.pem;
		ssl_certificate_key $PKI/net.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		location / { return 200 "hello from nginx over TLS\n"; }
	}
}
EOF
bg net nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
wait_port net 8443
# the request, then stdin held open a moment: nginx answers and closes
# (queue 1: queue 0's session was xts-httpd's, ended by its kill)
get() { (printf 'GET / HTTP/1.0\r\nHost: net.xts.test\r\n\r\n'; sleep 1) |
	H timeout 15 "$XTS_BIN/xts-cat" -q 1 "$@" >"$WORK/cat.out" 2>"$WORK/cat.err"; }
get -T api -N net.xts.test 198.18.0.2 8443 ||
	fail "xts-cat -T api: exit $?: $(cat "$WORK/cat.err")"
grep -q "hello from nginx over TLS" "$WORK/cat.out" || fail "xts-cat -T api: body: $(cat "$WORK/cat.out")"
grep -Eq "TLS 1\.3 .*verified" "$WORK/cat.err" || fail "xts-cat -T api: $(cat "$WORK/cat.err")"
echo "ok: xts-cat -T api to nginx (TLS): $(cat "$WORK/cat.err")"
# no name: the address is what the certificate must name (it does)
get -T api 198.18.0.2 8443 || fail "xts-cat -T api by address: $(cat "$WORK/cat.err")"
grep -q "hello from nginx" "$WORK/cat.out" || fail "xts-cat -T api by address: body"
echo "ok: xts-cat -T api 198.18.0.2 (address verified)"

expect_fail() { # what errno-text reason-pattern -- xts-cat args
	local what=$1 etext=$2 pat=$3; shift 4
	get "$@" && fail "$what: xts-cat exited 0: $(cat "$WORK/cat.out")"
	grep -q "$etext" "$WORK/cat.err" || fail "$what: '$(cat "$WORK/cat.err")' lacks '$etext'"
	grep -Eq "$pat" "$WORK/cat.err" || fail "$what: '$(cat "$WORK/cat.err")' lacks '$pat'"
	[ ! -s "$WORK/cat.out" ] || fail "$what: bytes came through: $(cat "$WORK/cat.out")"
	echo "ok: $what: $(tr '\n' ' ' <"$WORK/cat.err")"
}
expect_fail "wrong hostname" "Key was rejected by service" "hostname mismatch" -- \
	-T api -N wrong.xts.test 198.18.0.2 8443
expect_fail "unknown CA" "Key was rejected by service" "unable to get local issuer|self-signed" -- \
	-T other -N net.xts.test 198.18.0.2 8443
expect_fail "no such profile" "No such file or directory" "connect" -- \
	-T nosuch 198.18.0.2 8443

# a server that does not speak TLS: EPROTO; what it received is the
# ClientHello, never the program's bytes
# (a script: socat's own quoting ate the printf's quotes, so it sent only
# "HTTP/1.0" and the shell failed on a stray CR; and the rest of the
# ClientHello is read until the client goes, since a close with unread
# bytes sends an RST, which on a loaded machine overtook the answer and
# made the failure ECONNRESET instead of EPROTO)
cat >"$WORK/notls.sh" <<'EOS'
head -c 5 >"$1"
printf 'HTTP/1.0 400 Bad Request\r\n\r\n'
exec cat >/dev/null
EOS
bg net socat TCP4-LISTEN:8445,bind=198.18.0.2,reuseaddr EXEC:"sh $WORK/notls.sh $WORK/clear.bin"
wait_port net 8445
expect_fail "a server without TLS" "Protocol error" "TLS" -- -T api -N net.xts.test 198.18.0.2 8445
[ "$(od -An -tx1 -N3 "$WORK/clear.bin" | tr -d ' ')" = 160301 ] ||
	fail "the server received '$(od -An -c "$WORK/clear.bin")', not a TLS record"
echo "ok: what reached the plaintext server was a TLS record (16 03 01), not the program's bytes"

# the shards counted it all
ok=0 failed=0 verify=0
for q in 0 1; do
	ok=$((ok + $(stat $q tls_hs_ok))); failed=$((failed + $(stat $q tls_hs_failed)))
	verify=$((verify + $(stat $q tls_hs_verify)))
done
[ "$ok" -ge 6 ] && [ "$failed" -ge 4 ] && [ "$verify" -ge 2 ] ||
	fail "counters: tls_hs_ok $ok tls_hs_failed $failed tls_hs_verify $verify"
echo "ok: counters: tls_hs_ok $ok, tls_hs_failed $failed (tls_hs_verify $verify)"
# which BIO: api's 2 handshakes (shard 1) over the socket BIO, web's
# (shard 0) over the shard's own; kTLS only where the kernel has the ULP
sb0=$(stat 0 tls_sockbio) sb1=$(stat 1 tls_sockbio)
[ "$sb0" = 0 ] && [ "$sb1" = 2 ] || fail "tls_sockbio: shard 0 $sb0 (want 0), shard 1 $sb1 (want 2)"
if grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp; then ulp=offers; else ulp="does not offer"
	[ "$(($(stat 1 tls_ktls_tx) + $(stat 1 tls_ktls_rx)))" = 0 ] || fail "kTLS counted without the tls ULP"
fi
for q in 0 1; do
	grep -q "shard $q: tls: the kernel $ulp the tls ULP" "$WORK/xtsd.log" ||
		fail "shard $q did not say at start whether the kernel $ulp the tls ULP: $(grep 'tls:' "$WORK/xtsd.log")"
done
grep -q 'tls profile api: bio "socket": OpenSSL.s socket BIO' "$WORK/xtsd.log" ||
	fail "no log line for api's bio: $(grep 'tls profile' "$WORK/xtsd.log")"
echo "ok: BIOs: tls_sockbio 0 on shard 0 (web, auto: own), 2 on shard 1 (api, socket); the kernel $ulp the tls ULP (said at start)"

# per profile (xtsctl stats' "tls" records): web terminated on shard 0
# (4 clients, the garbage one failed), api and other originated on shard 1
stats_settle
pstat() { # PROFILE SHARD KEY
	xtsctl stats --shard tls | awk -v p="$1" -v s="$2" -v k="$3" \
		'$1 == "profile" { pp = $2 } $1 == "shard" { ss = $2 } pp == p && ss == s && $1 == k { print $2 }'
}
check_pstat() { # PROFILE SHARD KEY OP VALUE
	local v; v=$(pstat "$1" "$2" "$3")
	[ -n "$v" ] && [ "$v" "$4" "$5" ] || fail "profile $1 shard $2: $3 is '${v}', want $4 $5: $(xtsctl stats --shard tls)"
}
check_pstat web 0 hs_ok -eq 4; check_pstat web 0 hs_failed -eq 1
check_pstat web 0 bytes_to_net -ge 400
check_pstat api 1 hs_ok -eq 2; check_pstat api 1 hs_verify -eq 1; check_pstat api 1 hs_failed -eq 2
check_pstat other 1 hs_verify -eq 1
[ -z "$(pstat nosuch 1 hs_failed)" ] || fail "a profile the host made up got counters"
# the same in xtsctl's human table (the TLS table under the shards')
xtsctl stats >"$WORK/stats.txt" || fail "xtsctl stats"
python3 "$XTS_SRC/tests/integration/tablecheck.py" "TLS PROFILE" \
	'TLS PROFILE|>SHARD|>HS_OK|>HS_FAILED|>HS_VERIFY|>RESUMED|>REF_LIMIT|>REF_ACL|>TO HOST|>TO NET' \
	<"$WORK/stats.txt" >"$WORK/tls.tsv" || fail "stats' TLS table: $(cat "$WORK/stats.txt")"
awk -F'\t' '$1 == "web" && $2 == 0 && $3 == 4 && $4 == 1 { w = 1 } $1 == "api" && $2 == 1 && $3 == 2 && $5 == 1 { a = 1 }
	END { exit !(w && a) }' "$WORK/tls.tsv" ||
	fail "stats' TLS table: no rows web 0 4 ok 1 failed, api 1 2 ok 1 verify: $(cat "$WORK/tls.tsv")"
# the same in the Prometheus output (/metrics' formatter), labelled by
# shard and profile, the handshakes also by result
xtsctl stats --prometheus >"$WORK/prom.txt" || fail "stats --prometheus"
python3 "$XTS_SRC/tests/integration/promcheck.py" <"$WORK/prom.txt" >/dev/null ||
	fail "stats --prometheus with TLS profiles is not valid exposition"
pm() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/prom.txt"; }
hs() { pm "xts_tls_handshakes_total{shard=\"$2\",profile=\"$1\",result=\"$3\"}"; }
[ "$(pm 'xts_tls_hs_ok_total{shard="0",profile="web"}')" = 4 ] || fail "prometheus: web hs_ok on shard 0"
[ "$(hs web 0 ok)" = 4 ] && [ $(($(hs web 0 failed_verify) + $(hs web 0 failed_other))) = 1 ] ||
	fail "prometheus: web's handshakes by result on shard 0: $(grep 'profile="web"' "$WORK/prom.txt" | grep handshakes)"
[ "$(hs api 1 ok)" = 2 ] && [ "$(hs api 1 failed_verify)" = 1 ] && [ "$(hs api 1 failed_other)" = 1 ] ||
	fail "prometheus: api's handshakes by result on shard 1: $(grep 'profile="api"' "$WORK/prom.txt" | grep handshakes)"
[ "$(pm 'xts_tls_to_net_bytes_total{shard="0",profile="web"}')" -ge 400 ] || fail "prometheus: web's bytes to the net"
echo "ok: per profile: web 4 ok 1 failed, api 2 ok 2 failed (1 verify), other 1 verify; no slot for nosuch"

# resumption across shards: xts-httpd -T web on both queues (one reuseport
# group on the DPU), a session saved from one connection and resumed by
# later ones, which the DPU's kernel spreads over both shards: both
# resume it (the ticket keys are xtsd's, shared by every shard)
bg host "$XTS_BIN/xts-httpd" -n 2 -p 8447 -s 100 -T web >"$WORK/httpd2.out" 2>&1
h2=${BGPIDS[-1]}
for ((i = 0; i < 100; i++)); do grep -q 'listening on port 8447' "$WORK/httpd2.out" && break; sleep 0.1; done
grep -q 'listening on port 8447' "$WORK/httpd2.out" || fail "xts-httpd -n 2: $(cat "$WORK/httpd2.out")"
resume() { # [-sess_in FILE | -sess_out FILE]
	printf 'GET / HTTP/1.1\r\nHost: dpu.xts.test\r\nConnection: close\r\n\r\n' |
		N timeout 10 openssl s_client -connect 198.18.0.1:8447 -tls1_3 -CAfile "$PKI/ca.pem" \
			-servername dpu.xts.test -ign_eof "$@" 2>&1
}
out=$(resume -sess_out "$WORK/sess.pem")
grep -q "^$BODY" <<<"$out" || fail "first TLS connection to xts-httpd -n 2: $out"
stats_settle
r0=$(pstat web 0 resumed) r1=$(pstat web 1 resumed)
reused=0
for ((i = 0; i < 24; i++)); do
	out=$(resume -sess_in "$WORK/sess.pem")
	grep -q "^Reused, TLSv1.3" <<<"$out" && reused=$((reused + 1))
done
stats_settle
d0=$(($(pstat web 0 resumed) - ${r0:-0})) d1=$(($(pstat web 1 resumed) - ${r1:-0}))
[ "$reused" = 24 ] || fail "resumption: $reused of 24 connections resumed"
[ "$d0" -ge 1 ] && [ "$d1" -ge 1 ] && [ $((d0 + d1)) = 24 ] ||
	fail "resumption: shard 0 resumed $d0, shard 1 $d1 (want both, 24 in all)"
echo "ok: one session resumed 24 times across both shards (shard 0: $d0, shard 1: $d1)"
kill "$h2"; wait_gone "$h2" 50 || fail "xts-httpd -n 2 did not stop"

# acl.tls: queue 1 may push api only; other gets EACCES (counted), api
# still works; queue 0 (no rule of its own, none by default) anything
echo 'shards = ( { queue = 0; tls = [ "api" ]; }, { queue = 1; tls = [ "api" ]; } );' >>"$WORK/xts.conf"
xtsctl reload >"$WORK/reload.out" 2>&1 || fail "reload: $(cat "$WORK/reload.out")"
expect_fail "profile not allowed on the queue" "Permission denied" "not allowed on this queue" -- \
	-T other -N net.xts.test 198.18.0.2 8443
get -T api -N net.xts.test 198.18.0.2 8443 || fail "api after acl.tls: $(cat "$WORK/cat.err")"
stats_settle
check_pstat other 1 refused_acl -eq 1
[ "$(stat 1 conns_refused_acl)" = 1 ] || fail "conns_refused_acl: $(stat 1 conns_refused_acl)"
out=$(H timeout 10 "$XTS_BIN/xts-httpd" -n 1 -p 8446 -s 10 -T web 2>&1) &&
	fail "xts-httpd -T web listened on a queue that may not use web: $out"
grep -q "Permission denied" <<<"$out" || fail "xts-httpd -T web on queue 0: $out"
stats_settle
check_pstat web 0 refused_acl -eq 1
echo "ok: acl.tls: other refused on queue 1 (EACCES, counted), api allowed; a web listener on queue 0 refused (EACCES)"
echo "PASS: tls"
