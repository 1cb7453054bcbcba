#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Restart backoff: a shard that keeps dying is restarted after 50, 100,
# 200, 400, 800 ms, and one that ran 10 s before it died after 50 ms
# again.  Checked twice: the delays xtsd announces ("restart in N ms")
# are exactly that sequence, and the delays measured from the kill to the
# successor's fork (status's started_ms) are never shorter (a restart never
# comes early) and at most 1 s longer (a loaded machine; the kernel's
# teardown of the dead shard alone can take a few hundred ms).
. "$(dirname "$0")/lib.sh"
need_root
XTS_ALLOW_RESTART=1 # the kills are the point

topo_up 1
xtsd_start 1
ctl_wait

started_ms() { xtsctl status --json | grep -o '"started_ms": [0-9]*' | awk '{ print $2 }'; }
# crash: kill -9 shard 0, wait until its successor runs; prints the delay
# from the kill to the successor's fork, in ms
crash() {
	local old st t0
	read -r old st <<<"$(shard_get 0 PID STATE)"
	[ "$st" = running ] || fail "shard 0 is $st before the kill"
	clock_us t0
	kill -9 "$old"
	shard_back 0 "$old" "$t0"
	echo $(($(started_ms) - t0 / 1000))
}

announced() { grep -o "restart in [0-9]* ms" "$WORK/xtsd.log" | awk '{ printf " %s", $3 }'; }
figures=
for want in 50 100 200 400 800; do
	d=$(crash) || exit 1
	figures="$figures $d"
	[ "$d" -ge $((want - 2)) ] || fail "restart after $d ms, before its backoff of $want ms ($figures)"
	[ "$d" -le $((want + 1000)) ] || fail "restart after $d ms, backoff $want ms ($figures)"
done
info "restart delays measured (ms):$figures; announced:$(announced)"
[ "$(announced)" = " 50 100 200 400 800" ] || fail "announced restart delays:$(announced)"
echo "ok: successive crashes restart after$figures ms (backoff 50 100 200 400 800)"

# up 10 s: the next restart is quick again
sleep 10.2
d=$(crash) || exit 1
info "after 10 s up: restart after $d ms (backoff 50; 1600 without the reset)"
[ "$d" -ge 48 ] && [ "$d" -le 1050 ] || fail "after 10 s up: restart after $d ms, want about 50"
[ "$(announced)" = " 50 100 200 400 800 50" ] || fail "announced restart delays:$(announced)"
echo "ok: a shard up 10 s earned its backoff back: restart after $d ms"
echo "PASS: sup_backoff"
