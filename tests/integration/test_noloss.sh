#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# No frame lost: a sustained blast of small messages, then both sides'
# AF_XDP statistics show no rx drops or ring overruns, and both ends'
# queue sequence counters agree (xts-blast checks, against the shard's
# counters).
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7
H "$XTS_BIN/xts-blast" -q 1 -n "${XTS_BLAST_MSGS:-200000}" -m 64 -S "$(stats_cmd 1)" 198.18.0.2 7 ||
	fail "blast"
# the XDP program saw no XTS frame it could not deliver
D "$XTS_BIN/xts-xdp-check" --find --queue 1 xd0 >"$WORK/xdp" 2>&1 || fail "xdp counters: $(cat "$WORK/xdp")"
cat "$WORK/xdp"
awk '$1 == "queue" { for (i = 2; i < NF; i += 2) if (($i == "no_socket" || $i == "redirect_err") && $(i + 1) != 0) bad = 1 }
     END { exit bad }' "$WORK/xdp" || fail "the XDP program dropped XTS frames on queue 1"
echo "PASS: noloss"
