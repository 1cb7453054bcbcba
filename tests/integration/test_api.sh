#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# libxport's POSIX semantics end to end (xts-api-check), and what the peer
# saw: close with unread data resets the TCP connection, close after
# reading everything ends it with FIN.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2
bg net python3 "$XTS_SRC/tests/integration/api_peer.py" "$WORK/peer.log"
wait_port net 15
spid=$(stat 1 pid)
[ -n "$spid" ] || fail "no pid for shard 1"
H env XTS_SHARD_PID="$spid" "$XTS_BIN/xts-api-check" 1 >"$WORK/api.out" 2>&1
rc=$?
cat "$WORK/api.out"
[ $rc = 0 ] || fail "xts-api-check"
sleep 0.5
grep -q "^watch err 104" "$WORK/peer.log" || fail "close with unread data did not reset the connection: $(cat "$WORK/peer.log")"
grep -q "^watch fin" "$WORK/peer.log" || fail "close after reading all did not send FIN: $(cat "$WORK/peer.log")"
# what the sink got: all 200 MiB in order, and the bytes sent while the
# shard was stopped (their CLOSE owed behind a shut window), then EOF
grep -q "^sink eof 209715200 ok$" "$WORK/peer.log" || fail "the sink did not get 200 MiB intact: $(grep sink "$WORK/peer.log")"
n=$(sed -n 's/^close stopped done: sink got //p' "$WORK/api.out")
[ -n "$n" ] && grep -q "^sink eof $n ok$" "$WORK/peer.log" ||
	fail "the sink did not get the $n bytes sent before a close owed behind a shut window: $(grep sink "$WORK/peer.log")"
echo "ok: the sink got 200 MiB and then $n bytes, each intact and ended by FIN"
echo "PASS: api"
