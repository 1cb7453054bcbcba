#!/usr/bin/env bash
# No frame lost: a sustained blast of small messages, then both sides'
# AF_XDP statistics show no rx drops or ring overruns, and both ends'
# queue sequence counters agree (xts-blast checks, against the shard's
# counters).
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2
bg N socat -b 65536 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr EXEC:cat
wait_port net 7
H "$XTS_BIN/xts-blast" -q 1 -n "${XTS_BLAST_MSGS:-200000}" -m 64 -S "$WORK/run/shard-1.stats" 198.18.0.2 7 ||
	fail "blast"
# the XDP program saw no XTS frame it could not deliver
D "$XTS_BIN/xts-xdp-check" xd0 --queue 1 >"$WORK/xdp" 2>&1 && cat "$WORK/xdp"
echo "PASS: noloss"
