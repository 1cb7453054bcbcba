#!/usr/bin/env bash
# libxport's POSIX semantics end to end (xts-api-check), and what the peer
# saw: close with unread data resets the TCP connection, close after
# reading everything ends it with FIN.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2
bg net python3 "$XTS_SRC/tests/integration/api_peer.py" "$WORK/peer.log"
wait_port net 15
H "$XTS_BIN/xts-api-check" 1 >"$WORK/api.out" 2>&1
rc=$?
cat "$WORK/api.out"
[ $rc = 0 ] || fail "xts-api-check"
sleep 0.5
grep -q "^watch err 104" "$WORK/peer.log" || fail "close with unread data did not reset the connection: $(cat "$WORK/peer.log")"
grep -q "^watch fin" "$WORK/peer.log" || fail "close after reading all did not send FIN: $(cat "$WORK/peer.log")"
echo "PASS: api"
