#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Isolation (issue 11): a lessee that writes garbage and forged frames on
# its own queue resets its own session and nothing else, and it has no
# way to put a frame on another queue.
# - The forger runs as nobody, no capability, leased through xportd.  It
#   moves 1 MiB byte-exact, then writes 400 random frames on its own tx
#   ring (half of them XTS frames of made-up sessions: random epochs and
#   sequence numbers, DATA and QRESET), 64 well-formed DATA frames of
#   other sessions and of its own far outside the window, and one
#   malformed frame in its own session's sequence; its session must be
#   reset (xts-lessee -F), and its shard counts each kind.
# - How it tries to reach another queue (xts-lessee -A): its own AF_XDP
#   socket, a packet socket, a raw socket, binding its leased socket to
#   another queue, another UMEM on it, resizing its rings: each refused.
#   What is left is its own tx ring, and the kernel sends what is written
#   there on the queue the socket is bound to, for the socket's life.  The
#   other shards' counters show it: none of them saw a stale, forged or
#   malformed frame.
# - Three bystanders on other queues transfer throughout: byte-exact, and
#   their sessions are never reset.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/xportd_lib.sh"
need_root

GRP=4243
topo_up 8
xtsd_start 8
xportd_start 8 "policy = ( { group = $GRP; leases = 2; } );"
bg net socat -b 4096 TCP4-LISTEN:7,fork,reuseaddr,backlog=256 PIPE
wait_port net 7

# bystanders: 4 connections of 2 MiB each way, paced (0.25 MB/s: 34 s; at 16 s
# the forger, whose lease and copy out of a 0700 clone took 7 s under
# load, outlasted one) so that
# they run all through the forging; then they hold their sessions until
# the end, so that a session that ends is one the forging ended
for i in 1 2 3; do
	ip netns exec "${PFX}host" "$XTS_BIN/xts-lessee" -c 4 -b 2M -R 0.25 -T 300 -r -H -1 198.18.0.2 7 >"$WORK/by$i.out" 2>&1 &
	by[i]=$!
done
for ((t = 0; t < 200; t++)); do
	[ "$(cat "$WORK"/by*.out | grep -c '^leased')" = 3 ] && break
	sleep 0.05
done
[ "$(cat "$WORK"/by*.out | grep -c '^leased')" = 3 ] || fail "bystanders: $(cat "$WORK"/by*.out)"
# every shard's sessions, in one call (xtsctl per key per shard is slow
# on a loaded machine)
sess() { xtsctl stats --json | jq -c --argjson x "${1:--1}" '[.shards[] | select(.id != $x) | [.id, .sessions, .session_resets]]'; }
sess0=$(sess)

as_user 65534 $GRP "$XTS_BIN/xts-lessee" -A -F -b 1M -T 120 198.18.0.2 7 >"$WORK/forger.out" 2>&1 ||
	{ cat "$WORK/forger.out"; fail "the forger failed"; }
cat "$WORK/forger.out"
fq=$(sed -n 's/^ok queue=\([0-9]\) .*/\1/p' "$WORK/forger.out")
[ -n "$fq" ] || fail "the forger's queue"
[ "$(grep -c '^attempt: ' "$WORK/forger.out")" = 6 ] || fail "not every attempt ran"
! grep -q "ALLOWED" "$WORK/forger.out" || fail "the forger reached past its queue"
grep -q "^forge: 465 frames written on queue $fq" "$WORK/forger.out" || fail "the forger did not write its frames"
grep -q "^forge: own session reset" "$WORK/forger.out" || fail "the forger's session was not reset"

! grep -q '^ok' "$WORK"/by*.out || fail "a bystander finished before the forger: the test proves less; pace them slower"

# the forger's shard: its session reset, the junk counted
# (random bytes fail to parse; well-formed frames of other sessions are
# stale; ours out of the window are forged; none of them is acted on)
fs=$(xtsctl stats --json | jq -c --argjson x "$fq" '.shards[] | select(.id == $x) |
	{rx_malformed, rx_stale, rx_forged, rx_foreign, proto_errs}')
echo "# shard $fq (the forger's): $fs"
for k in rx_malformed rx_stale rx_forged; do
	[ "$(jq ".$k" <<<"$fs")" -gt 0 ] || fail "shard $fq counted no $k frame of the forger's: $fs"
done
[ "$(stat "$fq" session_resets)" -gt "$(jq --argjson x "$fq" '.[] | select(.[0] == $x) | .[2]' <<<"$sess0")" ] || fail "shard $fq: the forger's session was not reset"

for ((t = 0; t < 1200; t++)); do
	[ "$(cat "$WORK"/by*.out | grep -c '^ready')" = 3 ] && break
	for i in 1 2 3; do kill -0 "${by[i]}" 2>/dev/null || fail "bystander $i: $(cat "$WORK/by$i.out")"; done
	sleep 0.05
done
# no other shard lost or started a session (the bystanders still hold
# theirs: none ended by a bystander's own close yet)
sess1=$(sess "$fq")
[ "$sess1" = "$(jq -c --argjson x "$fq" '[.[] | select(.[0] != $x)]' <<<"$sess0")" ] ||
	fail "a session other than the forger's reset or started: before $sess0, after $sess1 ([shard, sessions, resets])"
echo "ok: the other shards' sessions untouched: $sess1"
for i in 1 2 3; do
	grep -q "^ok queue=[0-7] conns=4 bytes=8388608 " "$WORK/by$i.out" || fail "bystander $i: $(cat "$WORK/by$i.out")"
	bq[i]=$(sed -n 's/^ok queue=\([0-9]\) .*/\1/p' "$WORK/by$i.out")
	[ "${bq[i]}" != "$fq" ] || fail "a bystander shared the forger's queue"
done
# every other shard: not one frame of the forger's
junk=$(xtsctl stats --json | jq -c --argjson x "$fq" '[.shards[] | select(.id != $x) |
	select(.rx_stale + .rx_forged + .rx_malformed + .rx_foreign + .proto_errs > 0) |
	{id, rx_stale, rx_forged, rx_malformed, rx_foreign, proto_errs}]')
[ "$junk" = "[]" ] || fail "shards other than the forger's saw its frames: $junk"
echo "ok: only the forger's session (queue $fq) was reset; bystanders on queues ${bq[*]} byte-exact, 8 MiB each way each; no other shard saw a forged frame"

# the forger's queue serves the next lessee as before
as_user 65534 $GRP "$XTS_BIN/xts-lessee" -q "$fq" -w 2000 -b 1M 198.18.0.2 7 >"$WORK/next.out" 2>&1 ||
	fail "the next lessee of queue $fq: $(cat "$WORK/next.out")"
grep "^ok" "$WORK/next.out"
kill "${by[@]}"
xportd_log_check
echo "PASS"
