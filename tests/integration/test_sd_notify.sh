#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xtsd and xportd under a service manager (Type=notify), with a fake
# NOTIFY_SOCKET (sd_listen.py) in place of systemd:
#  - xtsd sends READY=1 only once every shard runs: with a queue that
#    cannot be served (2 queues configured on a 1-queue interface) no
#    READY=1 comes at all; on a good configuration it comes, and `xtsctl
#    status` run the moment it arrives shows every shard running;
#  - a reload (xtsctl reload, a refused one, SIGHUP) is RELOADING=1 with a
#    MONOTONIC_USEC= of that moment, then READY=1 with the outcome in
#    STATUS= (the generation in force, or why it was refused);
#  - SIGTERM sends STOPPING=1 with EXTEND_TIMEOUT_USEC= covering the drain
#    (drain_ms + 10 s) before xtsd exits 0;
#  - every message comes from xtsd's own pid (systemd's NotifyAccess=main
#    drops a shard's), each a well-formed KEY=VALUE datagram;
#  - xportd, with an abstract "@name" socket: READY=1 once its lease
#    socket answers `xportd status`, STOPPING=1 on SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/xportd_lib.sh"
need_root

LOG=$WORK/notify.log
NSOCK=$WORK/notify.sock

# wait_msg PATTERN COUNT [TENTHS]: until LOG holds COUNT messages matching
# PATTERN (grep -E on the MSG lines), 20 s by default (xtsd_start's bound)
wait_msg() {
	local i
	for ((i = 0; i < ${3:-200}; i++)); do
		[ "$(grep -c -E "^MSG .*$1" "$LOG")" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "no $2 message(s) matching '$1' within $((${3:-200} / 10)) s: $(cat "$LOG")"
}
nmsg() { grep -c '^MSG ' "$LOG"; }

start_listener() { # ADDR NS [CMD...]
	local addr=$1 ns=$2 i; shift 2
	: >"$LOG"
	bg "$ns" python3 "$XTS_SRC/tests/integration/sd_listen.py" "$addr" "$LOG" "$@"
	for ((i = 0; i < 50; i++)); do grep -q LISTENING "$LOG" && return 0; sleep 0.1; done
	fail "the fake NOTIFY_SOCKET did not come up"
}

xtsd_notify() { # QUEUES: xtsd with NOTIFY_SOCKET, not waiting for anything
	mkdir -p "$WORK/run"
	printf 'interface = "xd0";\nqueues = %s;\nrun_dir = "%s/run";\n' "$1" "$WORK" >"$WORK/xts.conf"
	NOTIFY_SOCKET=$NSOCK ip netns exec "${PFX}dpu" "$XTS_BIN/xtsd" -c "$WORK/xts.conf" \
		>>"$WORK/xtsd.log" 2>&1 &
	XTSD_PID=$!
}

# --- a shard that cannot start: no READY=1 ---
topo_up 1
XTS_ALLOW_RESTART=1 # shard 1 has no queue 1: it dies and is restarted
start_listener "$NSOCK" dpu "$XTS_BIN/xtsctl" -s "$WORK/run/ctl.sock" status
xtsd_notify 2
ctl_wait
for ((i = 0; i < 200; i++)); do
	[ "$(shard_get 0 STATE)" = running ] && break
	sleep 0.1
done
[ "$(shard_get 0 STATE)" = running ] || fail "shard 0 does not run after 20 s"
sleep 2
grep -q "READY=1" "$LOG" && fail "READY=1 with shard 1 not running: $(cat "$LOG")"
info "2 queues on a 1-queue interface: shard 0 runs, shard 1 $(shard_get 1 STATE)," \
	"$(nmsg) messages in 2 s"
kill "$XTSD_PID"
wait "$XTSD_PID"
XTSD_PID=
wait_msg "STOPPING=1" 1
echo "ok: no READY=1 while a shard cannot start"
bash "$XTS_SRC/tools/xts-net" down --prefix "$PFX" >/dev/null 2>&1
rm -f "$WORK/xtsd.log"
: >"$LOG" # the same listener goes on (O_APPEND: it writes at the new end)
XTS_ALLOW_RESTART=0

# --- READY=1 once every shard runs ---
topo_up 2
xtsd_notify 2
wait_msg "READY=1" 1
ready_line=$(grep -n -m1 'READY=1' "$LOG" | cut -d: -f1)
snap=$(tail -n +"$ready_line" "$LOG" | sed -n '/^SNAP /{s/^SNAP //;p};/^SNAPEND/q')
running=$(echo "$snap" | awk '$1 ~ /^[0-9]+$/ && $3 == "running" { n++ } END { print n + 0 }')
[ "$running" = 2 ] || fail "at READY=1, $running of 2 shards running: $snap"
grep -q "^MSG .*READY=1|STATUS=2 shards running on xd0, configuration generation 1" "$LOG" ||
	fail "READY=1 without its STATUS: $(cat "$LOG")"
echo "ok: READY=1 when both shards run (status at that moment: $running running)"

# --- reloads: RELOADING=1 + MONOTONIC_USEC, then READY=1 ---
# mono_us VAR: CLOCK_MONOTONIC in microseconds (what MONOTONIC_USEC is in)
mono_us() { printf -v "$1" %s "$(python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)')"; }
# check_reload N WANT_STATUS: the N-th RELOADING=1 is followed by a READY=1
# whose STATUS matches; MONOTONIC_USEC is the moment it was sent: after
# $T0 (taken just before the reload was asked for), before it arrived
check_reload() {
	local n=$1 want=$2 line us recv
	wait_msg "RELOADING=1" "$n"
	wait_msg "READY=1" $((n + 1))
	line=$(grep '^MSG ' "$LOG" | grep -A1 "RELOADING=1" | grep -v '^--' | sed -n "$((2 * n - 1)),$((2 * n))p")
	echo "$line" | head -1 | grep -q "RELOADING=1|MONOTONIC_USEC=[0-9]*$" ||
		fail "reload $n: $line"
	echo "$line" | tail -1 | grep -q "READY=1|STATUS=$want" ||
		fail "reload $n: READY=1 with STATUS=$want expected after RELOADING=1: $line"
	recv=$(echo "$line" | head -1 | awk '{ print $2 }')
	us=$(echo "$line" | head -1 | grep -o 'MONOTONIC_USEC=[0-9]*' | cut -d= -f2)
	[ "$T0" -le "$us" ] && [ "$us" -le "$recv" ] ||
		fail "reload $n: MONOTONIC_USEC=$us, asked at $T0, arrived at $recv"
	info "reload $n: RELOADING=1 sent $((us - T0)) us after the ask, read $((recv - us)) us later; then READY=1"
}
mono_us T0
xtsctl reload >/dev/null || fail "xtsctl reload"
check_reload 1 "configuration generation 2 in force"
cp "$WORK/xts.conf" "$WORK/xts.conf.good"
sed -i "s/^queues = 2;/queues = 3;/" "$WORK/xts.conf"
mono_us T0
xtsctl reload >/dev/null 2>&1 && fail "a reload that changes queues succeeded"
check_reload 2 "reload refused, configuration generation 2 stays: queues: changed; that needs a restart"
cp "$WORK/xts.conf.good" "$WORK/xts.conf"
mono_us T0
kill -HUP "$XTSD_PID"
check_reload 3 "configuration generation 3 in force"
echo "ok: three reloads (ctl, refused, SIGHUP): RELOADING=1 then READY=1 with the outcome"

# --- stop: STOPPING=1 with the drain's time, then exit 0 ---
kill "$XTSD_PID"
wait "$XTSD_PID"
rc=$?
XTSD_PID=
[ "$rc" = 0 ] || fail "xtsd exited $rc after SIGTERM"
grep -q "^MSG .*STOPPING=1|EXTEND_TIMEOUT_USEC=13000000|" "$LOG" ||
	fail "no STOPPING=1 with EXTEND_TIMEOUT_USEC=13000000 (3 s drain + 10 s): $(cat "$LOG")"
bad=$(grep '^MSG ' "$LOG" | awk -v p="$(grep -m1 '^MSG' "$LOG" | awk '{print $3}')" '$3 != p')
[ -z "$bad" ] || fail "messages from another pid than xtsd's: $bad"
grep -q '^BAD' "$LOG" && fail "malformed datagram: $(grep '^BAD' "$LOG")"
info "xtsd: $(nmsg) messages, all from one pid: $(grep '^MSG' "$LOG" | cut -d' ' -f4- | tr '\n' ';')"
echo "ok: STOPPING=1 on SIGTERM, exit 0"

# --- xportd, abstract socket in the host namespace ---
kill "${BGPIDS[@]}" 2>/dev/null
NSOCK=@xts-notify-$$
start_listener "$NSOCK" host "$XTS_BIN/xportd" -s "$WORK/hrun/xportd.sock" status
NOTIFY_SOCKET=$NSOCK xportd_start 2
wait_msg "READY=1" 1
ready_line=$(grep -n -m1 'READY=1' "$LOG" | cut -d: -f1)
snap=$(tail -n +"$ready_line" "$LOG" | sed -n '/^SNAP /{s/^SNAP //;p};/^SNAPEND/q')
echo "$snap" | grep -q -i "queue" || fail "xportd status at READY=1: $snap"
kill "$XPORTD_PID"
wait "$XPORTD_PID"
wait_msg "STOPPING=1" 1
[ "$(grep '^MSG' "$LOG" | awk '{ print $3 }' | sort -u)" = "$XPORTD_PID" ] ||
	fail "xportd's messages from other pids: $(cat "$LOG")"
echo "ok: xportd: READY=1 once status answers ($(echo "$snap" | head -1)), STOPPING=1 on SIGTERM"
echo "PASS: sd_notify"
