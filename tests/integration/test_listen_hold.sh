#!/usr/bin/env bash
# A shard killed (SIGKILL) while it holds the listener registry's lock,
# in the middle of an update, does not stop the other shards: the next
# holder repairs the entry (robust mutex, EOWNERDEAD) and they listen and
# close as before, on that very port too.  The hold is deliberate:
# XTS_REG_HOLD_TEST=QUEUE:PORT makes that queue's shard sleep with the lock held in the
# LISTEN for PORT.
. "$(dirname "$0")/lib.sh"
need_root
export XTS_ALLOW_RESTART=1 # we kill a shard on purpose
CHECK="$XTS_BIN/xts-listen-check"
HOLD=7100

topo_up 4
XTS_REG_HOLD_TEST=2:$HOLD xtsd_start 4

H "$CHECK" hold 2 $HOLD >"$WORK/hold.out" 2>&1 & hold=$!
for ((i = 0; i < 100; i++)); do grep -q "holding the registry lock for port $HOLD" "$WORK/xtsd.log" && break; sleep 0.1; done
grep -q "shard 2: XTS_REG_HOLD_TEST: holding" "$WORK/xtsd.log" || fail "shard 2 did not take the hold"
victim=$(stat 2 pid)
info "shard 2 (pid $victim) holds the registry lock: SIGKILL"
kill -9 "$victim"
wait $hold
sed 's/^/  /' "$WORK/hold.out"

serve() { # queue port
	H "$CHECK" listen-close "$1" "$2" >"$WORK/lc.out" 2>&1 & local pid=$!
	for ((i = 0; i < 100; i++)); do grep -q '^listening' "$WORK/lc.out" && break; sleep 0.1; done
	grep -q '^listening' "$WORK/lc.out" || { cat "$WORK/lc.out"; fail "queue $1 could not listen on $2"; }
	got=$(N timeout 10 socat -t5 - "TCP4:198.18.0.1:$2" <<<"hi $1") || fail "client to $2"
	[ "$got" = "hi $1" ] || fail "echo on queue $1 port $2: '$got'"
	wait $pid || { cat "$WORK/lc.out"; fail "listen-close on queue $1 exited $?"; }
	sed 's/^/  /' "$WORK/lc.out"
	echo "ok: queue $1 listened on port $2, served a connection and closed"
}
# other shards, the held port and another, while shard 2 restarts
serve 0 $HOLD
serve 1 7101
grep -q "registry: repaired after a holder died" "$WORK/xtsd.log" || fail "no repair logged"
echo "ok: $(grep -m1 'registry: repaired' "$WORK/xtsd.log")"
# and the restarted shard 2 listens too, once it is back
for ((i = 0; i < 100; i++)); do
	[ "$(stat 2 pid)" != "$victim" ] && break; sleep 0.1
done
[ "$(stat 2 pid)" != "$victim" ] || fail "shard 2 was not restarted"
sleep 0.5
serve 2 7102
echo "PASS: listen_hold"
