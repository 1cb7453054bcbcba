#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# test_conns.sh - many connections through XTS:
#  1. 1000 connections over 4 queues (4 threads, one xport each) to an echo
#     server, 64 KiB each, checked byte for byte;
#  2. 10,000 connections on one queue to redis-server: PING/+PONG on each,
#     held idle (the shard's liveness pings must be answered meanwhile),
#     PING again.  While they are held, shard 0 must count them all, and its
#     memory per connection is measured, printed and held under 1 KiB:
#        # shard memory per connection: N bytes
#
# Needs root; exits 77 (skip) otherwise, or 1 when XTS_REQUIRE_ROOT=1.
# On failure the shard stats, xtsd log and client output are copied to
# ${XTS_KEEP:-/tmp}/xts-conns-fail.PID before the cleanup removes WORK.

source "$(dirname "$0")/lib.sh"
need_root


CONNS=10000
KEEP=${XTS_KEEP:-/tmp}/xts-conns-fail.$$

tfail() {
	mkdir -p "$KEEP" && cp -r "$WORK"/. "$KEEP"/ 2>/dev/null &&
		echo "# kept $WORK as $KEEP" >&2
	[ -f "$WORK/idle.out" ] && cat "$WORK/idle.out" >&2
	fail "$@"
}

for t in socat redis-server; do
	command -v $t >/dev/null || fail "$t is needed"
done
[ -x "$XTS_BIN/xts-conns" ] || fail "$XTS_BIN/xts-conns not built"

# Each held connection is a kernel socket (an fd) in the shard and in
# redis: raise the limit before both start, so they inherit it.  Without
# CAP_SYS_RESOURCE the hard limit is the ceiling.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((CONNS + 1024)) ] ||
	fail "open files limit $(ulimit -n) is too low for $CONNS connections"
info "open files limit $(ulimit -n)"

topo_up 4
xtsd_start 4 "limits = { max_conns = 12000; };"

# PIPE: socat's child echoes through a pipe, one process per connection.
bg net socat TCP-LISTEN:7,bind=198.18.0.2,fork,reuseaddr,backlog=2048 PIPE
bg net redis-server --port 6379 --bind 198.18.0.2 --save '' --appendonly no \
	--maxclients 20000 --protected-mode no --daemonize no --tcp-backlog 2048 \
	--logfile "$WORK/redis.log"
wait_port net 7
wait_port net 6379

# --- 1000 echo connections over 4 queues ---------------------------------------

t0=$(date +%s.%N)
H "$XTS_BIN/xts-conns" echo -Q 4 -n 1000 -s 65536 198.18.0.2 7 >"$WORK/echo.out" 2>&1 || {
	cat "$WORK/echo.out" >&2
	tfail "echo: 1000 connections over 4 queues"
}
t1=$(date +%s.%N)
cat "$WORK/echo.out"
info "1000-connection echo run: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s wall"
stats_settle
for s in 0 1 2 3; do
	info "shard $s: conns_opened $(stat $s conns_opened) conns_active $(stat $s conns_active)" \
		"conns_failed $(stat $s conns_failed)"
done

# --- 10,000 idle connections on queue 0 --------------------------------------

spid=$(stat 0 pid)
[ -n "$spid" ] && [ -r "/proc/$spid/status" ] || tfail "shard 0 pid '$spid' not found"
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }
rss0=$(rss_kib "$spid")
active0=$(stat 0 conns_active)

ip netns exec "${PFX}host" "$XTS_BIN/xts-conns" idle -q 0 -n $CONNS -H 8 198.18.0.2 6379 \
	>"$WORK/idle.out" 2>&1 &
ipid=$!
BGPIDS+=("$ipid")
# The client says when every connection has answered its first PING.
for ((i = 0; i < 600; i++)); do
	grep -q 'connections up' "$WORK/idle.out" && break
	kill -0 "$ipid" 2>/dev/null || break
	sleep 0.1
done
grep -q 'connections up' "$WORK/idle.out" || tfail "the $CONNS idle connections did not come up"
# libxport's receive rings start at 1 KiB and grow with unread bytes: a
# connection that got a +PONG costs the client about 1 KiB in all (socket
# slot and ring), not a page of a 256 KiB ring (about 4 KiB before).
cb=$(sed -n 's/.*KiB after (\([0-9]*\) B\/conn).*/\1/p' "$WORK/idle.out")
[ -n "$cb" ] || tfail "no client memory figure from xts-conns"
info "client memory per connection: $cb B"
[ "$cb" -lt 2048 ] || tfail "client RSS per connection $cb B (want < 2048)"
stats_settle
active=$(stat 0 conns_active)
rss1=$(rss_kib "$spid")
[ "$(stat 0 pid)" = "$spid" ] || tfail "shard 0 restarted (pid $spid -> $(stat 0 pid))"
info "shard 0 (pid $spid): conns_active $active, VmRSS $rss0 KiB before, $rss1 KiB with the connections"
# Not active0 + CONNS: the idle client's HELLO resets what the echo client
# left on shard 0 (slots still owed a CLOSED), so only CONNS is certain.
[ -n "$active" ] && [ "$active" -ge $CONNS ] ||
	tfail "shard 0 counts $active active connections (before: $active0), want >= $CONNS"
# RSS is the shard's own memory (its table entry, buffers when data is in
# flight); the kernel's socket memory is not in it: show that apart.
info "dpu kernel sockets: $(D cat /proc/net/sockstat | grep '^TCP:')"
sb=$(((rss1 - rss0) * 1024 / CONNS))
echo "# shard memory per connection: $sb bytes (VmRSS $rss0 -> $rss1 KiB for $CONNS connections)"
# One slot of the connection table and the epoll entry's share (93 B when
# measured, docs/design.md); buffers exist only while bytes wait.  1 KiB is
# ten times that: a buffer or a page per idle connection would exceed it.
[ "$sb" -lt 1024 ] || tfail "shard memory per idle connection $sb B (want < 1024)"

# Bounded: the client's own -T (120 s) ends it.
wait "$ipid"
rc=$?
cat "$WORK/idle.out"
[ $rc = 0 ] || tfail "idle: $CONNS connections on one queue (exit $rc)"
stats_settle
info "shard 0 after the idle run: conns_active $(stat 0 conns_active)" \
	"conns_closed $(stat 0 conns_closed) session_resets $(stat 0 session_resets)"

echo "PASS"
exit 0
