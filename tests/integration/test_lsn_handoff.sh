#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The drain of a closing listener (docs/design.md, "The drain of a
# listener"): connections the DPU holds for a listener whose host closes
# it go to a sibling listener of its reuseport group on another shard,
# each stream whole, instead of being reset.
# 1. handoff: A (queue 1, backlog 4) has 4 connections offered to its host
#    and not taken and 4 in its kernel accept queue; B listens on queue 2,
#    A closes: B accepts all 8, each echoed byte-exact (the 4 offered ones
#    went shard to shard: handed_off; the 4 queued, the kernel moved);
# 2. linger: A closes with XTS_LSN_SHARED and no sibling yet; B listens
#    500 ms later and accepts all 8, byte-exact;
# 3. timeouts.handoff_ms reloaded to 200: the same with B 1,500 ms late:
#    A's shard gives up (lsn_linger_reset), every client is reset, B
#    accepts none (with the 5 s of before, B took all 8).
. "$(dirname "$0")/lib.sh"
need_root
CHECK="$XTS_BIN/xts-handoff-check"
NCONN=8

topo_up 4
xtsd_start 4

run_case() { # NAME PORT [reset: no client may be served]
	local name=$1 port=$2 want=${3:-echo} i pids=() drv
	for ((i = 0; i < NCONN; i++)); do head -c $((100000 + i * 7919)) /dev/urandom >"$WORK/in$i"; done
	rm -f "$WORK/go"
	mkfifo "$WORK/go"
	H "$CHECK" "$name" "$port" "$NCONN" <"$WORK/go" >"$WORK/$name.out" 2>&1 &
	drv=$!
	exec 7>"$WORK/go"
	for ((i = 0; i < 100; i++)); do
		grep -q "^listening" "$WORK/$name.out" && break
		kill -0 "$drv" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "^listening" "$WORK/$name.out" || { cat "$WORK/$name.out"; fail "$name: driver never listened"; }
	local before=$(stat 1 conns_opened)
	for ((i = 0; i < NCONN; i++)); do
		N timeout 20 socat -b 65536 -t 10 - "TCP:198.18.0.1:$port" <"$WORK/in$i" >"$WORK/out$i" 2>"$WORK/err$i" &
		pids+=($!)
	done
	# A's shard took BACKLOG (4) of them and offered them to its host, the
	# DPU's kernel holds the rest: every client connected (ss in the net
	# namespace: established, or half-closed once its bytes are sent),
	# then go
	for ((i = 0; i < 100; i++)); do
		[ "$(($(stat 1 conns_opened) - before))" -ge 4 ] &&
			[ "$(N ss -Htn | awk -v p=":$port" '$5 ~ p "$"' | wc -l)" = "$NCONN" ] && break
		sleep 0.1
	done
	[ "$i" -lt 100 ] || fail "$name: the clients did not all connect: $(N ss -tan)"
	echo go >&7
	exec 7>&-
	wait "$drv" || { rc=$?; cat "$WORK/$name.out"; fail "$name: driver exited $rc"; }
	grep -q "^PASS: $name" "$WORK/$name.out" || { cat "$WORK/$name.out"; fail "$name: no PASS"; }
	for ((i = 0; i < NCONN; i++)); do
		if [ "$want" = reset ]; then # ended (socat's exit says little), unserved
			wait "${pids[$i]}"
			[ -s "$WORK/out$i" ] && fail "$name: client $i was served: $(command stat -c %s "$WORK/out$i") bytes back"
			continue
		fi
		wait "${pids[$i]}" || fail "$name: client $i: $(cat "$WORK/err$i")"
		cmp -s "$WORK/in$i" "$WORK/out$i" ||
			fail "$name: client $i: echo differs ($(command stat -c %s "$WORK/out$i") of $(command stat -c %s "$WORK/in$i") bytes)"
	done
	sed 's/^/  /' "$WORK/$name.out"
}
run_case handoff 7301
stats_settle
out=$(stat 1 lsn_handed_off) in=$(stat 2 lsn_handed_in)
# BACKLOG (4) were offered to A's host; a client slower than the driver's
# wait may still be in A's kernel queue (the kernel moves it), so >= 1
[ "$out" -ge 1 ] && [ "$out" = "$in" ] ||
	fail "handoff: shard 1 handed off $out, shard 2 took in $in: want the same, >= 1"
echo "ok: handoff: $NCONN connections accepted by the sibling, byte-exact ($out handed shard to shard, the rest moved by the kernel)"

run_case linger 7302
stats_settle
out2=$(($(stat 1 lsn_handed_off) - out)) resets=$(total lsn_linger_reset)
[ "$out2" -ge 1 ] && [ "$resets" = 0 ] || fail "linger: handed off $out2, linger resets $resets"
echo "ok: linger: $NCONN connections kept 500 ms for a sibling, accepted by it, byte-exact ($out2 handed shard to shard)"

echo "timeouts = { handoff_ms = 200; };" >>"$WORK/xts.conf"
xtsctl reload >"$WORK/reload.out" 2>&1 || fail "reload: $(cat "$WORK/reload.out")"
run_case late 7303 reset
stats_settle
resets=$(total lsn_linger_reset)
[ "$resets" = 1 ] || fail "late: linger resets $resets, want 1"
grep -q "port 7303: no sibling listened within 200 ms" "$WORK/xtsd.log" ||
	fail "late: no log line of the 200 ms wait: $(grep 7303 "$WORK/xtsd.log")"
echo "ok: late: timeouts.handoff_ms reloaded to 200: the listener gave up on a sibling, $NCONN clients reset, none accepted"
echo "PASS: lsn_handoff"
