#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# test_fairness.sh - one stalled connection must not slow the others on its
# queue.  Connection A reads an endless stream; connection B, on the same
# queue, is opened and never read: its receive credit runs out and the
# shard must stop reading B's kernel socket while A keeps going
# (xts-conns fair: no gap over 1 s, rate >= 0.3 of A's rate alone).
#
# Needs root; exits 77 (skip) otherwise, or 1 when XTS_REQUIRE_ROOT=1.
# On failure WORK (shard stats, xtsd log) is copied to
# ${XTS_KEEP:-/tmp}/xts-fairness-fail.PID before the cleanup removes it.

source "$(dirname "$0")/lib.sh"
need_root


KEEP=${XTS_KEEP:-/tmp}/xts-fairness-fail.$$

tfail() {
	mkdir -p "$KEEP" && cp -r "$WORK"/. "$KEEP"/ 2>/dev/null &&
		echo "# kept $WORK as $KEEP" >&2
	fail "$@"
}

command -v socat >/dev/null || fail "socat is needed"
[ -x "$XTS_BIN/xts-conns" ] || fail "$XTS_BIN/xts-conns not built"

topo_up 2
xtsd_start 2

# Endless zeros on every connection; reads from the client are discarded.
bg net socat -b 65536 TCP-LISTEN:9000,bind=198.18.0.2,fork,reuseaddr OPEN:/dev/zero
wait_port net 9000

# One run: A must neither stall (a gap of more than 1 s without a byte
# while B is stalled) nor slow to under 0.3 of its rate alone.  A
# head-of-line stall takes A to about 0; on two shared cores 2 s windows
# without any stall were measured anywhere from 0.6 to 1.6 of each other,
# so a tighter ratio (0.9, with up to 3 attempts, before) tested the
# machine's load, and retrying could have hidden an intermittent stall.
H "$XTS_BIN/xts-conns" fair -q 0 -t 2 -S "$(stats_cmd 0)" 198.18.0.2 9000 >"$WORK/fair.out" 2>&1
rc=$?
cat "$WORK/fair.out"
stats_settle
info "shard 0: data_to_host $(stat 0 data_to_host) credit_stalls $(stat 0 credit_stalls)" \
	"buf_bytes $(stat 0 buf_bytes) conns_active $(stat 0 conns_active)"
[ $rc = 0 ] || tfail "fair: A's rate with B stalled on the same queue (exit $rc)"

echo "PASS"
exit 0
