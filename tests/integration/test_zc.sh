#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The zero-copy API (include/xport.h, "Zero copy") through real AF_XDP:
# xts-zc sends stdin from tx frames it fills in place (xport_send_buf)
# and writes what comes back from lent rx frames (xport_recv_zc), through
# the 4-queue topology to a real echo server (socat), byte-exact both
# ways (sha256) on every queue.  Then the same bytes through the copying
# calls (-c), and the host CPU per GB of each, printed.  The stats line
# must show that the zero-copy path really ran (frames kept and sent).
. "$(dirname "$0")/lib.sh"
need_root
# 64 MiB wraps every ring many times over (about 22,000 frames each way per
# queue); XTS_ZC_MB=N for more (256 took 28 s of the CI, here 48 s loaded)
MB=${XTS_ZC_MB:-64}

topo_up 4
xtsd_start 4
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7

head -c "${MB}M" /dev/urandom >"$WORK/data" || fail "test data"
want=$(sha256sum <"$WORK/data" | cut -d' ' -f1)

run() { # queue [-c]
	local got line
	got=$(H "$XTS_BIN/xts-zc" -v -q "$@" 198.18.0.2 7 <"$WORK/data" 2>"$WORK/zc.err" |
		sha256sum | cut -d' ' -f1)
	line=$(grep '^mode=' "$WORK/zc.err") || { cat "$WORK/zc.err"; fail "xts-zc -q $*: no stats"; }
	[ "$got" = "$want" ] || { cat "$WORK/zc.err"; fail "xts-zc -q $*: sha256 $got, want $want"; }
	echo "ok: queue $*: ${MB} MiB each way, sha256 match: $line"
	LAST=$line
}
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

for q in 0 1 2 3; do
	run $q
	# the zero-copy calls ran: every DATA frame sent from a lent frame,
	# and most received ones kept (a bound reached copies, counted)
	[ "$(kv zc_tx_frames "$LAST")" -gt 0 ] || fail "queue $q: no frame sent from xport_send_buf"
	[ "$(kv zc_rx_frames "$LAST")" -gt "$(kv zc_rx_copied "$LAST")" ] ||
		fail "queue $q: fewer frames kept than copied: $LAST"
done
zc=$(kv cpu_s_per_gb "$LAST")
run 0 -c
[ "$(kv zc_tx_frames "$LAST")" = 0 ] || fail "copy mode sent from lent frames: $LAST"
cp=$(kv cpu_s_per_gb "$LAST")
echo "# host CPU per GB moved (up + down): zero copy $zc s, copying $cp s"
stats_settle
for q in 0 1 2 3; do
	for k in seq_gaps xsk_rx_dropped xsk_rx_ring_full rx_malformed; do
		[ "$(stat $q $k)" = 0 ] || fail "shard $q: $k = $(stat $q $k)"
	done
done
echo "PASS: zc"
