#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xts-run: unmodified Debian programs (curl, socat) and a plain sockets
# program on XTS through libxts-preload.so.  Every step proves the
# offload: the host also has a kernel route to xts-net (xk0), so a shim
# that quietly left the sockets to the kernel would still move the bytes;
# the shards' data counters must move by at least the bytes the step
# moved, and the servers must see the DPU's address as the peer.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2
RUN="$XTS_BIN/xts-run"


mkdir -p "$WORK/www"
head -c 67108864 /dev/urandom >"$WORK/www/body"
SIZE=67108864
(cd "$WORK/www" && exec ip netns exec "${PFX}net" python3 -m http.server --bind 198.18.0.2 8000 \
	>"$WORK/http.log" 2>&1) &
BGPIDS+=($!)
(cd "$WORK/www" && exec ip netns exec "${PFX}net" python3 -m http.server --bind fd00:78:74::2 8001 \
	>"$WORK/http6.log" 2>&1) &
BGPIDS+=($!)
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 8000
wait_port net 8001
wait_port net 7

# 1. curl (non-blocking connect, poll, SO_ERROR, send/recv) fetches 64 MiB
before=$(moved)
H timeout 60 "$RUN" -- curl -sS -o "$WORK/got" http://198.18.0.2:8000/body ||
	fail "curl under xts-run"
cmp -s "$WORK/www/body" "$WORK/got" || fail "curl: body differs"
grep -q '^198\.18\.0\.1 .*GET /body' "$WORK/http.log" ||
	fail "curl: the server did not see the DPU as the client: $(tail -n 1 "$WORK/http.log")"
offloaded curl "$before" "$SIZE"
echo "ok: curl under xts-run: 64 MiB byte-exact, peer 198.18.0.1 (the DPU)"

# the same over IPv6
before=$(moved)
H timeout 60 "$RUN" -- curl -sS -g -o "$WORK/got6" "http://[fd00:78:74::2]:8001/body" ||
	fail "curl -6 under xts-run"
cmp -s "$WORK/www/body" "$WORK/got6" || fail "curl over IPv6: body differs"
grep -q '^fd00:78:74::1 .*GET /body' "$WORK/http6.log" ||
	fail "curl over IPv6: the server did not see the DPU: $(tail -n 1 "$WORK/http6.log")"
offloaded "curl IPv6" "$before" "$SIZE"
echo "ok: curl under xts-run over IPv6: 64 MiB byte-exact, peer fd00:78:74::1 (the DPU)"

# 2. socat as a client: 2 MB through the echo server and back
head -c 2000000 "$WORK/www/body" >"$WORK/two"
before=$(moved)
H timeout 60 "$RUN" -- socat -b 65536 -t 5 - TCP:198.18.0.2:7 <"$WORK/two" >"$WORK/echoed" ||
	fail "socat client under xts-run"
cmp -s "$WORK/two" "$WORK/echoed" || fail "socat client: echo differs"
offloaded "socat client" "$before" 4000000
echo "ok: socat client under xts-run: 2 MB echoed byte-exact"

# 3. socat as a listener on the host: the DPU listens for it, xts-net
# sends 64 MiB to the DPU's address (only an offloaded listener is there)
before=$(moved)
H timeout 60 "$RUN" -- socat -u TCP4-LISTEN:9000,reuseaddr CREATE:"$WORK/got3" &
lpid=$!
for ((i = 0; i < 100; i++)); do
	xtsctl listeners | grep -q ':9000 ' && break
	sleep 0.1
done
xtsctl listeners | grep -q ':9000 ' || fail "socat listener: no DPU listener on 9000"
N timeout 30 socat -u FILE:"$WORK/www/body" TCP:198.18.0.1:9000 || fail "sending to the listener"
wait $lpid || fail "socat listener under xts-run exited $?"
cmp -s "$WORK/www/body" "$WORK/got3" || fail "socat listener: bytes differ"
offloaded "socat listener" "$before" "$SIZE"
echo "ok: socat listener under xts-run: 64 MiB received byte-exact through the DPU's listener"

# 4. errno and call semantics, checked by a plain sockets program
before=$(opened)
H timeout 60 "$RUN" -- "$XTS_BIN/xts-run-check" 198.18.0.2 7 9 || fail "xts-run-check"
stats_settle
[ $(($(opened) - before)) -ge 3 ] || fail "xts-run-check: $(($(opened) - before)) connections on the DPU, want >= 3"

# 5. rules: a rule that sends this server to the kernel is obeyed (the
# bytes take the host's kernel route, the server sees the host's address)
printf '# test rules\nkernel client 198.18.0.2:8000\noffload client *\n' >"$WORK/rules"
before=$(moved)
H timeout 60 "$RUN" --rules "$WORK/rules" -- curl -sS -o "$WORK/got5" http://198.18.0.2:8000/body ||
	fail "curl with a kernel rule"
cmp -s "$WORK/www/body" "$WORK/got5" || fail "curl with a kernel rule: body differs"
stats_settle
[ $(($(moved) - before)) -lt 1000000 ] || fail "a kernel rule: the shards moved $(($(moved) - before)) bytes"
tail -n 1 "$WORK/http.log" | grep -q '^198\.18\.2\.1 ' ||
	fail "a kernel rule: the server saw $(tail -n 1 "$WORK/http.log")"
echo "ok: rules: 'kernel client 198.18.0.2:8000' leaves curl on kernel TCP"
printf 'offload client 198.18.0.0/33\n' >"$WORK/bad"
out=$("$RUN" --rules "$WORK/bad" -- true 2>&1); rc=$?
[ $rc = 2 ] && [[ $out == *"$WORK/bad:1: bad prefix length"* ]] ||
	fail "a bad rules file: exit $rc, '$out'"
echo "ok: a bad rules file: $out"

# 6. redis-server under xts-run (epoll, accept, pipelining): its listener
# is the DPU's (xts-net reaches it at the DPU's address, where nothing
# else listens); redis-benchmark from xts-net with a BGSAVE during the
# load: the child closes its copy of the listener, the parent's survives
H "$RUN" -- redis-server --port 6379 --save "" --appendonly no --protected-mode no \
	--dir "$WORK" >"$WORK/redis.log" 2>&1 &
BGPIDS+=($!)
for ((i = 0; i < 100; i++)); do
	xtsctl listeners | grep -q ':6379 ' && break
	sleep 0.1
done
xtsctl listeners | grep -q ':6379 ' || fail "redis-server: no DPU listener on 6379"
before=$(moved)
N timeout 120 redis-benchmark -h 198.18.0.1 -p 6379 -c 50 -P 16 -t set,get,lpush -n 200000 \
	-q >"$WORK/bench.out" 2>&1 &
bpid=$!
sleep 1
N redis-cli -h 198.18.0.1 -p 6379 bgsave | grep -q "Background saving started" || fail "BGSAVE"
wait $bpid || fail "redis-benchmark exited $?: $(tail -n 3 "$WORK/bench.out")"
grep -qi "error" "$WORK/bench.out" && fail "redis-benchmark: $(grep -i error "$WORK/bench.out" | head -n 3)"
[ "$(grep -c "requests per second" "$WORK/bench.out")" = 3 ] ||
	fail "redis-benchmark: $(tr '\r' '\n' <"$WORK/bench.out" | tail -n 3)"
for ((i = 0; i < 100; i++)); do
	grep -q "Background saving terminated with success" "$WORK/redis.log" && break
	sleep 0.1
done
grep -q "Background saving terminated with success" "$WORK/redis.log" || fail "BGSAVE did not finish"
[ "$(N redis-cli -h 198.18.0.1 -p 6379 ping)" = PONG ] || fail "redis after the BGSAVE child exited"
offloaded "redis" "$before" 1000000
echo "ok: redis-server under xts-run: $(tr '\r' '\n' <"$WORK/bench.out" | grep "requests per second" | cut -d' ' -f1-2 | tr '\n' ' ')BGSAVE during load, listener alive after"

# 7. nginx under xts-run (one process: an inherited listener is not
# served in a child yet, see docs/design.md), sendfile on: curl from
# xts-net fetches 64 MiB byte-exact (the sendfile path), then wrk -t2 -c64
# for 5 s: no socket error, every answer 2xx
mkdir -p "$WORK/ngx"
cat >"$WORK/nginx.conf" <<EOC
daemon off;
master_process off;
pid $WORK/ngx/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	client_body_temp_path $WORK/ngx; proxy_temp_path $WORK/ngx;
	fastcgi_temp_path $WORK/ngx; uwsgi_temp_path $WORK/ngx; scgi_temp_path $WORK/ngx;
	server { listen 8080; root $WORK/www; }
}
EOC
echo hello >"$WORK/www/index.html"
H "$RUN" -- nginx -c "$WORK/nginx.conf" >"$WORK/nginx.log" 2>&1 &
BGPIDS+=($!)
for ((i = 0; i < 100; i++)); do
	xtsctl listeners | grep -q ':8080 ' && break
	sleep 0.1
done
xtsctl listeners | grep -q ':8080 ' || fail "nginx: no DPU listener on 8080: $(cat "$WORK/nginx.log")"
before=$(moved)
N timeout 60 curl -sS -o "$WORK/got7" http://198.18.0.1:8080/body || fail "curl from xts-net to nginx"
cmp -s "$WORK/www/body" "$WORK/got7" || fail "nginx (sendfile): body differs"
offloaded "nginx sendfile" "$before" "$SIZE"
N timeout 60 wrk -t2 -c64 -d5s http://198.18.0.1:8080/index.html >"$WORK/wrk.out" 2>&1 ||
	fail "wrk: $(cat "$WORK/wrk.out")"
grep -Eq "Socket errors|Non-2xx" "$WORK/wrk.out" && fail "wrk against nginx: $(cat "$WORK/wrk.out")"
reqs=$(awk '/requests in/ { print $1 }' "$WORK/wrk.out")
[ "${reqs:-0}" -gt 1000 ] || fail "wrk against nginx: $(cat "$WORK/wrk.out")"
echo "ok: nginx under xts-run: 64 MiB by sendfile byte-exact; wrk -t2 -c64 5 s: $reqs requests, $(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk.out")/s, no error"
echo "PASS: xts_run"
