#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The closing deadline: connections the host closed while the peer never
# reads keep their slot and buffer only for timeouts.linger_ms, then are
# aborted (RST), freed and counted (linger_aborts).  With max_conns 20 and
# 20 such connections, a new connect gets ENOBUFS until then and succeeds
# after; without the deadline they would stay `closing` for ever.
. "$(dirname "$0")/lib.sh"
need_root

LINGER=1000
topo_up 1
xtsd_start 1 "limits = { max_conns = 20; };" "timeouts = { linger_ms = $LINGER; };"
bg net "$XTS_BIN/xts-stream" stall -p 9101 -r 4096
wait_port net 9101
out=$(H "$XTS_BIN/xts-stream" orphan -q 0 -n 20 -b 4096 -T 20 198.18.0.2 9101 2>&1)
rc=$?
echo "$out"
[ "$rc" = 0 ] || fail "no connect succeeded after the closed connections' linger_ms: $out"
echo "$out" | grep -q "first connect after close: ENOBUFS" ||
	fail "the closed connections did not hold their slots until the deadline"
ms=$(echo "$out" | sed -n 's/^connect ok after \([0-9]*\) ms$/\1/p')
info "slots back ${ms} ms after the host closed (linger_ms $LINGER)"
((ms >= LINGER - 200)) || fail "slots came back after ${ms} ms, before linger_ms"
stats_settle
n=$(xtsctl stats --json | jget "j['shards'][0]['linger_aborts']")
[ "$n" = 20 ] || fail "linger_aborts $n, want 20"
echo "PASS: linger"
