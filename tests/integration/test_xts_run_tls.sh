#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xts-run's tls rules (docs/design.md, xts-run, "TLS by rule"): unmodified
# programs speak plaintext, the DPU speaks TLS for them with a profile.
#  - a rules file with a bad tls line: xts-run exits 2 with FILE:LINE.
#  - terminate: nginx (plain HTTP, no TLS configured) under xts-run with
#    `tls terminate *:8443 profile web` serves curl --cacert https:// from
#    xts-net (the DPU's certificate, the right body); its access log shows
#    the real client, and a python3 server's getpeername() too (--queues
#    2: its listener on both shards, each with the TLS, 4 clients);
#    the same over IPv6 ([::]:8443, V6ONLY), with ALPN agreed as the
#    profile says (http/1.1, curl offering h2 too);
#    plain HTTP to that port gets nothing; nginx's own TLS listener on 8444 (an
#    offload rule, no tls rule) is not wrapped twice: curl gets nginx's
#    certificate and the shards count no handshake for it.
#  - originate: curl under xts-run with `tls originate 198.18.0.2:8443
#    profile api name net.xts.test` fetches http:// from an HTTPS-only
#    nginx in xts-net and gets the body (nginx logs the DPU as its client);
#    a rule naming the wrong server name fails curl's connect
#    (EKEYREJECTED, logged with the reason) and the shards count a verify
#    failure; a profile the DPU does not have: ENOENT, logged (listen
#    and connect); no queue to be had: the connect fails, never kernel
#    TCP in plaintext.
# Certificates are made here (tls_lib.sh) in the test's directory.
. "$(dirname "$0")/lib.sh"
need_root

. "$(dirname "$0")/tls_lib.sh"
tls_pki
# nginx's own certificate for its own TLS listener (CN host, not dpu)
tls_mk_leaf host "DNS:dpu.xts.test,IP:198.18.0.1" ca >/dev/null 2>&1 || fail "openssl: host leaf"
RUN="$XTS_BIN/xts-run"

# ---- a bad tls line: FILE:LINE: reason, exit 2, nothing run ----
printf 'kernel client 198.18.9.0/24\ntls originate 198.18.0.2:8443 profile\n' >"$WORK/bad.rules"
out=$("$RUN" --rules "$WORK/bad.rules" -- touch "$WORK/ran" 2>&1); rc=$?
[ $rc = 2 ] && [[ $out == *"$WORK/bad.rules:2: tls: "*"profile"* ]] && [ ! -e "$WORK/ran" ] ||
	fail "a bad tls line: exit $rc, '$out'"
echo "ok: a bad tls line: $out"

topo_up 2
xtsd_start 2 "tls = ( { name = \"web\"; cert = \"$PKI/dpu.pem\"; key = \"$PKI/dpu.key\";
                        alpn = [ \"http/1.1\" ]; },
                      { name = \"api\"; ca = \"$PKI/ca.pem\"; } );"
mkdir -p "$WORK/www"
BODY=$(head -c 3000 /dev/urandom | base64 -w 76)
printf '%s' "$BODY" >"$WORK/www/page.txt"
# the shards' TLS handshakes, all profiles (xtsctl stats --shard total)
hs() { stats_settle >/dev/null; total "tls_hs_$1"; }

# ngx_conf DIR SERVERS: DIR/nginx.conf, one process, access log in DIR
ngx_conf() {
	mkdir -p "$1"
	cat >"$1/nginx.conf" <<EOF
daemon off;
master_process off;
pid $1/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
	access_log $1/access.log;
	client_body_temp_path $1; proxy_temp_path $1;
	fastcgi_temp_path $1; uwsgi_temp_path $1; scgi_temp_path $1;
	root $WORK/www;
	$2
}
EOF
}

# ---- terminate: nginx (plaintext) under xts-run ----
ngx_conf "$WORK/ngx" "server { listen 8443; listen [::]:8443 ipv6only=on; }
	server { listen 8444 ssl; ssl_certificate $PKI/host.pem; ssl_certificate_key $PKI/host.key; }"
printf '%s\n' '# TLS on the DPU for 8443 and 8445 only; 8444 is nginx'"'"'s own TLS' \
	'tls terminate *:8443,8445 profile web' 'offload server *' >"$WORK/term.rules"
bg host "$RUN" --rules "$WORK/term.rules" -- nginx -c "$WORK/ngx/nginx.conf" >"$WORK/nginx.log" 2>&1
ngxpid=${BGPIDS[-1]}
for ((i = 0; i < 100; i++)); do
	[ "$(xtsctl listeners | grep -Ec ':844[34] ')" = 3 ] && break
	sleep 0.1
done
[ "$(xtsctl listeners | grep -Ec ':844[34] ')" = 3 ] ||
	fail "nginx: no DPU listeners on 8443 (IPv4 and IPv6) and 8444: $(xtsctl listeners; cat "$WORK/nginx.log")"
ok0=$(hs ok)
out=$(N timeout 10 curl -sS --cacert "$PKI/ca.pem" --resolve dpu.xts.test:8443:198.18.0.1 \
	-w '\n%{ssl_verify_result}' https://dpu.xts.test:8443/page.txt 2>&1) || fail "curl https to nginx under xts-run: $out"
[ "$out" = "$BODY
0" ] || fail "curl https to nginx: '$(head -c 300 <<<"$out")'"
grep -q '^198\.18\.0\.2 .*"GET /page.txt HTTP/1.1" 200 ' "$WORK/ngx/access.log" ||
	fail "nginx's access log does not show the client 198.18.0.2: $(cat "$WORK/ngx/access.log")"
ok1=$(hs ok)
[ $((ok1 - ok0)) = 1 ] || fail "terminate: the shards counted $((ok1 - ok0)) handshakes, want 1"
echo "ok: terminate: curl --cacert https://dpu.xts.test:8443/ from xts-net to nginx (plain HTTP) under xts-run: verified, $(wc -c <"$WORK/www/page.txt")-byte body; access log: $(tail -n 1 "$WORK/ngx/access.log" | cut -d' ' -f1-7)"
# IPv6: nginx's [::]:8443 listener (V6ONLY) under the same rule; ALPN:
# the profile's list (http/1.1) is what the DPU agrees to, curl offering
# h2 and http/1.1
out=$(N timeout 10 curl -sS -v --http2 --cacert "$PKI/ca.pem" --resolve "dpu.xts.test:8443:[fd00:78:74::1]" \
	https://dpu.xts.test:8443/page.txt 2>"$WORK/curl6.err") || fail "curl -6 https to nginx under xts-run: $(tail -n 5 "$WORK/curl6.err")"
[ "$out" = "$BODY" ] || fail "curl -6 https to nginx: '$(head -c 300 <<<"$out")'"
grep -Eq 'ALPN.*accepted.*http/1\.1' "$WORK/curl6.err" ||
	fail "ALPN: the DPU did not agree to http/1.1: $(grep -i alpn "$WORK/curl6.err")"
grep -q '^fd00:78:74::2 .*"GET /page.txt HTTP/1.1" 200 ' "$WORK/ngx/access.log" ||
	fail "nginx's access log does not show the IPv6 client: $(tail -n 2 "$WORK/ngx/access.log")"
ok2=$(hs ok)
[ $((ok2 - ok1)) = 1 ] || fail "terminate over IPv6: the shards counted $((ok2 - ok1)) handshakes, want 1"
echo "ok: terminate over IPv6: curl to [fd00:78:74::1]:8443, verified, body exact, ALPN $(grep -Eo 'ALPN.*accepted.*' "$WORK/curl6.err" | head -n 1); access log: $(tail -n 1 "$WORK/ngx/access.log" | cut -d' ' -f1)"
out=$(N timeout 5 curl -sS http://198.18.0.1:8443/page.txt 2>&1) && fail "plain HTTP to the TLS port got: $out"
echo "ok: plain HTTP to 8443 gets no answer (curl: ${out##*: })"

# nginx's own TLS on 8444: its certificate (CN host), no DPU handshake
out=$(N timeout 10 curl -sS --cacert "$PKI/ca.pem" --resolve dpu.xts.test:8444:198.18.0.1 \
	https://dpu.xts.test:8444/page.txt 2>&1) || fail "curl https to nginx's own TLS on 8444: $out"
[ "$out" = "$BODY" ] || fail "nginx's own TLS: body '$(head -c 300 <<<"$out")'"
out=$(N timeout 10 openssl s_client -connect 198.18.0.1:8444 -CAfile "$PKI/ca.pem" </dev/null 2>&1)
grep -q "subject=CN = host" <<<"$out" || fail "8444: not nginx's certificate: $(grep subject= <<<"$out")"
[ "$(hs ok)" = "$ok2" ] && [ "$(hs failed)" = 1 ] ||
	fail "8444: the shards did TLS: hs_ok $(hs ok) (want $ok2), hs_failed $(hs failed) (want 1, the plain HTTP one)"
echo "ok: nginx's own TLS on 8444 (offload rule, no tls rule) not wrapped twice: its certificate, no DPU handshake"
kill $ngxpid; wait_gone $ngxpid 50 || fail "nginx did not stop"
# its queue free again (the shard saw its session end) for python3's second
for ((i = 0; i < 100; i++)); do xtsctl listeners | grep -Eq ':844[34] ' || break; sleep 0.1; done
xtsctl listeners | grep -Eq ':844[34] ' && fail "nginx's DPU listeners outlived it: $(xtsctl listeners)"

# getpeername() of an accepted connection: the real client.  --queues 2:
# a DPU listener on each shard, both with the rule's TLS, and four
# connections, which the DPU's kernel spreads over them (not evenly:
# the figure is printed; a member without TLS fails the client on it)
bg host "$RUN" --queues 2 --rules "$WORK/term.rules" -- python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8445)); s.listen(4)
for i in range(4):
	c, a = s.accept(); c.recv(64)
	c.sendall(("peer %s:%d\n" % c.getpeername()).encode()); c.close()' >"$WORK/py.out" 2>&1
pypid=${BGPIDS[-1]}
for ((i = 0; i < 100; i++)); do [ "$(xtsctl listeners | grep -c ':8445 ')" = 2 ] && break; sleep 0.1; done
[ "$(xtsctl listeners | grep -c ':8445 ')" = 2 ] || fail "python3 --queues 2: $(xtsctl listeners)"
s0=$(stat 0 tls_hs_ok) s1=$(stat 1 tls_hs_ok)
for i in 1 2 3 4; do
	out=$(echo hi | N timeout 10 openssl s_client -quiet -connect 198.18.0.1:8445 -CAfile "$PKI/ca.pem" \
		-verify_return_error -servername dpu.xts.test 2>/dev/null)
	[[ $out == "peer 198.18.0.2:"* ]] || fail "python3's getpeername under a terminate rule: '$out' $(cat "$WORK/py.out")"
done
wait_gone $pypid 50 || fail "python3 server did not end: $(cat "$WORK/py.out")"
stats_settle
echo "ok: terminate: python3's getpeername() says '$out' (the client in xts-net); --queues 2: handshakes on shard 0: $(($(stat 0 tls_hs_ok) - s0)), shard 1: $(($(stat 1 tls_hs_ok) - s1))"

# a terminate rule naming a profile the DPU lacks: listen() fails with the
# shard's ENOENT, and the shim says which rule
printf 'tls terminate *:8449 profile nosuch\n' >"$WORK/nosuch.rules"
out=$(H timeout 30 "$RUN" --rules "$WORK/nosuch.rules" -- python3 -c '
import socket
s = socket.socket(); s.bind(("0.0.0.0", 8449)); s.listen(4)' 2>&1) && fail "listen with profile nosuch worked: $out"
grep -q "listen with TLS profile nosuch (rule of line 1): No such file or directory" <<<"$out" &&
	grep -q "FileNotFoundError: \[Errno 2\]" <<<"$out" || fail "listen with profile nosuch: $out"
echo "ok: terminate with a profile the DPU lacks: listen() ENOENT; $(grep -o 'xts-run.*' <<<"$out" | head -n 1)"

# ---- originate: curl (plaintext) under xts-run, nginx speaks only TLS ----
ngx_conf "$WORK/ngxn" "ssl_certificate $PKI/net.pem; ssl_certificate_key $PKI/net.key;
	server { listen 198.18.0.2:8443 ssl; listen 198.18.0.2:8446 ssl; listen 198.18.0.2:8447 ssl; }"
bg net nginx -c "$WORK/ngxn/nginx.conf"
wait_port net 8447
out=$(H timeout 10 curl -sS http://198.18.0.2:8443/page.txt 2>&1)
grep -q "plain HTTP request was sent to HTTPS port" <<<"$out" ||
	fail "nginx in xts-net is not HTTPS-only: $(head -c 300 <<<"$out")"
cat >"$WORK/orig.rules" <<EOF
tls originate 198.18.0.2:8443 profile api name net.xts.test alpn http/1.1
tls originate 198.18.0.2:8446 profile api name wrong.xts.test
tls originate 198.18.0.2:8447 profile nosuch
EOF
out=$(H timeout 20 "$RUN" --rules "$WORK/orig.rules" -- curl -sS http://198.18.0.2:8443/page.txt 2>&1) ||
	fail "curl under xts-run with an originate rule: $out"
[ "$out" = "$BODY" ] || fail "originate: body '$(head -c 300 <<<"$out")'"
grep -q '^198\.18\.0\.1 .*"GET /page.txt HTTP/1.1" 200 ' "$WORK/ngxn/access.log" ||
	fail "originate: nginx did not see the DPU as its client: $(cat "$WORK/ngxn/access.log")"
echo "ok: originate: curl http://198.18.0.2:8443/ under xts-run got the body from HTTPS-only nginx (its client: the DPU, 198.18.0.1)"

expect_connect_fail() { # PORT ERRNO-TEXT REASON-PATTERN
	out=$(H timeout 20 "$RUN" --rules "$WORK/orig.rules" -- curl -sS "http://198.18.0.2:$1/page.txt" 2>&1)
	rc=$?
	[ $rc = 7 ] || fail "port $1: curl exit $rc (want 7, could not connect): $out"
	grep -q "xts-run\[[0-9]*\]: fd [0-9]*: connect with TLS profile .* (rule of line [0-9]): $2" <<<"$out" &&
		grep -Eq "$3" <<<"$out" || fail "port $1: not logged as '$2' and '$3': $out"
	grep -q "Failed to connect" <<<"$out" || fail "port $1: curl: $out"
}
v0=$(hs verify)
expect_connect_fail 8446 "Key was rejected by service" "hostname mismatch"
v1=$(hs verify)
[ $((v1 - v0)) = 1 ] || fail "wrong name: tls_hs_verify went $v0 -> $v1"
echo "ok: originate to the wrong name: curl exit 7, tls_hs_verify +1; $(grep -o 'xts-run.*' <<<"$out" | head -n 1)"
expect_connect_fail 8447 "No such file or directory" "no TLS profile"
echo "ok: originate with a profile the DPU lacks: curl exit 7; $(grep -o 'xts-run.*' <<<"$out" | head -n 1)"
# no queue to be had (no such interface, no xportd): a tls rule never
# falls back to kernel TCP, whose plaintext would reach the server as it is
out=$(H timeout 20 "$RUN" --interface xtsnone0 --rules "$WORK/orig.rules" -- \
	curl -sS http://198.18.0.2:8443/page.txt 2>&1) && fail "no queue: curl went through: $out"
grep -q "connect with TLS profile api (rule of line 1): " <<<"$out" && ! grep -q "400 Bad Request" <<<"$out" ||
	fail "no queue: $out"
echo "ok: no queue: a tls rule fails the connect instead of kernel TCP; $(grep -o 'xts-run.*TLS.*' <<<"$out" | head -n 1)"
echo "PASS: xts_run_tls"
