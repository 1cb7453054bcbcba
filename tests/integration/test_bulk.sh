#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# 1 GiB each way through one XTS connection to a real echo server (socat) in
# xts-net, byte-exact (sha256), on queue 0, then 256 MiB on each other queue
# of the 4-queue topology and to the server's IPv6 address (XTS_BULK_MB
# sets both sizes: 1 GiB everywhere by hand took 88 s of the CI's budget).  The echo makes both directions
# byte-exact at once: anything corrupted on the way up comes back wrong.
. "$(dirname "$0")/lib.sh"
need_root
# socat PIPE echoes within one process; its writes into its own pipe must
# never exceed what poll(2) promised (one page), or it deadlocks itself:
# hence -b 4096.  (EXEC:cat with big blocks deadlocks socat against cat.)
MB_ALL=${XTS_BULK_MB:-1024}
MB_REST=${XTS_BULK_MB:-256}

topo_up 4
xtsd_start 4
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
bg net socat -b 4096 TCP6-LISTEN:7,bind=[fd00:78:74::2],ipv6only=1,fork,reuseaddr PIPE
wait_port net 7

head -c "${MB_ALL}M" /dev/urandom >"$WORK/data" || fail "test data"
want_all=$(sha256sum <"$WORK/data" | cut -d' ' -f1)
want_rest=$(head -c "${MB_REST}M" "$WORK/data" | sha256sum | cut -d' ' -f1)

run() { # queue host MiB
	local t0 t1 got MB=$3 want=$want_rest
	[ "$3" = "$MB_ALL" ] && want=$want_all
	t0=$(date +%s.%N)
	got=$(head -c "${MB}M" "$WORK/data" | H "$XTS_BIN/xts-cat" -q "$1" "$2" 7 | sha256sum | cut -d' ' -f1)
	t1=$(date +%s.%N)
	[ "$got" = "$want" ] || fail "queue $1 to $2: sha256 $got, want $want"
	echo "ok: queue $1 to $2: ${MB} MiB each way, sha256 match, $(awk -v a="$t0" -v b="$t1" -v m="$MB" \
		'BEGIN { printf "%.2f s, %.2f Gbit/s each way", b - a, m * 8 * 1.048576 / 1000 / (b - a) }')"
}
run 0 198.18.0.2 "$MB_ALL"
for q in 1 2 3; do run $q 198.18.0.2 "$MB_REST"; done
run 0 fd00:78:74::2 "$MB_REST"
stats_settle
for q in 0 1 2 3; do
	for k in seq_gaps xsk_rx_dropped xsk_rx_ring_full rx_malformed; do
		[ "$(stat $q $k)" = 0 ] || fail "shard $q: $k = $(stat $q $k)"
	done
done
echo "PASS: bulk"
