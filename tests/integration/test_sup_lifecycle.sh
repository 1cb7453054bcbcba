#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xtsd as a process: SIGHUP reloads (xtsd and its shards live on, the
# result logged as for `xtsctl reload`, a bad file refused the same way);
# SIGUSR1 and other signals that mean nothing to it are logged and
# ignored; a second xtsd on the same configuration, or on the same
# interface with another run_dir, is refused before it touches anything
# (the first keeps its socket, its XDP program and its shards);
# after kill -9 of xtsd its shards go (PDEATHSIG) and a new xtsd recovers
# the stale socket and program; a crashing xtsd (SIGSEGV) takes its XDP
# program and socket down; SIGQUIT and SIGTERM stop cleanly.
. "$(dirname "$0")/lib.sh"
need_root
XTS_ALLOW_RESTART=1 # the kill -9 of xtsd ends its shards: logged as such

topo_up 2
xtsd_start 2
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7
SOCK=$WORK/run/ctl.sock

prog_id() { D ip -d link show xd0 | grep -o 'prog/xdp id [0-9]*' | awk '{ print $3 }'; }
echo_ok() { # queue
	local out
	out=$(echo "q$1" | H "$XTS_BIN/xts-cat" -q "$1" 198.18.0.2 7) && [ "$out" = "q$1" ]
}
wait_running() { # shards: until every shard runs, with a pid we have not seen
	local i q n
	for ((i = 0; i < 100; i++)); do
		n=0
		for ((q = 0; q < $1; q++)); do [ "$(shard_get $q STATE)" = running ] && n=$((n + 1)); done
		[ $n = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
gen() { xtsctl status | awk '$1 == "xtsd" { for (i = 1; i < NF; i++) if ($i == "generation") print $(i + 1) }' | tr -d ,; }

# ---- SIGHUP: reload, nobody dies ----
p0=$(shard_get 0 PID) p1=$(shard_get 1 PID)
[ "$(gen)" = 1 ] || fail "generation $(gen) at start"
echo 'log_level = "debug";' >>"$WORK/xts.conf"
kill -HUP "$XTSD_PID"
for ((i = 0; i < 50; i++)); do [ "$(gen)" = 2 ] && break; sleep 0.1; done
kill -0 "$XTSD_PID" || fail "xtsd died of SIGHUP"
[ "$(gen)" = 2 ] || fail "SIGHUP did not reload: generation $(gen)"
grep -q "SIGHUP: reloading" "$WORK/xtsd.log" || fail "SIGHUP not logged"
grep -q "configuration generation 2 in force" "$WORK/xtsd.log" || fail "reload result not logged"
[ "$(shard_get 0 PID) $(shard_get 1 PID)" = "$p0 $p1" ] || fail "shards changed across SIGHUP"
echo "ok: SIGHUP reloaded (generation 2), xtsd and shards $p0 $p1 live on"
echo 'queues = 3;' >>"$WORK/xts.conf" # needs a restart: refused
kill -HUP "$XTSD_PID"
for ((i = 0; i < 50; i++)); do grep -q "reload refused" "$WORK/xtsd.log" && break; sleep 0.1; done
grep -q "reload refused, configuration generation 2 stays" "$WORK/xtsd.log" ||
	fail "bad file on SIGHUP: $(tail -n 3 "$WORK/xtsd.log")"
kill -0 "$XTSD_PID" || fail "xtsd died of a refused SIGHUP reload"
[ "$(gen)" = 2 ] || fail "generation $(gen) after a refused reload"
sed -i '/^queues = 3;$/d' "$WORK/xts.conf"
echo "ok: SIGHUP with a bad file: refused and logged, generation 2 stays"

# ---- signals that mean nothing to xtsd: logged, xtsd and shards live on
# (their default action killed xtsd and left its program and socket) ----
ignored() { grep -c "signal [0-9]* (.*) ignored" "$WORK/xtsd.log"; }
n=0
for s in USR1 USR2 ALRM PROF RTMIN; do
	kill -s "$s" "$XTSD_PID"
	n=$((n + 1))
	for ((i = 0; i < 50; i++)); do [ "$(ignored)" = $n ] && break; sleep 0.1; done
	kill -0 "$XTSD_PID" || fail "xtsd died of SIG$s"
	[ "$(ignored)" = $n ] || fail "SIG$s: $(ignored) signals logged as ignored, want $n"
done
[ "$(shard_get 0 PID) $(shard_get 1 PID)" = "$p0 $p1" ] || fail "shards changed across the signals"
xtsctl status >/dev/null || fail "status after the signals"
echo "ok: SIGUSR1, SIGUSR2, SIGALRM, SIGPROF, SIGRTMIN logged and ignored: $(grep "ignored$" "$WORK/xtsd.log" | tail -n 1)"

# ---- a second xtsd on the same configuration ----
prog=$(prog_id) ino=$(command stat -c %i "$SOCK")
[ -n "$prog" ] || fail "no XDP program on xd0"
clock_us t0
D timeout 10 "$XTS_BIN/xtsd" -c "$WORK/xts.conf" >"$WORK/second.log" 2>&1
rc=$?
clock_us t1
[ $rc = 1 ] || fail "second xtsd: exit $rc, want 1: $(cat "$WORK/second.log")"
grep -q "another xtsd (pid $XTSD_PID) runs with run_dir $WORK/run" "$WORK/second.log" ||
	fail "second xtsd: $(cat "$WORK/second.log")"
echo "ok: second xtsd refused in $(((t1 - t0) / 1000)) ms: $(cat "$WORK/second.log")"
# logging to syslog, it still says why on stderr
{ cat "$WORK/xts.conf"; echo 'log_target = "syslog";'; } >"$WORK/second.conf"
D timeout 10 "$XTS_BIN/xtsd" -c "$WORK/second.conf" >"$WORK/second.log" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "another xtsd (pid $XTSD_PID) runs" "$WORK/second.log" ||
	fail "second xtsd, log_target syslog: exit $rc: '$(cat "$WORK/second.log")'"
# another run_dir and ctl socket, the same interface: refused too (it would
# take the first one's program over and detach it when it stops)
mkdir -p "$WORK/run2"
{ cat "$WORK/xts.conf"; echo "run_dir = \"$WORK/run2\";"; } | grep -v "^run_dir = \"$WORK/run\";" >"$WORK/other.conf"
D timeout 10 "$XTS_BIN/xtsd" -c "$WORK/other.conf" >"$WORK/second.log" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "another xtsd serves interface xd0 (ifindex [0-9]*) in this network namespace" \
	"$WORK/second.log" || fail "second xtsd, other run_dir: exit $rc: '$(cat "$WORK/second.log")'"
[ ! -e "$WORK/run2/ctl.sock" ] || fail "second xtsd left a ctl socket in run2"
echo "ok: another run_dir on the same interface refused: $(cat "$WORK/second.log")"
[ "$(prog_id)" = "$prog" ] || fail "XDP program $prog -> '$(prog_id)'"
[ "$(command stat -c %i "$SOCK")" = "$ino" ] || fail "ctl socket replaced"
[ "$(shard_get 0 PID) $(shard_get 1 PID)" = "$p0 $p1" ] || fail "shards changed"
echo_ok 0 && echo_ok 1 || fail "traffic after the second xtsd"
echo "ok: the first keeps its socket, XDP program $prog, shards and traffic"

# ---- kill -9 of xtsd: shards follow, a new xtsd recovers ----
kill -9 "$XTSD_PID"
wait_gone "$XTSD_PID" 50 || fail "xtsd survived kill -9"
wait_gone "$p0" 30 && wait_gone "$p1" 30 || fail "shards outlived xtsd by 3 s"
[ -S "$SOCK" ] && [ "$(prog_id)" = "$prog" ] || fail "expected a stale socket and program"
echo "ok: kill -9 of xtsd: its shards ended, socket and program $prog left behind"
ip netns exec "${PFX}dpu" "$XTS_BIN/xtsd" -c "$WORK/xts.conf" >>"$WORK/xtsd.log" 2>&1 &
XTSD_PID=$!
wait_running 2 || fail "restarted xtsd: shards not running: $(xtsctl status 2>&1)"
echo_ok 0 && echo_ok 1 || fail "traffic after the restart of xtsd"
echo "ok: a new xtsd (pid $XTSD_PID) recovered: program $(prog_id), traffic on both queues"

# ---- a crashing xtsd takes its program and socket down ----
p0=$(shard_get 0 PID)
kill -SEGV "$XTSD_PID"
wait_gone "$XTSD_PID" 50 || fail "xtsd survived SIGSEGV"
wait_gone "$p0" 30 || fail "shard outlived a crashed xtsd"
[ -z "$(prog_id)" ] || fail "XDP program $(prog_id) left behind by a crashed xtsd"
[ -e "$SOCK" ] && fail "ctl socket left behind by a crashed xtsd"
echo "ok: SIGSEGV: program and socket removed, shards gone"

# ---- SIGQUIT (which dumped core and left the program and socket behind)
# and SIGTERM are clean stops ----
clean_stop() { # SIGNAL
	ip netns exec "${PFX}dpu" "$XTS_BIN/xtsd" -c "$WORK/xts.conf" >>"$WORK/xtsd.log" 2>&1 &
	XTSD_PID=$!
	wait_running 2 || fail "xtsd after the crash: $(xtsctl status 2>&1)"
	kill -s "$1" "$XTSD_PID"
	wait_gone "$XTSD_PID" 100 || fail "xtsd did not stop on SIG$1"
	wait $XTSD_PID
	rc=$?
	[ $rc = 0 ] || fail "SIG$1: exit $rc"
	[ -z "$(prog_id)" ] && [ ! -e "$SOCK" ] || fail "SIG$1 left the program or socket"
	XTSD_PID=
	echo "ok: SIG$1: exit 0, program and socket removed"
}
clean_stop QUIT
clean_stop TERM
echo "PASS: sup_lifecycle"
