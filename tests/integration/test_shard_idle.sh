#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# An idle shard sleeps to its next deadline: with no host, it wakes for its
# heartbeat (every 100 ms, for xtsd's hang watchdog) and nothing else, not
# on a fixed tick (10 ms before: ~300 wakeups in 3 s) nor to poll the
# control plane: xtsd's eventfd wakes it for a drain, which acts at once.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 1
xtsd_start 1
pid=$(stat 0 pid)
[ -n "$pid" ] && [ "$pid" -gt 0 ] || fail "no shard pid"
sleep 1
vcs() { awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "/proc/$pid/status"; }
v0=$(vcs)
sleep 3
v1=$(vcs)
n=$((v1 - v0))
info "idle shard: $n wakeups in 3 s (heartbeat every 100 ms: about 30)"
((n <= 90)) || fail "an idle shard woke $n times in 3 s: a tick, not its deadlines"

t0=$(date +%s%N)
xtsctl drain 0 >/dev/null || fail "drain"
for ((i = 0; i < 100; i++)); do
	[ "$(stat 0 state)" = draining ] && break
	sleep 0.01
done
[ "$(stat 0 state)" = draining ] || fail "the shard did not drain"
info "drain in force $((($(date +%s%N) - t0) / 1000000)) ms after the request (xtsctl and the poll included)"
echo "PASS: shard_idle"
