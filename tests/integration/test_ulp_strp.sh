#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Framing (the "strp" ULP) on the DPU against real peers (docs/design.md,
# "Framing on the shard"): a libxport program (xts-strp-check) receives one
# message per receive whatever the segmentation on the wire.
#  - 300 length-prefixed messages (8 B .. 60 KB) cut at random places by a
#    Python peer, each received whole with MSG_EOR and echoed with MSG_EOR:
#    the peer checks the echo byte-exact; again through a 1000-byte buffer
#    (parts, MSG_EOR on the last only), again dripped a byte at a time, and
#    again with TLS below the framing (a Python TLS server).
#  - poll: not readable while half a message is there.
#  - hostile peers: a length past the max (EMSGSIZE), a message cut by the
#    end of stream (EPIPE), each with its reason; a send with MSG_EOR inside
#    a message (EBADMSG, and none of it reaches the peer).
#  - RESP against redis-server: pipelined replies one per receive.
#  - a host listener with HTTP/1 request framing: pipelined GET, POST with
#    Content-Length and chunked POST cut at random, each request whole;
#    Content-Length with Transfer-Encoding fails that connection (EBADMSG).
#  The shard stays up throughout (lib.sh fails on a restart) and counts
#  messages and errors.
. "$(dirname "$0")/lib.sh"
need_root
. "$(dirname "$0")/tls_lib.sh"
tls_pki
command -v redis-server >/dev/null || fail "redis-server is not installed (tools/install-deps)"

topo_up 1
xtsd_start 1 "tls = ( { name = \"api\"; ca = \"$PKI/ca.pem\"; } );"
PEER=$XTS_SRC/tests/integration/strp_peer.py
CHECK=$XTS_BIN/xts-strp-check
port=9300

# run_pair NAME "PEER ARGS" "CHECK ARGS": the peer in xts-net, the check on
# the host; both must succeed; both lines printed
run_pair() {
	local name=$1 pargs=$2 cargs=$3 out rc
	port=$((port + 1))
	bg net python3 "$PEER" ${pargs//PORT/$port} >"$WORK/peer.out" 2>&1
	local ppid=${BGPIDS[-1]}
	wait_port net "$port"
	out=$(H timeout 120 "$CHECK" -q 0 ${cargs//PORT/$port} 2>&1) || fail "$name: xts-strp-check: $out"
	wait_gone "$ppid" 600 || fail "$name: the peer did not finish: $(cat "$WORK/peer.out")"
	wait "$ppid" || fail "$name: peer: $(cat "$WORK/peer.out")"
	echo "ok: $name: $(tr '\n' ' ' <<<"$out")/ $(cat "$WORK/peer.out")"
	LAST=$out
}

run_pair "random segmentation" "send PORT 300 1 60000" "echo 198.18.0.2 PORT 300"
run_pair "1000-byte receive buffer" "send PORT 100 2 5000" "-b 1000 echo 198.18.0.2 PORT 100"
run_pair "slow drip (a byte every 5 ms)" "send PORT 4 3 40 5" "echo 198.18.0.2 PORT 4"
run_pair "TLS below framing" "send PORT 200 4 30000 --tls $PKI/net.pem $PKI/net.key" \
	"-T echo 198.18.0.2 PORT 200"
run_pair "poll" "poll PORT" "poll 198.18.0.2 PORT"
run_pair "oversized length" "oversize PORT 4096" "-m 4096 expect 198.18.0.2 PORT EMSGSIZE"
grep -q "after 3 whole messages" <<<"$LAST" || fail "oversize: the 3 messages before it were not all delivered"
grep -q "reason: framing (received): message longer than its max" <<<"$LAST" || fail "oversize: reason: $LAST"
run_pair "truncated message, then close" "trunc PORT" "expect 198.18.0.2 PORT EPIPE"
grep -q "reason: framing (received): the stream ended inside a message" <<<"$LAST" || fail "trunc: reason: $LAST"
run_pair "MSG_EOR inside a message" "sink PORT" "badsend 198.18.0.2 PORT"
grep -q "sink got 0 bytes" "$WORK/peer.out" || fail "badsend: bytes of the bad message left: $(cat "$WORK/peer.out")"

# RESP against a real redis-server
bg net redis-server --port 6390 --bind 198.18.0.2 --save '' --appendonly no --protected-mode no
wait_port net 6390
out=$(H timeout 60 "$CHECK" -q 0 resp 198.18.0.2 6390 500 2>&1) || fail "resp: $out"
echo "ok: redis-server: $out"

# a host listener with HTTP/1 request framing; a client in xts-net
bg host "$CHECK" -q 0 serve - 8090 60 >"$WORK/serve.out" 2>&1
spid=${BGPIDS[-1]}
for ((i = 0; i < 100; i++)); do grep -q listening "$WORK/serve.out" && break; sleep 0.1; done
out=$(N timeout 60 python3 "$PEER" http 198.18.0.1 8090 60 5 2>&1) || fail "http: $out / $(cat "$WORK/serve.out")"
wait_gone "$spid" 100 || fail "http: xts-strp-check serve did not end: $(cat "$WORK/serve.out")"
wait "$spid" || fail "http: serve: $(cat "$WORK/serve.out")"
grep -q "failed with EBADMSG after 0 whole messages" "$WORK/serve.out" || fail "http: $(cat "$WORK/serve.out")"
echo "ok: HTTP/1 request framing: $out / $(tr '\n' ' ' <"$WORK/serve.out")"

stats_settle
rx=$(stat 0 strp_msgs_rx) tx=$(stat 0 strp_msgs_tx) errs=$(stat 0 strp_errors)
[ "$rx" -ge 1000 ] && [ "$tx" -ge 600 ] && [ "$errs" = 4 ] ||
	fail "counters: strp_msgs_rx $rx (>= 1000), strp_msgs_tx $tx (>= 600), strp_errors $errs (4)"
echo "ok: counters: strp_msgs_rx $rx, strp_msgs_tx $tx, strp_errors $errs; the shard never restarted"
