#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xts-run with listeners on several queues and across fork (issue 12):
# 1. --queues 2: one listener, a DPU listener on each of the process's two
#    queues (two shards); python3's accept() takes connections from both;
# 2. nginx, master as root and 2 workers as www-data (queues leased from
#    xportd): the master parks its listener at fork (no DPU listener of
#    its own: no connection waits for a process that never accepts), each
#    worker listens on its own queue; wrk from xts-net 10 s with 100
#    connections: no socket error, every answer 2xx, both workers served;
#    256 MiB by sendfile, byte-exact; `nginx -s reload` in the middle of a
#    wrk run: no connection refused or reset, no request lost, every
#    answer 2xx, the new workers serving;
# 3. socat's fork option: the parent accepts, a child serves each
#    connection, which the parent relays to it; 4 clients at once, 1 MB
#    each echoed byte-exact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/xportd_lib.sh"
need_root

topo_up 8
xtsd_start 8
xportd_start 8 "policy = ( { user = 33; leases = 8; } );"
RUN="$XTS_BIN/xts-run"

# per-shard conns_opened, one line "SHARD COUNT" each
opened_by_shard() {
	local s
	for ((s = 0; s < 8; s++)); do echo "$s $(stat "$s" conns_opened)"; done
}
# DPU listeners on PORT: one line per listener, its queue first
dpu_listeners() { xtsctl listeners | awk -v p=":$1" 'index($2, p) && substr($2, length($2) - length(p) + 1) == p'; }
wait_listeners() { # PORT COUNT
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(dpu_listeners "$1" | wc -l)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- 1. one listener on two queues ----
cat >"$WORK/acc.py" <<'EOP'
import socket, sys
n = int(sys.argv[2])
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1])))
l.listen(128)
got = 0
for i in range(n):
    c, a = l.accept()
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += len(b)
    c.close()
print("accepted %d bytes %d" % (n, got), flush=True)
EOP
stats_settle
opened_by_shard >"$WORK/before1"
H timeout 60 "$RUN" --queues 2 -- /usr/bin/python3 "$WORK/acc.py" 9100 40 >"$WORK/acc.out" 2>&1 &
apid=$!
wait_listeners 9100 2 || fail "--queues 2: DPU listeners on 9100: $(dpu_listeners 9100)"
[ "$(dpu_listeners 9100 | awk '{ print $1 }' | sort -u | wc -l)" = 2 ] ||
	fail "--queues 2: listeners not on two queues: $(dpu_listeners 9100)"
for ((i = 0; i < 40; i++)); do
	echo "connection $i" | N timeout 10 socat -u - TCP:198.18.0.1:9100 || fail "connection $i"
done
wait $apid || fail "python3 under xts-run --queues 2: $(cat "$WORK/acc.out")"
grep -q "^accepted 40 bytes $((40 * 13 + 30))\$" "$WORK/acc.out" || fail "accept: $(cat "$WORK/acc.out")"
stats_settle
opened_by_shard >"$WORK/after1"
per=$(join "$WORK/before1" "$WORK/after1" | awk '$3 > $2 { printf "%s:%d ", $1, $3 - $2 }')
[ "$(wc -w <<<"$per")" = 2 ] || fail "--queues 2: connections by shard: '$per', want two shards"
echo "ok: --queues 2: one listener on two queues, 40 connections accepted from both (shard:count $per)"

# ---- 2. nginx, master and two workers ----
mkdir -p "$WORK/ngx" "$WORK/www"
chmod 755 "$WORK/www"
head -c $((256 << 20)) /dev/urandom >"$WORK/www/big"
echo hello >"$WORK/www/index.html"
chmod 644 "$WORK/www/big" "$WORK/www/index.html"
cat >"$WORK/nginx.conf" <<EOC
user www-data;
worker_processes 2;
daemon off;
pid $WORK/ngx/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
	log_format w '\$pid \$status \$connection';
	access_log $WORK/ngx/access.log w;
	sendfile on;
	client_body_temp_path $WORK/ngx/b; proxy_temp_path $WORK/ngx/p;
	fastcgi_temp_path $WORK/ngx/f; uwsgi_temp_path $WORK/ngx/u; scgi_temp_path $WORK/ngx/s;
	server { listen 8080; root $WORK/www; }
}
EOC
H "$RUN" -- nginx -c "$WORK/nginx.conf" >"$WORK/nginx.log" 2>&1 &
BGPIDS+=($!)
wait_listeners 8080 2 || fail "nginx: DPU listeners on 8080: '$(dpu_listeners 8080)', want the 2 workers': $(cat "$WORK/nginx.log")"
sleep 0.5
[ "$(dpu_listeners 8080 | wc -l)" = 2 ] || fail "nginx: the master listens too: $(dpu_listeners 8080)"
mpid=$(cat "$WORK/ngx/nginx.pid")
workers=$(pgrep -P "$mpid" | sort -n | tr '\n' ' ')
[ "$(wc -w <<<"$workers")" = 2 ] || fail "nginx: workers '$workers'"
for w in $workers; do
	[ "$(command stat -c %u "/proc/$w")" = 33 ] || fail "nginx worker $w is not www-data"
done
echo "ok: nginx master $mpid parked its listener; workers $workers (www-data) listen on their own queues"

N timeout 120 curl -sS -o "$WORK/big.got" http://198.18.0.1:8080/big || fail "curl of 256 MiB from nginx"
cmp -s "$WORK/www/big" "$WORK/big.got" || fail "nginx: 256 MiB by sendfile differs"
rm -f "$WORK/big.got"
echo "ok: nginx workers: 256 MiB by sendfile, byte-exact"

: >"$WORK/ngx/access.log"
N timeout 60 wrk -t2 -c100 -d10s http://198.18.0.1:8080/index.html >"$WORK/wrk.out" 2>&1 ||
	fail "wrk: $(cat "$WORK/wrk.out")"
grep -Eq "Socket errors|Non-2xx" "$WORK/wrk.out" && fail "wrk against nginx: $(cat "$WORK/wrk.out")"
reqs=$(awk '/requests in/ { print $1 }' "$WORK/wrk.out")
[ "${reqs:-0}" -gt 1000 ] || fail "wrk against nginx: $(cat "$WORK/wrk.out")"
served=$(awk '{ n[$1]++ } END { for (p in n) printf "%s:%d ", p, n[p] }' "$WORK/ngx/access.log")
[ "$(wc -w <<<"$served")" = 2 ] || fail "nginx: requests by worker pid: '$served', want both workers"
awk '$2 !~ /^2/ { bad++ } END { exit bad > 0 }' "$WORK/ngx/access.log" || fail "nginx logged non-2xx"
echo "ok: wrk -t2 -c100 10 s against nginx (2 workers): $reqs requests, $(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk.out")/s, no error; by worker pid: $served"

# ---- 2b. nginx -s reload under wrk: no request lost ----
# The old workers close their listeners and their idle keep-alive
# connections, the new ones lease queues and listen a moment later: the
# DPU hands what it holds for an old worker's listener to a sibling, or
# keeps it until one listens (docs/design.md, "The drain of a listener").
# wrk counts one read error per keep-alive connection an old worker closes
# (an end of stream where it waits for a response: kernel TCP shows the
# same, 100 with -c100); a connection refused or reset before its request
# is a write or connect error, and a lost request a timeout.  An old
# worker that has not yet seen its quit can still take a connection that
# another old worker's close sent wrk to redial (the kernel's shared queue
# has the same race, XTS's longer path widens it: 101 in about 1 run of 12
# under load), so the bound is the old workers' connections, one read
# error each at most, as the access log names them ($pid $connection).
: >"$WORK/ngx/access.log"
old=$(pgrep -P "$mpid" | sort -n | tr '\n' ' ')
N timeout 60 wrk -t2 -c100 -d6s --timeout 5s http://198.18.0.1:8080/index.html >"$WORK/wrk2.out" 2>&1 &
wpid=$!
sleep 2
H nginx -c "$WORK/nginx.conf" -s reload || fail "nginx -s reload"
wait $wpid || fail "wrk across the reload: $(cat "$WORK/wrk2.out")"
new=$(pgrep -P "$mpid" | sort -n | tr '\n' ' ')
errs=$(awk '/Socket errors/ { gsub(",", ""); print $4, $6, $8, $10 }' "$WORK/wrk2.out")
read -r e_conn e_read e_write e_tmo <<<"${errs:-0 0 0 0}"
# distinct connections the old workers served in this run
old_conns=$(awk -v old=" $old " 'index(old, " " $1 " ") && !seen[$1 " " $3]++ { n++ } END { print n + 0 }' "$WORK/ngx/access.log")
[ "$old_conns" -ge 100 ] || fail "nginx -s reload: the old workers ($old) served $old_conns connections, want wrk's 100"
[ "$e_conn" = 0 ] && [ "$e_write" = 0 ] && [ "$e_tmo" = 0 ] && [ "$e_read" -le "$old_conns" ] ||
	fail "wrk across nginx -s reload: socket errors connect $e_conn read $e_read write $e_write timeout $e_tmo (want 0, <= $old_conns: the old workers' connections, 0, 0): $(cat "$WORK/wrk2.out")"
grep -q "Non-2xx" "$WORK/wrk2.out" && fail "wrk across nginx -s reload: $(cat "$WORK/wrk2.out")"
awk '$2 !~ /^2/ { bad++ } END { exit bad > 0 }' "$WORK/ngx/access.log" || fail "nginx logged non-2xx across the reload"
served=$(awk '{ n[$1]++ } END { for (p in n) printf "%s:%d ", p, n[p] }' "$WORK/ngx/access.log")
by_new=$(awk -v new=" $new " 'index(new, " " $1 " ") { n++ } END { print n + 0 }' "$WORK/ngx/access.log")
[ "$by_new" -gt 100 ] || fail "nginx -s reload: the new workers ($new) served $by_new requests: $served"
wait_listeners 8080 2 || fail "nginx -s reload: DPU listeners on 8080: $(dpu_listeners 8080)"
reqs=$(awk '/requests in/ { print $1 }' "$WORK/wrk2.out")
echo "ok: nginx -s reload under wrk -t2 -c100: $reqs requests, all 2xx, socket errors read $e_read (the keep-alive connections the old workers closed, of $old_conns they held), no other; workers $old-> $new; by pid: $served; DPU: $(stat total lsn_handed_off) connection(s) handed shard to shard"
# ---- 3. socat's fork option: the parent accepts, each child serves ----
H "$RUN" -- socat -t 30 TCP4-LISTEN:9300,fork,reuseaddr PIPE >"$WORK/socat.log" 2>&1 &
BGPIDS+=($!)
wait_listeners 9300 1 || fail "socat fork: DPU listeners on 9300: $(dpu_listeners 9300)"
head -c 1000000 /dev/urandom >"$WORK/one"
stats_settle
before=$(($(total data_to_host) + $(total data_to_net)))
for ((i = 0; i < 4; i++)); do
	N timeout 60 socat -b 65536 -t 5 - TCP:198.18.0.1:9300 <"$WORK/one" >"$WORK/echo$i" &
	cpids+=($!)
done
for ((i = 0; i < 4; i++)); do
	wait "${cpids[$i]}" || fail "socat client $i to socat fork under xts-run: $(tail -n 3 "$WORK/socat.log")"
	cmp -s "$WORK/one" "$WORK/echo$i" || fail "socat fork: echo $i differs ($(command stat -c %s "$WORK/echo$i") bytes)"
done
stats_settle
moved=$(($(total data_to_host) + $(total data_to_net) - before))
[ "$moved" -ge 8000000 ] || fail "socat fork: the shards moved $moved bytes, want >= 8000000"
echo "ok: socat fork under xts-run: 4 clients, 1 MB each echoed byte-exact by the children (relayed by the parent; shards moved $moved bytes)"
echo "PASS: xts_run_fork"
