#!/usr/bin/env bash
# ACL: a connect to a destination that the queue's ACL forbids fails with
# EACCES, and a listen on a port the listen rules do not allow likewise,
# as does a connect bound to such a source port;
# past the per-queue connection limit, connect fails with ENOBUFS while the
# other queue is unaffected.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2 'limits = { max_conns = 3; };' \
	'acl = { connect = [ "198.18.0.0/24", "[fd00:78:74::]/48:7" ]; listen = [ "8000-8999" ]; };' \
	'shards = ( { queue = 1; connect = [ "198.18.0.2/32:7" ]; } );'
for p in 7 8; do
	bg net socat -b 4096 TCP4-LISTEN:$p,bind=198.18.0.2,fork,reuseaddr PIPE
done
bg net socat -b 4096 TCP6-LISTEN:8,bind=[fd00:78:74::2],ipv6only=1,fork,reuseaddr PIPE
wait_port net 7; wait_port net 8

echo_ok() { local out; out=$(echo hi | H "$XTS_BIN/xts-cat" -q "$1" "$2" "$3") && [ "$out" = hi ] ||
	fail "queue $1 to $2:$3 refused: $out"; echo "ok: queue $1 to $2 port $3 allowed"; }
denied() {
	H "$XTS_BIN/xts-cat" -q "$1" "$2" "$3" </dev/null >/dev/null 2>"$WORK/err" && fail "queue $1 to $2:$3 allowed"
	grep -q "Permission denied" "$WORK/err" || fail "queue $1 to $2:$3: $(cat "$WORK/err")"
	echo "ok: queue $1 to $2 port $3: $(cat "$WORK/err")"
}
echo_ok 0 198.18.0.2 8      # default rules: the /24, any port
echo_ok 1 198.18.0.2 7      # queue 1's own rule
denied 1 198.18.0.2 8       # queue 1: only port 7
denied 0 fd00:78:74::2 8    # default: IPv6 only port 7
denied 0 203.0.113.1 80     # outside every rule: EACCES before any routing
# shards publish their counters 20 times a second: allow for that
for ((i = 0; i < 20; i++)); do
	[ "$(xtsctl stats --json | jget 'j["totals"][0]["conns_refused_acl"]')" = 3 ] && break
	sleep 0.05
done
[ "$(xtsctl stats --json | jget 'j["totals"][0]["conns_refused_acl"]')" = 3 ] || fail "refusals not counted"

# listen rules: 8000-8999 only
H timeout 5 "$XTS_BIN/xts-cat" -l -q 0 9000 </dev/null >/dev/null 2>"$WORK/lerr" && fail "listen on 9000 allowed"
grep -q "Permission denied" "$WORK/lerr" || fail "listen on 9000: $(cat "$WORK/lerr")"
echo "ok: listen on port 9000: $(cat "$WORK/lerr")"
H "$XTS_BIN/xts-cat" -l -q 0 8500 </dev/null >"$WORK/lout" 2>&1 &
lp=$!
sleep 1
kill -0 $lp 2>/dev/null || fail "listen on 8500 (allowed) failed: $(cat "$WORK/lout")"
out=$(echo hello | N socat -t 2 - TCP4:198.18.0.1:8500) || fail "connect to the allowed listener"
wait_gone $lp 30 || kill $lp
grep -q hello "$WORK/lout" || fail "the allowed listener got '$(cat "$WORK/lout")'"
echo "ok: listen on port 8500 allowed and served"

# bind-before-connect: a chosen source port falls under the listen rules
out=$(echo hi | H "$XTS_BIN/xts-cat" -q 0 -s 198.18.0.1 -p 8600 198.18.0.2 8) && [ "$out" = hi ] ||
	fail "connect from port 8600 (allowed) refused: $out"
echo "ok: connect from 198.18.0.1 port 8600 allowed"
H "$XTS_BIN/xts-cat" -q 0 -p 9500 198.18.0.2 8 </dev/null >/dev/null 2>"$WORK/berr" &&
	fail "connect from source port 9500 allowed"
grep -q "Permission denied" "$WORK/berr" || fail "connect from port 9500: $(cat "$WORK/berr")"
echo "ok: connect from source port 9500: $(cat "$WORK/berr")"

# the limit: queue 0 takes 3 of 5, queue 1 at the same time all of its 3
H "$XTS_BIN/xts-hold" -q 0 -n 5 -s 65536 -p 10 -T 30 198.18.0.2 7 >"$WORK/q0.out" 2>&1 &
p0=$!
H "$XTS_BIN/xts-hold" -q 1 -n 3 -s 65536 -p 10 -T 30 198.18.0.2 7 >"$WORK/q1.out" 2>&1 || fail "queue 1: $(cat "$WORK/q1.out")"
wait $p0
grep -q "ok 3 failed 2 ENOBUFS=2" "$WORK/q0.out" || fail "queue 0: $(cat "$WORK/q0.out")"
grep -q "ok 3 failed 0" "$WORK/q1.out" || fail "queue 1: $(cat "$WORK/q1.out")"
echo "ok: limit 3: queue 0: $(tail -n1 "$WORK/q0.out"); queue 1: $(tail -n1 "$WORK/q1.out")"
echo "PASS: sup_acl"
