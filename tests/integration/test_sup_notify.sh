#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xtsd sleeps, and wakes its shards, on events, not on ticks:
# - an idle xtsd sleeps to its next deadline (the hang watchdog's look at
#   each shard, every hang_ms / 4): its voluntary context switches over 3 s
#   are counted (a 20 ms poll would make 150);
# - xtsd writes a shard's ctl eventfd (shard_opts.ctl_efd) whenever it asks
#   something of it: a reload, a drain, an undrain, a conns snapshot.  An
#   idle shard sleeps to its heartbeat (every 100 ms) and would otherwise
#   see the request only then.  Counted, not timed: with shard 1 stopped
#   (SIGSTOP) nothing empties its eventfd, so its count
#   (/proc/PID/fdinfo) is the number of wake-ups xtsd sent it, exactly one
#   per request that concerns it, and none for a request that does not.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2 'timeouts = { hang_ms = 0; };' # shard 1 is stopped on purpose
sleep 0.5                                   # past the shards' start-up rounds: idle

vcs() { awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "/proc/$XTSD_PID/status"; }
v0=$(vcs)
sleep 3
n=$(($(vcs) - v0))
info "idle xtsd: $n wakeups in 3 s"
((n <= 30)) || fail "an idle xtsd woke $n times in 3 s: a tick, not its deadlines"
echo "ok: an idle xtsd woke $n times in 3 s"

# the eventfd xtsd and shard 1 share (same eventfd-id in both), and its count
efd_ids() { cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '$1 == "eventfd-id:" { print $2 }' | sort -u; }
s1=$(stat 1 pid)
id=$(comm -12 <(efd_ids "$s1") <(efd_ids "$XTSD_PID"))
[ -n "$id" ] && [ "$(wc -w <<<"$id")" = 1 ] || fail "shard 1 and xtsd share eventfds '$id', want one"
count() {
	for f in /proc/"$s1"/fdinfo/*; do
		awk -v id="$id" '$1 == "eventfd-count:" { c = $2 } $1 == "eventfd-id:" && $2 == id { print c }' "$f"
	done 2>/dev/null
}
kill -STOP "$s1"
[ "$(count)" = 0 ] || fail "shard 1's eventfd holds $(count) before any request"
xtsctl reload >/dev/null || fail "reload"
xtsctl drain 0 >/dev/null || fail "drain 0"
[ "$(count)" = 1 ] || fail "after reload and drain 0: shard 1's eventfd count $(count), want 1"
xtsctl drain 1 >/dev/null || fail "drain 1"
xtsctl undrain 1 >/dev/null || fail "undrain 1"
xtsctl conns >/dev/null || fail "conns"
c=$(count)
kill -CONT "$s1"
[ "$c" = 4 ] || fail "after reload, drain 1, undrain 1, conns: shard 1's eventfd count $c, want 4"
echo "ok: a stopped shard's eventfd: 1 after reload (drain 0 is not its), 4 after drain, undrain and conns"
for ((i = 0; i < 50; i++)); do [ "$(count)" = 0 ] && break; sleep 0.1; done
[ "$(count)" = 0 ] || fail "shard 1 did not empty its eventfd once continued"
[ "$(stat 0 state)" = draining ] && [ "$(stat 1 state)" = running ] || fail "states: $(xtsctl status)"
echo "ok: continued, shard 1 emptied its eventfd"
echo "PASS: sup_notify"
