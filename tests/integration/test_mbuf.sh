#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Multi-buffer frames (docs/protocol.md, "Multi-buffer frames") through
# real AF_XDP on a link whose MTU (65,535) is far past one UMEM chunk:
# xts-zc sends stdin to a real echo server (socat) and writes what comes
# back, byte-exact both ways (sha256), with the zero-copy and the copying
# calls; the host's counters must show frames of several chunks sent and
# received.  Then the fallbacks, byte-exact too: the host with XTS_MBUF=0
# (an old host: no XTS_CAP_MBUF, so the shard must send it one-chunk
# frames) and a shard with XTS_MBUF=0 (an old shard: the host must send
# one-chunk frames), each logging why once.  And a queue leased from
# xportd, bound with XDP_USE_SG by xportd.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/xportd_lib.sh"
need_root
MB=${XTS_MBUF_MB:-32}

topo_up 1 65535
xtsd_start 1
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7

head -c "${MB}M" /dev/urandom >"$WORK/data" || fail "test data"
want=$(sha256sum <"$WORK/data" | cut -d' ' -f1)

run() { # [env...] -- xts-zc args
	local got line env=()
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	got=$(H env "${env[@]}" timeout 60 "$XTS_BIN/xts-zc" -v -q 0 "$@" 198.18.0.2 7 <"$WORK/data" \
		2>"$WORK/zc.err" | sha256sum | cut -d' ' -f1)
	line=$(grep '^mode=' "$WORK/zc.err") || { cat "$WORK/zc.err"; fail "xts-zc $*: no stats"; }
	[ "$got" = "$want" ] || { cat "$WORK/zc.err"; fail "xts-zc ${env[*]} $*: sha256 $got, want $want"; }
	echo "ok: ${env[*]} $*: ${MB} MiB each way, sha256 match: $line"
	LAST=$line
}
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# on: frames of several chunks both ways, zero copy and copying
for mode in "" -c; do
	run -- $mode
	[ "$(kv mbuf "$LAST")" = 1 ] || fail "multi-buffer off on a 65535 MTU link: $LAST"
	[ "$(kv max_frame "$LAST")" -gt 60000 ] || fail "session max frame: $LAST"
	[ "$(kv mbuf_tx "$LAST")" -gt 0 ] || fail "no frame of several chunks sent: $LAST"
	[ "$(kv mbuf_rx "$LAST")" -gt 0 ] || fail "no frame of several chunks received: $LAST"
done
on_cpu=$(kv cpu_s_per_gb "$LAST")

# an old host (no cap): the shard sends it one-chunk frames
run XTS_MBUF=0 -- -c
[ "$(kv mbuf "$LAST")" = 0 ] && [ "$(kv mbuf_tx "$LAST")" = 0 ] && [ "$(kv mbuf_rx "$LAST")" = 0 ] ||
	fail "XTS_MBUF=0: frames of several chunks: $LAST"
[ "$(kv max_frame "$LAST")" -le 4096 ] || fail "XTS_MBUF=0: max frame: $LAST"
off_cpu=$(kv cpu_s_per_gb "$LAST")
echo "# host CPU per GB moved (up + down), copying calls: multi-buffer $on_cpu s, one-chunk $off_cpu s"

# a queue leased from xportd: bound with XDP_USE_SG by xportd, the
# lessee's link takes frames of several chunks as its own socket would
xportd_start 1
run -- -c
[ "$(kv mbuf "$LAST")" = 1 ] && [ "$(kv mbuf_tx "$LAST")" -gt 0 ] && [ "$(kv mbuf_rx "$LAST")" -gt 0 ] ||
	fail "leased queue: no frames of several chunks: $LAST"
kill "$XPORTD_PID"; wait_gone "$XPORTD_PID" 100 || fail "xportd did not stop"
unset XPORTD_SOCKET

# an old shard (no cap): the host sends one-chunk frames, receives them
kill "$XTSD_PID"; wait_gone "$XTSD_PID" 100 || fail "xtsd did not stop"
XTS_MBUF=0 xtsd_start 1
grep -q "multi-buffer frames off: XTS_MBUF=0" "$WORK/xtsd.log" || { cat "$WORK/xtsd.log"; fail "no log line for XTS_MBUF=0"; }
run -- -c
[ "$(kv mbuf "$LAST")" = 1 ] || fail "host multi-buffer off: $LAST"
[ "$(kv mbuf_tx "$LAST")" = 0 ] && [ "$(kv mbuf_rx "$LAST")" = 0 ] ||
	fail "frames of several chunks with a shard without the cap: $LAST"
[ "$(kv max_frame "$LAST")" -le 4096 ] || fail "max frame with a shard without the cap: $LAST"
stats_settle
for k in seq_gaps xsk_rx_dropped xsk_rx_ring_full rx_malformed; do
	[ "$(stat 0 $k)" = 0 ] || fail "shard 0: $k = $(stat 0 $k)"
done
echo "PASS: mbuf"
