#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A slow reader behind the shard: the host sends 4 MiB of a position-
# dependent pattern and shuts down at once, while most of it still waits
# in the shard's buffer (the DPU socket's SO_SNDBUF is small, the peer
# reads 4 KiB a millisecond).  The peer must get every byte, in order and
# unchanged (a buffer compaction that moves one byte too few shows at its
# offset), and then EOF (the host's FIN must follow the buffer out).
. "$(dirname "$0")/lib.sh"
need_root

BYTES=$((4 << 20))
topo_up 1
xtsd_start 1
bg net "$XTS_BIN/xts-stream" peer -p 9100 -r 4096 -c 4096 -d 1000 -T 20 >"$WORK/peer.out" 2>&1
peer=$!
wait_port net 9100
t0=$(date +%s%N)
out=$(H "$XTS_BIN/xts-stream" send -q 0 -n $BYTES -b 4096 -T 60 198.18.0.2 9100 2>&1)
rc=$?
t1=$(date +%s%N)
wait "$peer" # it ends at EOF, or gives up 20 s after its last byte
echo "$out"
info "peer side: $(cat "$WORK/peer.out")"
info "4 MiB to the slow reader in $(((t1 - t0) / 1000000)) ms"
grep -q "no-eof" "$WORK/peer.out" && fail "the peer never saw EOF after the host's shutdown"
grep -q " bad " "$WORK/peer.out" && fail "the peer saw a wrong byte: $(cat "$WORK/peer.out")"
[ "$rc" = 0 ] || fail "xts-stream send: $out"
[ "$(cat "$WORK/peer.out")" = "$BYTES ok" ] || fail "peer: $(cat "$WORK/peer.out")"
echo "PASS: slow_reader"
