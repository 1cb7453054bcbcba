#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# poll modes (xts.conf poll; docs/design.md, "Poll modes"): shards start
# in the configured mode; a reload switches one shard's mode and xtsctl
# status shows it (and whether the kernel busy-polls its AF_XDP socket),
# and its CPU time shows it: a busy shard spins (most of what a core can
# give it here), a sleeping one next to nothing.  A busy shard passes a
# byte-exact transfer both ways, keeps its heartbeat moving (hang_ms 1 s:
# the watchdog would kill a shard whose loop never reaches the sleep that
# publishes it otherwise), comes back busy after a crash, and adaptive
# sleeps again once its spin is over.  Spinning is kept to a few seconds:
# the machine is shared.
. "$(dirname "$0")/lib.sh"
need_root
export XTS_ALLOW_RESTART=1 # the shard is killed on purpose below

topo_up 2
xtsd_start 2 "timeouts = { hang_ms = 1000; };"
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7
head -c 2M /dev/urandom >"$WORK/data" || fail "test data"
want=$(sha256sum <"$WORK/data" | cut -d' ' -f1)
TCK=$(getconf CLK_TCK)

# poll Q: "MODE BUSY_POLL" of shard Q, from xtsctl status --json (Python:
# not for tight loops)
poll() { xtsctl status --json | jget "'%s %s' % (j['shards'][$1]['poll'], j['shards'][$1]['busy_poll'])"; }
# cpu_ms PID SECS: CPU time (user+sys) PID takes over SECS of wall clock, in ms
cpu_ms() {
	local a b
	a=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
	sleep "$2"
	b=$(awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null) ||
		fail "shard pid $1 is gone (restarted by the hang watchdog?): $(grep 'hang\|restart' "$WORK/xtsd.log" | tail -3)"
	echo $(((b - a) * 1000 / TCK))
}
# reload_to MODE EXTRA: shard 0's mode in the file, reload, until status says so
reload_to() {
	local i
	sed -i '/^shards = /d; /^poll = /d' "$WORK/xts.conf"
	echo "shards = ( { queue = 0; poll = \"$1\"; } );" >>"$WORK/xts.conf"
	[ -n "${2:-}" ] && echo "$2" >>"$WORK/xts.conf"
	xtsctl reload >"$WORK/reload.out" 2>&1 || fail "reload to $1: $(cat "$WORK/reload.out")"
	for ((i = 0; i < 50; i++)); do
		[ "$(poll 0 | cut -d' ' -f1)" = "$1" ] && return 0
		sleep 0.1
	done
	fail "shard 0 not in mode $1 after the reload: $(xtsctl status --json)"
}
transfer() { # what
	local got
	got=$(H timeout 60 "$XTS_BIN/xts-cat" -q 0 198.18.0.2 7 <"$WORK/data" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "$1: sha256 $got, want $want"
	echo "ok: $1: 2 MiB each way through shard 0, sha256 match"
}

[ "$(poll 0)" = "sleep 0" ] && [ "$(poll 1)" = "sleep 0" ] || fail "start: $(poll 0), $(poll 1)"
pid0=$(stat 0 pid)
idle=$(cpu_ms "$pid0" 1)
echo "ok: both shards start in poll mode sleep; shard 0 idle: $idle ms of CPU in 1 s"

reload_to busy
clock_us tb
read -r _ kb <<<"$(poll 0)"
[ "$(poll 1)" = "sleep 0" ] || fail "shard 1 changed with shard 0: $(poll 1)"
# the kernel's busy polling: on, or refused with its one log line
if [ "$kb" != 1 ]; then
	grep -q "shard 0: kernel busy polling of the AF_XDP socket: setsockopt" "$WORK/xtsd.log" ||
		fail "busy_poll $kb and no log line saying why"
fi
grep -q "shard 0: poll mode busy" "$WORK/xtsd.log" || fail "no log line for the new mode"
busy=$(cpu_ms "$pid0" 1)
# a spinning shard gets what the scheduler gives it: on a loaded 2-core
# machine that can be a quarter of a core; a sleeping one takes ~0
[ "$busy" -ge 150 ] && [ "$busy" -ge $((idle * 5 + 50)) ] ||
	fail "busy shard took $busy ms of CPU in 1 s (idle: $idle ms): not spinning"
echo "ok: reload: shard 0 busy (kernel busy poll $kb), shard 1 still sleeps;" \
	"shard 0 took $busy ms of CPU in 1 s (idle $idle ms)"

transfer "busy shard"
[ "$(stat 0 restarts)" = 0 ] || fail "the busy shard was restarted (heartbeat?): $(grep 'shard 0' "$WORK/xtsd.log" | tail -5)"
[ "$(stat 0 pid)" = "$pid0" ] || fail "shard 0's pid changed"
clock_us t
echo "ok: $(((t - tb) / 1000)) ms busy under hang_ms 1000: the heartbeat moved, no restart"

# a crash: xtsd restarts it, in the mode of the config in force
clock_us t0
kill -9 "$pid0"
shard_back 0 "$pid0" "$t0"
pid0=$BACK_PID
for ((i = 0; i < 50; i++)); do [ "$(poll 0 | cut -d' ' -f1)" = busy ] && break; sleep 0.1; done
[ "$(poll 0 | cut -d' ' -f1)" = busy ] || fail "restarted shard: $(poll 0)"
echo "ok: killed, back in $BACK_MS ms as pid $pid0, busy again"
transfer "restarted busy shard"

# adaptive: spins 200 us after its last work, then sleeps
reload_to adaptive "poll = { spin_us = 200; };"
sleep 0.3
ad=$(cpu_ms "$pid0" 1)
[ "$ad" -le $((idle * 5 + 100)) ] || fail "adaptive shard idle took $ad ms of CPU in 1 s: still spinning"
transfer "adaptive shard"
echo "ok: adaptive (spin 200 us): idle it sleeps, $ad ms of CPU in 1 s"

reload_to sleep
[ "$(poll 0)" = "sleep 0" ] || fail "back to sleep: $(poll 0)"
sl=$(cpu_ms "$pid0" 1)
[ "$sl" -le $((idle * 5 + 100)) ] || fail "sleeping shard took $sl ms of CPU in 1 s"
echo "ok: reload back to sleep: kernel busy poll off, $sl ms of CPU in 1 s"
echo "PASS: poll_mode"
