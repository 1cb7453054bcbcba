#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# ACL: a connect to a destination that the queue's ACL forbids fails with
# EACCES, and a listen on a port the listen rules do not allow likewise,
# as does a connect bound to such a source port;
# an IPv4 destination written as IPv4-mapped IPv6 (::ffff:a.b.c.d) is
# judged as the IPv4 address it is (an IPv6 rule such as [::]/0 never lets
# it through), and the DPU itself (loopback, ::, ::1, the mapped forms,
# its own interface addresses) is reachable only through a rule that
# names it;
# past the per-queue connection limit, connect fails with ENOBUFS while the
# other queue is unaffected.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 3
xtsd_start 3 'limits = { max_conns = 3; };' \
	'acl = { connect = [ "198.18.0.0/24", "[fd00:78:74::]/48:7" ]; listen = [ "8000-8999" ]; };' \
	'shards = ( { queue = 1; connect = [ "198.18.0.2/32:7", "127.0.0.0/8:8007", "198.18.0.1:8007" ]; },' \
	'           { queue = 2; connect = [ "198.18.0.2:7", "[::]/0:8007" ]; } );'
for p in 7 8 8007; do
	bg net socat -b 4096 TCP4-LISTEN:$p,bind=198.18.0.2,fork,reuseaddr PIPE
done
bg net socat -b 4096 TCP6-LISTEN:8,bind=[fd00:78:74::2],ipv6only=1,fork,reuseaddr PIPE
bg net socat -b 4096 TCP6-LISTEN:8007,bind=[fd00:78:74::2],ipv6only=1,fork,reuseaddr PIPE
# services on the DPU itself, on every address it has
bg dpu socat -b 4096 TCP4-LISTEN:8007,fork,reuseaddr PIPE
bg dpu socat -b 4096 TCP6-LISTEN:8007,ipv6only=1,fork,reuseaddr PIPE
wait_port net 7; wait_port net 8; wait_port net 8007; wait_port dpu 8007

ndenied=0
echo_ok() { local out; out=$(echo hi | H "$XTS_BIN/xts-cat" -q "$1" "$2" "$3") && [ "$out" = hi ] ||
	fail "queue $1 to $2:$3 refused: $out"; echo "ok: queue $1 to $2 port $3 allowed"; }
denied() {
	H timeout 10 "$XTS_BIN/xts-cat" -q "$1" "$2" "$3" </dev/null >/dev/null 2>"$WORK/err" &&
		fail "queue $1 to $2:$3 allowed"
	grep -q "Permission denied" "$WORK/err" || fail "queue $1 to $2:$3: $(cat "$WORK/err")"
	ndenied=$((ndenied + 1))
	echo "ok: queue $1 to $2 port $3: $(cat "$WORK/err")"
}
echo_ok 0 198.18.0.2 8      # default rules: the /24, any port
echo_ok 1 198.18.0.2 7      # queue 1's own rule
denied 1 198.18.0.2 8       # queue 1: only port 7
denied 0 fd00:78:74::2 8    # default: IPv6 only port 7
denied 0 203.0.113.1 80     # outside every rule: EACCES before any routing

# IPv4-mapped IPv6 is IPv4: queue 2 has 198.18.0.2:7 and [::]/0:8007
denied 2 198.18.0.2 8007
denied 2 ::ffff:198.18.0.2 8007
echo_ok 2 ::ffff:198.18.0.2 7
echo_ok 2 fd00:78:74::2 8007
# the DPU itself: [::]/0 and the /24 do not name it
denied 2 127.0.0.1 8007
denied 2 ::ffff:127.0.0.1 8007
denied 2 ::1 8007
denied 2 :: 8007
denied 2 ::ffff:0.0.0.0 8007
denied 2 fd00:78:74::1 8007 # the DPU's own address on xu0 (routing table: local)
denied 0 198.18.0.1 8007    # inside the default /24, but the DPU's own
denied 0 0.0.0.0 8007
# ... unless a rule names it: queue 1 has 127.0.0.0/8:8007 and 198.18.0.1:8007
echo_ok 1 127.0.0.1 8007
echo_ok 1 ::ffff:127.0.0.2 8007
echo_ok 1 198.18.0.1 8007
denied 1 ::1 8007
# shards publish their counters 20 times a second: allow for that
for ((i = 0; i < 20; i++)); do
	[ "$(xtsctl stats --json | jget 'j["totals"][0]["conns_refused_acl"]')" = $ndenied ] && break
	sleep 0.05
done
got=$(xtsctl stats --json | jget 'j["totals"][0]["conns_refused_acl"]')
[ "$got" = $ndenied ] || fail "refusals not counted: $got, want $ndenied"

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
