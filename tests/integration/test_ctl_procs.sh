#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Process titles and log lines (issue 15).
#  - each shard shows as "xtsd: shard N (queue N)" in /proc/PID/cmdline and
#    ps, and as xtsd-shardN in /proc/PID/comm; xtsd itself keeps its
#    command line; a restarted shard gets its title again;
#  - every line xtsd and its shards write to stderr starts with an ISO 8601
#    UTC timestamp with milliseconds, the program and pid, and a level;
#    four shards and xtsd logging at the same moment (drain and undrain of
#    all, 40 times) give whole lines only, each of them counted, and each
#    line is one write(2) (strace): lines of several processes sharing
#    stderr cannot run into each other, however they are scheduled.
. "$(dirname "$0")/lib.sh"
need_root
XTS_ALLOW_RESTART=1 # shard 2 is killed on purpose

Q=4
topo_up $Q
xtsd_start $Q

for ((q = 0; q < Q; q++)); do
	p=$(stat $q pid)
	t=$(tr '\0' '\n' <"/proc/$p/cmdline" | head -1)
	[ "$t" = "xtsd: shard $q (queue $q)" ] || fail "shard $q (pid $p) cmdline '$t'"
	[ "$(ps -o args= -p "$p")" = "xtsd: shard $q (queue $q)" ] ||
		fail "shard $q in ps: '$(ps -o args= -p "$p")'"
	[ "$(cat "/proc/$p/comm")" = "xtsd-shard$q" ] || fail "shard $q comm '$(cat "/proc/$p/comm")'"
done
[ "$(ps -o args= -p "$XTSD_PID")" = "$XTS_BIN/xtsd -c $WORK/xts.conf" ] ||
	fail "xtsd's own command line: '$(ps -o args= -p "$XTSD_PID")'"
old=$(stat 2 pid)
clock_us t0
kill -9 "$old"
shard_back 2 "$old" "$t0"
[ "$(ps -o args= -p "$BACK_PID")" = "xtsd: shard 2 (queue 2)" ] || fail "restarted shard 2: '$(ps -o args= -p "$BACK_PID")'"
echo "ok: shards titled 'xtsd: shard N (queue N)' in cmdline and ps, comm xtsd-shardN; shard 2's title back after a restart; xtsd keeps its own"

command -v strace >/dev/null || fail "strace is needed (tools/install-deps)"
pids=(-p "$XTSD_PID")
for ((q = 0; q < Q; q++)); do pids+=(-p "$(stat $q pid)"); done
strace -qq -e trace=write -s 4096 -o "$WORK/strace.out" "${pids[@]}" &
st=$!
for ((i = 0; i < 50; i++)); do [ -s "$WORK/strace.out" ] || grep -q TracerPid:.[1-9] "/proc/$XTSD_PID/status" && break; sleep 0.1; done
N=40
for ((i = 0; i < N; i++)); do
	xtsctl drain all >/dev/null || fail "drain"
	xtsctl undrain all >/dev/null || fail "undrain"
done
sleep 0.3
kill $st
wait $st 2>/dev/null
# every write to fd 2 is one whole line: one newline, at its end
w=$(grep -c '^[0-9]* *write(2, ' "$WORK/strace.out")
# (strace says "<unfinished ...>" when another traced process runs meanwhile)
part=$(grep 'write(2, ' "$WORK/strace.out" | grep -vc '\\n", [0-9]*\() = \| <unfinished\)')
one=$(grep 'write(2, ' "$WORK/strace.out" | grep -c '\\n.*\\n", [0-9]*\() = \| <unfinished\)')
[ "$w" -ge $((4 * N * Q)) ] || fail "strace saw $w writes to stderr, want $((4 * N * Q)) at least: $(head -3 "$WORK/strace.out")"
[ "$part" = 0 ] && [ "$one" = 0 ] ||
	fail "$part writes to stderr that are not one whole line, $one with two: $(grep 'write(2, ' "$WORK/strace.out" | head -4)"
info "strace: $w writes to stderr by xtsd and its $Q shards, each one whole line"
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z xtsd\[[0-9]+\]: (error|warning|info|debug): '
bad=$(grep -Evc "$TS" "$WORK/xtsd.log")
[ "$bad" = 0 ] || fail "$bad log lines without the timestamp prefix: $(grep -Ev "$TS" "$WORK/xtsd.log" | head -5)"
# one prefix a line: two processes' lines run into each other otherwise
dbl=$(grep -Ec 'xtsd\[[0-9]+\]: .*xtsd\[[0-9]+\]: ' "$WORK/xtsd.log")
[ "$dbl" = 0 ] || fail "$dbl lines carry two prefixes: $(grep -E 'xtsd\[[0-9]+\]: .*xtsd\[' "$WORK/xtsd.log" | head -3)"
for ((q = 0; q < Q; q++)); do
	p=$(stat $q pid)
	d=$(grep -Ec "xtsd\[$p\]: info: shard $q: draining \(" "$WORK/xtsd.log")
	u=$(grep -Ec "xtsd\[$p\]: info: shard $q: no longer draining \(" "$WORK/xtsd.log")
	r=$(grep -Ec "xtsd\[$XTSD_PID\]: info: shard $q: drain requested$" "$WORK/xtsd.log")
	[ "$d $u $r" = "$N $N $N" ] || fail "shard $q: $d draining, $u undraining lines (its pid $p), $r requests (xtsd): want $N each"
done
lines=$(wc -l <"$WORK/xtsd.log")
echo "ok: $lines log lines, all with a timestamp, program[pid] and level, none run into another ($N drains of $Q shards at once)"
echo "PASS: ctl_procs"
