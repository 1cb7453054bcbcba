#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Eight lessees on an 8-queue topology all move data at once (byte-exact);
# a ninth that asks with a 1 s wait gets EBUSY naming the holders; one that
# waits longer gets the queue the moment a holder exits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/xportd_lib.sh"
need_root

topo_up 8
xtsd_start 8
xportd_start 8
bg net socat -b 4096 TCP4-LISTEN:7,fork,reuseaddr,backlog=256 PIPE
wait_port net 7

# eight lessees: 4 MiB each way, then they hold their queues until told
for i in 0 1 2 3 4 5 6 7; do
	ip netns exec "${PFX}host" "$XTS_BIN/xts-lessee" -b 4M -r -H -1 198.18.0.2 7 >"$WORK/l$i.out" 2>&1 &
	pids[i]=$!
done
for ((t = 0; t < 600; t++)); do
	[ "$(cat "$WORK"/l*.out 2>/dev/null | grep -c '^ready')" = 8 ] && break
	sleep 0.05
done
[ "$(cat "$WORK"/l*.out | grep -c '^ready')" = 8 ] || { cat "$WORK"/l*.out; fail "not all eight came up"; }
qs=$(cat "$WORK"/l*.out | sed -n 's/^ok queue=\([0-9]\) .*/\1/p' | sort -n | tr '\n' ' ')
[ "$qs" = "0 1 2 3 4 5 6 7 " ] || fail "the eight queues: '$qs'"
echo "ok: eight lessees on queues $qs, 4 MiB each byte-exact"
xportd_cli status

# the ninth: 1 s, then EBUSY with who holds what
clock_us t0
H "$XTS_BIN/xts-lessee" -w 1000 -b 1K 198.18.0.2 7 >"$WORK/ninth.out" 2>&1
rc=$?
clock_us t1
cat "$WORK/ninth.out"
[ $rc = 2 ] || fail "the ninth: rc $rc, want an open failure"
grep -q "^open: Device or resource busy (errno 16): xportd: no free queue after 10[0-9][0-9] ms: queue 0: pid [0-9]* (uid 0, xts-lessee) since" "$WORK/ninth.out" ||
	fail "the ninth's EBUSY does not name the holders"
for i in 0 1 2 3 4 5 6 7; do
	grep -q "queue $i: pid ${pids[i]}\|queue [0-7]: pid ${pids[i]} " "$WORK/ninth.out" ||
		fail "the EBUSY message does not name pid ${pids[i]}"
done
echo "ok: the ninth got EBUSY after $(((t1 - t0) / 1000)) ms, naming all eight holders"

# a tenth waits up to 20 s: it gets the queue of the holder that exits
ip netns exec "${PFX}host" "$XTS_BIN/xts-lessee" -w 20000 -b 1M 198.18.0.2 7 >"$WORK/tenth.out" 2>&1 &
tenth=$!
sleep 0.5
q3=$(sed -n 's/^ok queue=\([0-9]\) .*/\1/p' "$WORK/l3.out")
clock_us t0
kill -TERM "${pids[3]}"
wait $tenth || { cat "$WORK/xportd.log"; grep "shard $q3" "$WORK/xtsd.log"; fail "the waiting one failed: $(cat "$WORK/tenth.out")"; }
clock_us t1
cat "$WORK/tenth.out"
grep -q "^ok queue=$q3 conns=1 bytes=1048576 " "$WORK/tenth.out" ||
	fail "the waiting one did not get queue $q3 when its holder exited"
grep -q "queue $q3: leased to pid $tenth (uid 0, xts-lessee) after" "$WORK/xportd.log" ||
	fail "xportd's log does not show the hand-over"
echo "ok: the waiting one got queue $q3 when its holder exited, and moved 1 MiB: $(((t1 - t0) / 1000)) ms from the exit to the end of its transfer"
for i in 0 1 2 4 5 6 7; do
	kill -0 "${pids[i]}" || fail "lessee $i is gone: $(cat "$WORK/l$i.out")"
done
xportd_log_check
echo "PASS"
