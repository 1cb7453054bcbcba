#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Listening sockets over XTS: bind conflicts (EADDRINUSE across queues,
# wildcard and v4/v6 overlap), the accept API (blocking, non-blocking,
# poll, peer addresses, port 0), a SO_REUSEPORT group across two queues
# sharing connections, rebinding a port at once after its listener
# closed, and curl against `xts-cat -l` compared byte for byte both ways.
. "$(dirname "$0")/lib.sh"
need_root
CHECK="$XTS_BIN/xts-listen-check"

topo_up 4
xtsd_start 4

# wait_line FILE PATTERN: until the driver printed it (or died)
wait_line() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		grep -q "^FAIL" "$1" 2>/dev/null && { cat "$1"; fail "driver: $(grep ^FAIL "$1")"; }
		sleep 0.1
	done
	cat "$1"; fail "driver never printed '$2'"
}
# driver_done PID FILE NAME: its exit status and PASS line
driver_done() {
	wait "$1" || { cat "$3"; fail "$2 exited $?"; }
	grep -q "^PASS: $2" "$3" || { cat "$3"; fail "$2: no PASS"; }
	sed 's/^/  /' "$3"
}
# echo_via NS-ADDR PORT: one line through a real client, echoed back
echo_via() {
	local got
	got=$(N timeout 10 socat -t5 - "TCP:$1:$2" <<<"hello $1 $2") || fail "client to $1:$2"
	[ "$got" = "hello $1 $2" ] || fail "echo from $1:$2: '$got'"
}

# 1. conflicts
H "$CHECK" conflict 7001 >"$WORK/conflict.out" || { cat "$WORK/conflict.out"; fail "conflict"; }
sed 's/^/  /' "$WORK/conflict.out"

# 2. the accept API
H "$CHECK" api 7002 >"$WORK/api.out" & pid=$!
wait_line "$WORK/api.out" '^listening'
p0=$(awk '/^listening/ { print $2 }' "$WORK/api.out")
echo_via 198.18.0.1 7002
echo_via '[fd00:78:74::1]' 7002
echo_via 198.18.0.1 "$p0"
driver_done $pid api "$WORK/api.out"

# 3. a SO_REUSEPORT group across queues 0 and 1 shares the connections
N_CONN=200
H "$CHECK" reuseport 7003 $N_CONN >"$WORK/rp.out" & pid=$!
wait_line "$WORK/rp.out" '^listening'
# the clients start from one shell in the peer namespace: 200 `ip netns
# exec` (each remounts /sys) took longer than the driver waits on a loaded
# machine, and then the count measured the test, not the group
t0=$SECONDS
N bash -c '
	for ((i = 0; i < $1; i++)); do
		timeout 30 socat -u /dev/null TCP4:198.18.0.1:7003 2>/dev/null &
		(( i % 20 == 19 )) && sleep 0.05
	done
	bad=0
	for p in $(jobs -p); do wait $p || bad=$((bad + 1)); done
	echo "clients: $(($1 - bad)) of $1 connected"' - $N_CONN >"$WORK/rp_clients.out" 2>&1
cat "$WORK/rp_clients.out"
driver_done $pid reuseport "$WORK/rp.out"
echo "ok: $N_CONN connections shared in $((SECONDS - t0)) s"

# 4. rebind at once after close (with a connection in TIME_WAIT on the DPU:
#    the client keeps its side open until the DPU has closed, so the DPU
#    closes first and its side of the connection is the one in TIME_WAIT)
echo_late_fin() {
	local got
	got=$({ echo "hello $1 $2"; sleep 1; } | N timeout 10 socat -t5 - "TCP:$1:$2") ||
		fail "client to $1:$2"
	[ "$got" = "hello $1 $2" ] || fail "echo from $1:$2: '$got'"
}
H "$CHECK" rebind 7004 >"$WORK/rebind.out" & pid=$!
wait_line "$WORK/rebind.out" '^listening'
echo_late_fin 198.18.0.1 7004
for ((i = 0; i < 50; i++)); do [ "$(grep -c '^listening' "$WORK/rebind.out")" = 2 ] && break; sleep 0.1; done
echo_late_fin 198.18.0.1 7004
driver_done $pid rebind "$WORK/rebind.out"
# the point of the rebind: the port had a connection in TIME_WAIT (60 s)
D ss -Htan state time-wait | grep -q ':7004 ' ||
	fail "no TIME_WAIT on the DPU for port 7004: the rebind did not meet one"
echo "ok: port 7004 rebound while a connection of it was in TIME_WAIT on the DPU"

# 5. curl <-> xts-cat -l, exact both ways.  What curl sends is recorded
#    first against a kernel listener (socat) with the very same command.
head -c 300000 /dev/urandom >"$WORK/req_body"
head -c 200000 /dev/urandom >"$WORK/resp_body"
{
	printf 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n' \
		"$(wc -c <"$WORK/resp_body")"
	cat "$WORK/resp_body"
} >"$WORK/resp"
curl_to() { # host:port out
	N timeout 20 curl -sS -i --http1.1 -H 'Expect:' -H 'Host: xts' --data-binary @"$WORK/req_body" \
		-o "$2" "http://$1/upload"
}
bg net socat -u TCP4-LISTEN:7005,bind=198.18.0.2,reuseaddr OPEN:"$WORK/ref_req",creat,trunc
wait_port net 7005
N timeout 20 curl -sS --http1.1 -H 'Expect:' -H 'Host: xts' --data-binary @"$WORK/req_body" \
	-m 3 -o /dev/null http://198.18.0.2:7005/upload 2>/dev/null
[ -s "$WORK/ref_req" ] || fail "no reference request recorded"
{ sleep 1; cat "$WORK/resp"; } | H timeout 30 "$XTS_BIN/xts-cat" -l -q 2 7006 >"$WORK/got_req" & catpid=$!
for ((i = 0; i < 50; i++)); do D ss -Hltn 'sport = :7006' | grep -q . && break; sleep 0.1; done
curl_to 198.18.0.1:7006 "$WORK/curl_out" || fail "curl to xts-cat -l"
wait $catpid || fail "xts-cat -l exited $?"
cmp "$WORK/ref_req" "$WORK/got_req" || fail "xts-cat printed other bytes than curl sent"
cmp "$WORK/resp" "$WORK/curl_out" || fail "curl got other bytes than xts-cat sent"
echo "ok: curl -> xts-cat -l: $(wc -c <"$WORK/got_req") request bytes exact;" \
	"xts-cat -l -> curl: $(wc -c <"$WORK/curl_out") response bytes exact"

# 6. xts-cat -l -k: one connection after another
H timeout 20 "$XTS_BIN/xts-cat" -l -k -q 3 7007 </dev/null >"$WORK/k.out" & kpid=$!
BGPIDS+=($kpid)
for ((i = 0; i < 50; i++)); do D ss -Hltn 'sport = :7007' | grep -q . && break; sleep 0.1; done
for i in 1 2 3; do N timeout 10 socat -u - TCP4:198.18.0.1:7007 <<<"conn $i" || fail "-k conn $i"; done
sleep 0.5
[ "$(cat "$WORK/k.out")" = "$(printf 'conn 1\nconn 2\nconn 3')" ] || { cat "$WORK/k.out"; fail "xts-cat -l -k"; }
echo "ok: xts-cat -l -k served 3 connections in turn"

# Listeners gone with their programs: nothing left listening on the DPU.
sleep 0.5
for p in 7001 7002 7003 7004 7006; do
	D ss -Hltn "sport = :$p" | grep -q . && fail "port $p still listened on in the DPU"
done
echo "PASS: listen"
