#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# kill -9 of xportd during four transfers (issue 11): the lessees keep
# the fds they hold, so all four finish byte-exact; a restarted xportd
# learns the live leases again (each lessee hands its lease back: renew)
# and lists them; `xportd socks --json` then lists every socket of every
# lessee with exactly the bytes the test sent and got back on it; and a
# renewed lease ends as a granted one does: kill -9 of its lessee, and
# the restarted xportd sends the QRESET that frees its connections.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/xportd_lib.sh"
need_root

N=4     # lessees
C=3     # connections each
B=6M    # bytes each way on each connection
BYTES=$((6 << 20))

topo_up 8
xtsd_start 8 "timeouts = { dead_host_ms = 60000; };"
xportd_start 8
bg net socat -b 4096 TCP4-LISTEN:7,fork,reuseaddr,backlog=256 PIPE
wait_port net 7

# four lessees, paced (1 MB/s each: 19 s of transfer) so that xportd dies
# while every one of them is mid-transfer; then they hold their sockets
for ((i = 0; i < N; i++)); do
	ip netns exec "${PFX}host" "$XTS_BIN/xts-lessee" -c $C -b $B -R 1 -T 300 -r -H -1 \
		198.18.0.2 7 >"$WORK/l$i.out" 2>&1 &
	pids[i]=$!
done
for ((t = 0; t < 400; t++)); do
	[ "$(cat "$WORK"/l*.out 2>/dev/null | grep -c '^leased')" = $N ] && break
	sleep 0.05
done
[ "$(cat "$WORK"/l*.out | grep -c '^leased')" = $N ] || { cat "$WORK"/l*.out; fail "not all $N leased"; }
sleep 1
xportd_cli status
xportd_cli status --json >"$WORK/st0.json"

old=$XPORTD_PID
kill -9 "$old"
wait "$old" 2>/dev/null
! grep -q '^ok' "$WORK"/l*.out || fail "a transfer ended before xportd was killed: the test proves nothing: $(cat "$WORK"/l*.out)"
echo "ok: xportd (pid $old) killed with $N transfers running"
# a while with no xportd at all: the transfers go on
sleep 1
for ((i = 0; i < N; i++)); do kill -0 "${pids[i]}" || fail "lessee $i died with xportd: $(cat "$WORK/l$i.out")"; done

xportd_start 8
for ((t = 0; t < 1200; t++)); do
	[ "$(cat "$WORK"/l*.out | grep -c '^ready')" = $N ] && break
	for ((i = 0; i < N; i++)); do
		kill -0 "${pids[i]}" 2>/dev/null || fail "lessee $i: $(cat "$WORK/l$i.out")"
	done
	sleep 0.05
done
cat "$WORK"/l*.out
for ((i = 0; i < N; i++)); do
	grep -q "^ok queue=[0-7] conns=$C bytes=$((C * BYTES)) " "$WORK/l$i.out" ||
		fail "lessee $i did not finish byte-exact: $(cat "$WORK/l$i.out")"
done
echo "ok: all $N transfers finished byte-exact across the kill of xportd"

# the restarted xportd lists the four leases, renewed, under their pids
# and queues (each lessee renews within its 100 ms check)
for ((t = 0; t < 100; t++)); do
	xportd_cli status --json >"$WORK/st1.json" &&
		[ "$(jq '[.queues[] | select(.state == "leased")] | length' "$WORK/st1.json")" = $N ] && break
	sleep 0.05
done
xportd_cli status
for ((i = 0; i < N; i++)); do
	q=$(sed -n 's/^ok queue=\([0-9]\) .*/\1/p' "$WORK/l$i.out")
	jq -e --argjson q "$q" --argjson p "${pids[i]}" \
		'.queues[] | select(.id == $q and .state == "leased" and .pid == $p and .renewed == 1)' \
		"$WORK/st1.json" >/dev/null || fail "the restarted xportd does not list lessee $i (pid ${pids[i]}) on queue $q: $(cat "$WORK/st1.json")"
	[ "$(jq --argjson q "$q" '.queues[] | select(.id == $q) | .since' "$WORK/st0.json")" = \
		"$(jq --argjson q "$q" '.queues[] | select(.id == $q) | .since' "$WORK/st1.json")" ] ||
		fail "queue $q: the lease's start time changed across the restart"
done
echo "ok: the restarted xportd lists the $N leases (renewed, same pids, queues and start times)"

# socks --json: every socket of every lessee, with the bytes the test
# moved on it: C established sockets per lessee, BYTES each way on each
xportd_cli socks --json >"$WORK/socks.json" || fail "xportd socks --json"
jq -c '.socks[]' "$WORK/socks.json" | head -3
[ "$(jq '.leases | length' "$WORK/socks.json")" = $N ] || fail "socks lists $(jq '.leases | length' "$WORK/socks.json") leases, want $N"
[ "$(jq '.socks | length' "$WORK/socks.json")" = $((N * C)) ] ||
	fail "socks lists $(jq '.socks | length' "$WORK/socks.json") sockets, want $((N * C)): $(cat "$WORK/socks.json")"
for ((i = 0; i < N; i++)); do
	jq -e --argjson p "${pids[i]}" '.leases[] | select(.pid == $p and .answered == "yes")' \
		"$WORK/socks.json" >/dev/null || fail "lessee $i did not answer the snapshot"
	n=$(jq --argjson p "${pids[i]}" --argjson b $BYTES '[.socks[] | select(.pid == $p and
		.state == "established" and .tx_bytes == $b and .rx_bytes == $b and
		.remote == "198.18.0.2:7")] | length' "$WORK/socks.json")
	[ "$n" = $C ] || fail "lessee $i: $n of its sockets show $BYTES bytes each way, want $C: $(cat "$WORK/socks.json")"
	jq -e --argjson p "${pids[i]}" --argjson b $((C * BYTES)) \
		'.leases[] | select(.pid == $p and .data_tx == $b and .data_rx == $b)' "$WORK/socks.json" >/dev/null ||
		fail "lessee $i: its counters do not add up to $((C * BYTES)) bytes each way"
done
# --pid: that lessee's sockets only
[ "$(xportd_cli socks --pid "${pids[0]}" --json | jq '[.socks[] | select(.pid == '"${pids[0]}"')] | length')" = $C ] ||
	fail "socks --pid ${pids[0]}"
[ "$(xportd_cli socks --pid "${pids[0]}" --json | jq '.socks | length')" = $C ] || fail "socks --pid lists others"
echo "ok: socks --json lists all $((N * C)) sockets with $BYTES bytes each way, as sent"
xportd_cli socks | head -4

# a renewed lease ends as any other: kill -9 of its lessee, the new
# xportd's QRESET (from the UMEM and socket the lessee handed back), the
# shard frees the connections at once (dead_host_ms is 60 s here)
q0=$(sed -n 's/^ok queue=\([0-9]\) .*/\1/p' "$WORK/l0.out")
[ "$(stat "$q0" conns_active)" = $C ] || fail "shard $q0 has $(stat "$q0" conns_active) connections, want $C"
kill -9 "${pids[0]}"
for ((t = 0; t < 100; t++)); do grep -q "pid ${pids[0]} .* free at" "$WORK/xportd.log" && break; sleep 0.05; done
grep "pid ${pids[0]} .* free at" "$WORK/xportd.log" || fail "the new xportd did not end the renewed lease of pid ${pids[0]}"
for ((t = 0; t < 40; t++)); do [ "$(stat "$q0" conns_active)" = 0 ] && break; sleep 0.05; done
[ "$(stat "$q0" conns_active)" = 0 ] || fail "shard $q0 still holds the killed lessee's connections"
xportd_cli status --json | jq -e '.xportds[0].qresets == 1' >/dev/null || fail "the new xportd sent no QRESET"
echo "ok: kill -9 of a renewed lessee: the new xportd's QRESET freed its $C connections on shard $q0"

for ((i = 1; i < N; i++)); do kill -TERM "${pids[i]}"; done
xportd_log_check
echo "PASS"
