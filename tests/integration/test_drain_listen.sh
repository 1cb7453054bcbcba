#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A draining shard leaves its reuseport groups: its listeners are still
# served by the other shards (every new connection lands elsewhere and is
# answered), and undrain brings it back into the group.  A LISTEN that
# arrives while a shard drains is answered but parked: it joins no group
# until undrain (shard 2, which xts-httpd does not use).
. "$(dirname "$0")/lib.sh"
need_root
command -v curl >/dev/null || fail "curl not installed (tools/install-deps)"

topo_up 3
xtsd_start 3
bg host "$XTS_BIN/xts-httpd" -n 2 -p 8080 >"$WORK/httpd.out" 2>&1
for ((i = 0; i < 100; i++)); do
	[ "$(grep -c 'listening on port 8080' "$WORK/httpd.out")" = 2 ] && break
	sleep 0.1
done
[ "$(grep -c 'listening on port 8080' "$WORK/httpd.out")" = 2 ] || fail "xts-httpd did not listen"

# the registry, as xtsctl shows it: one listener per queue, a reuseport group
xtsctl listeners
[ "$(xtsctl listeners --json | jget "sum(1 for r in j['listeners'] if r['local'].endswith(':8080'))")" = 2 ] ||
	fail "xtsctl listeners: $(xtsctl listeners --json)"

opened() { sleep 0.3; xtsctl stats --json | jget "j['shards'][$1]['conns_opened']"; }
get_n() { # N: N requests, each on a new connection; all must answer 200
	local i code
	for ((i = 0; i < $1; i++)); do
		code=$(N curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://198.18.0.1:8080/) ||
			fail "request $i: curl failed ($code)"
		[ "$code" = 200 ] || fail "request $i: HTTP $code"
	done
}

get_n 40
a0=$(opened 0) a1=$(opened 1)
(( a0 > 0 && a1 > 0 )) || fail "the group did not spread: shard 0 $a0, shard 1 $a1"
echo "ok: before drain: shard 0 took $a0, shard 1 took $a1 of 40"

xtsctl drain 1 >/dev/null || fail "drain 1"
[ "$(D ss -Hltn 'sport = :8080' | wc -l)" = 1 ] || fail "shard 1 still has a listening socket"
get_n 40
b0=$(opened 0) b1=$(opened 1)
[ "$b1" = "$a1" ] || fail "a connection landed on the draining shard ($a1 -> $b1)"
(( b0 - a0 == 40 )) || fail "shard 0 took $((b0 - a0)) of 40"
echo "ok: shard 1 draining: shard 0 served all 40, shard 1 none"

xtsctl undrain 1 >/dev/null || fail "undrain 1"
[ "$(D ss -Hltn 'sport = :8080' | wc -l)" = 2 ] || fail "shard 1 did not listen again"
get_n 40
c1=$(opened 1)
(( c1 > b1 )) || fail "shard 1 took nothing after undrain"
echo "ok: after undrain: shard 1 took $((c1 - b1)) of 40"

xtsctl drain 2 >/dev/null || fail "drain 2"
for ((i = 0; i < 50; i++)); do
	[ "$(xtsctl status --json | jget "j['shards'][2]['state']")" = draining ] && break
	sleep 0.1
done
bg host "$XTS_BIN/xts-cat" -l -k -q 2 8081 </dev/null >"$WORK/cat.out" 2>"$WORK/cat.err"
lsn8081() { xtsctl listeners --json | jget "sum(1 for r in j['listeners'] if r['local'].endswith(':8081'))"; }
for ((i = 0; i < 50; i++)); do [ "$(lsn8081)" = 1 ] && break; sleep 0.1; done
[ "$(lsn8081)" = 1 ] || fail "the LISTEN on the draining shard was not registered: $(cat "$WORK/cat.err")"
[ "$(D ss -Hltn 'sport = :8081' | wc -l)" = 0 ] ||
	fail "a LISTEN on the draining shard joined the reuseport group: $(D ss -Hltn 'sport = :8081')"
N curl -s --max-time 2 http://198.18.0.1:8081/ >/dev/null &&
	fail "a connection reached the draining shard's new listener"
echo "ok: a LISTEN on the draining shard 2 is answered and parked"
xtsctl undrain 2 >/dev/null || fail "undrain 2"
for ((i = 0; i < 50; i++)); do [ "$(D ss -Hltn 'sport = :8081' | wc -l)" = 1 ] && break; sleep 0.1; done
[ "$(D ss -Hltn 'sport = :8081' | wc -l)" = 1 ] || fail "the parked listener did not listen after undrain"
out=$(echo parked | N timeout 5 socat -t 2 - TCP4:198.18.0.1:8081 2>&1)
for ((i = 0; i < 30; i++)); do grep -q parked "$WORK/cat.out" && break; sleep 0.1; done
grep -q parked "$WORK/cat.out" || fail "nothing came through the once-parked listener: $out $(cat "$WORK/cat.err")"
echo "ok: after undrain the parked listener serves"
echo "PASS: drain_listen"
