#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Restart backoff: a shard that keeps dying is restarted after 50, 100,
# 200, 400, 800 ms, and one that ran 10 s before it died after 50 ms
# again.  Checked twice: the delay xtsd announces ("restart in N ms") for
# each kill is the next of that sequence (or 50 where the killed shard had
# run 10 s: a loaded machine can take that long between kills), and the
# delay measured from the kill to the successor's fork (status's
# started_ms) is never shorter (a restart never comes early) and at most
# 1 s longer (the kernel's teardown of the dead shard alone can take a few
# hundred ms).  A restart the test did not cause fails it.
. "$(dirname "$0")/lib.sh"
need_root
XTS_ALLOW_RESTART=1 # the kills are the point

topo_up 1
xtsd_start 1
ctl_wait

started_ms() { xtsctl status --json | grep -o '"started_ms": [0-9]*' | awk '{ print $2 }'; }
# crash: kill -9 shard 0, wait until its successor runs.  Sets UP (how
# long the killed shard had run, ms), D (from the kill to the successor's
# fork, ms) and A (the delay xtsd announced for this restart, ms).
ncrash=0
crash() {
	local old st t0 s0
	read -r old st <<<"$(shard_get 0 PID STATE)"
	[ "$st" = running ] || fail "shard 0 is $st before the kill"
	s0=$(started_ms)
	clock_us t0
	kill -9 "$old"
	shard_back 0 "$old" "$t0"
	ncrash=$((ncrash + 1))
	UP=$((t0 / 1000 - s0))
	D=$(($(started_ms) - t0 / 1000))
	A=$(announced | awk -v n=$ncrash '{ print $n }')
	[ "$(announced | wc -w)" = $ncrash ] || fail "a restart the test did not cause: announced$(announced)"
}

announced() { grep -o "restart in [0-9]* ms" "$WORK/xtsd.log" | awk '{ printf " %s", $3 }'; }
# expect NEXT: the announced delay must be NEXT, or 50 if the killed shard
# had run 10 s (on a slow machine a restart and its checks can take that
# long; near 10 s either, as xtsd reads its clock when it reaps); the
# measured delay is never shorter and at most 1 s longer
expect() {
	local want=$1
	((UP >= 10500)) && want=50
	if ((UP >= 9500 && UP < 10500)); then
		[ "$A" = "$1" ] || [ "$A" = 50 ] || fail "restart $ncrash: announced $A ms after $UP ms up, want $1 or 50"
	else
		[ "$A" = "$want" ] || fail "restart $ncrash: announced $A ms after $UP ms up, want $want (announced:$(announced))"
	fi
	[ "$D" -ge $((A - 2)) ] || fail "restart after $D ms, before its backoff of $A ms ($figures)"
	[ "$D" -le $((A + 1000)) ] || fail "restart after $D ms, backoff $A ms ($figures)"
}
figures= next=50 doubled=0
for i in 1 2 3 4 5; do
	crash
	figures="$figures $D"
	expect $next
	((A > 50)) && doubled=1
	next=$((A * 2 > 5000 ? 5000 : A * 2))
done
info "restart delays measured (ms):$figures; announced:$(announced)"
((doubled)) || fail "no restart was delayed more than 50 ms (announced:$(announced)): each took 10 s?"
echo "ok: successive crashes restart after$figures ms (announced:$(announced))"

# up 10 s: the next restart is quick again
sleep 10.2
crash
info "after 10 s up: restart after $D ms (backoff 50; $next without the reset)"
[ "$A" = 50 ] || fail "after $UP ms up: announced $A ms, want 50"
[ "$D" -ge 48 ] && [ "$D" -le 1050 ] || fail "after 10 s up: restart after $D ms, want about 50"
echo "ok: a shard up 10 s earned its backoff back: restart after $D ms"
echo "PASS: sup_backoff"
