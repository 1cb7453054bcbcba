#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# 100,000 random and mutated frames into queue 1: its shard stays up (same
# pid, no restart), answers a valid request afterwards, and queue 0 sees
# nothing of it.  Before that, a plain sequence gap must end the session
# loudly (QRESET, seq_gaps counted), forged frames must not, and a version
# 1 host must be refused clearly.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2 "timeouts = { connect_ms = 2000; };"
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7
stats_settle
pid1=$(stat 1 pid)
q0_rx=$(stat 0 rx_frames) q0_bad=$(stat 0 rx_malformed) q0_stale=$(stat 0 rx_stale)

# A plain gap first, alone, so that seq_gaps can be checked exactly: after
# a HELLO, seq 1 where 0 is next must end the session (QRESET in 1 s).
gaps=$(stat 1 seq_gaps) resets=$(stat 1 session_resets)
H "$XTS_BIN/xts-fuzzq" -q 1 -g || fail "a sequence gap did not end the session"
stats_settle
[ "$(stat 1 seq_gaps)" = $((gaps + 1)) ] || fail "seq_gaps $gaps -> $(stat 1 seq_gaps), want +1"
[ "$(stat 1 session_resets)" -gt "$resets" ] || fail "the gap ended no session"

# Forged frames in a live session (protocol 2): the right epoch and the
# next seq from a foreign MAC, and seqs just outside the shard's window,
# are dropped and counted; the session carries on (the real frame with
# that seq is answered), no gap, no reset.
foreign=$(stat 1 rx_foreign) forged=$(stat 1 rx_forged) gaps=$(stat 1 seq_gaps)
H "$XTS_BIN/xts-fuzzq" -q 1 -f || fail "forged frames were acted on"
stats_settle
[ "$(stat 1 rx_foreign)" = $((foreign + 1)) ] || fail "rx_foreign $foreign -> $(stat 1 rx_foreign), want +1"
[ "$(stat 1 rx_forged)" = $((forged + 2)) ] || fail "rx_forged $forged -> $(stat 1 rx_forged), want +2"
[ "$(stat 1 seq_gaps)" = "$gaps" ] || fail "a forged frame counted as a gap"
# A version 1 host is refused in words it reads (EPROTONOSUPPORT), not
# left to time out.
H "$XTS_BIN/xts-fuzzq" -q 1 -V || fail "a version 1 HELLO was not refused in version 1's layout"

H "$XTS_BIN/xts-fuzzq" -q 1 -n "${XTS_FUZZ_FRAMES:-100000}" || { stats_settle; xtsctl stats --shard 1 | tr "\n" " "; fail "fuzzer"; }
stats_settle
[ "$(stat 1 pid)" = "$pid1" ] || fail "shard 1 restarted (pid $pid1 -> $(stat 1 pid))"
kill -0 "$pid1" || fail "shard 1 is gone"
grep -q "restart in" "$WORK/xtsd.log" && fail "a shard was restarted"
echo "# shard 1 after fuzzing: malformed $(stat 1 rx_malformed) stale $(stat 1 rx_stale) proto_errs $(stat 1 proto_errs) stale_ids $(stat 1 stale_ids)"
[ "$(stat 1 rx_malformed)" -gt 0 ] || fail "the fuzzer's frames never reached shard 1"

out=$(echo "still here" | H "$XTS_BIN/xts-cat" -q 1 198.18.0.2 7) || fail "shard 1 does not answer after fuzzing"
[ "$out" = "still here" ] || fail "echo after fuzzing: '$out'"
[ "$(stat 0 rx_frames)" = "$q0_rx" ] || fail "queue 0 saw frames: $q0_rx -> $(stat 0 rx_frames)"
[ "$(stat 0 rx_malformed)" = "$q0_bad" ] && [ "$(stat 0 rx_stale)" = "$q0_stale" ] || fail "queue 0 saw bad frames"
echo "PASS: fuzz_queue"
