#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xts-run with real peers from Debian, unmodified (issue 12):
# 1. iperf3: the client under xts-run to a kernel server in xts-net, both
#    directions (-R) and -P 4; the server under xts-run (the DPU listens)
#    and a client from xts-net; the receiver got what the sender wrote, but
#    for what was in flight when the test's clock stopped (iperf3 counts
#    so on kernel TCP too: the sender's socket buffer, the receiver's, the
#    shard's and libxport's; INFLIGHT below, from the namespaces' sysctls:
#    about 37 MiB a stream here, and 34 MiB were seen), and the shards
#    moved at least the bytes received;
# 2. sockperf ping-pong: client under xts-run, server kernel; and the
#    reverse; no error, the latency printed;
# 3. memcached -t 4 under xts-run, driven from xts-net by memcslap (set and
#    get load) and memccapable (the protocol conformance suite).
# The host also has a kernel route to xts-net, so every step proves the
# offload by the shards' counters.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 4
xtsd_start 4
RUN="$XTS_BIN/xts-run"

jbytes() { # FILE: bytes sent and received by the end that wrote FILE
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); e=j["end"]
print(e["sum_sent"]["bytes"], e["sum_received"]["bytes"])' "$1"
}

# the most a stream can have in flight when iperf3's clock stops: the
# largest send buffer and receive buffer TCP may grow to in either
# namespace, plus the shard's connection buffer and libxport's receive
# buffer (256 KiB each by default) with room to spare
tcpmax() { # SYSCTL: the largest third field of net.ipv4.SYSCTL in dpu and net
	local a b
	a=$(D sysctl -n "net.ipv4.$1" | awk '{ print $3 }')
	b=$(N sysctl -n "net.ipv4.$1" | awk '{ print $3 }')
	echo $((a > b ? a : b))
}
INFLIGHT=$(($(tcpmax tcp_wmem) + $(tcpmax tcp_rmem) + (2 << 20)))
agree() { # what sent received [streams]
	[ "$3" -gt 1000000 ] && [ "$3" -le "$2" ] && [ $(($2 - $3)) -le $((${4:-1} * INFLIGHT)) ] ||
		fail "$1: sent $2, received $3"
	info "$1: $(($2 - $3)) bytes in flight at the end (at most $((${4:-1} * INFLIGHT)))"
}

# ---- 1. iperf3 ----
bg net iperf3 -s -B 198.18.0.2 -p 5201
wait_port net 5201
iperf_client() { # label streams ARGS...
	local label=$1 streams=$2 before s r
	shift 2
	before=$(moved)
	H timeout 60 "$RUN" -- iperf3 -c 198.18.0.2 -p 5201 -t 2 -J "$@" >"$WORK/ip.json" 2>"$WORK/ip.err" ||
		fail "iperf3 $label under xts-run: $(tail -c 400 "$WORK/ip.json") $(cat "$WORK/ip.err")"
	read -r s r < <(jbytes "$WORK/ip.json")
	agree "iperf3 $label" "$s" "$r" "$streams"
	offloaded "iperf3 $label" "$before" "$r"
	echo "ok: iperf3 $label under xts-run: sent $s, received $r bytes, $(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e6))' "$WORK/ip.json") Mbit/s"
}
iperf_client "client" 1
iperf_client "client -R" 1 -R
iperf_client "client -P 4" 4 -P 4

H "$RUN" -- iperf3 -s -p 5202 -1 -J >"$WORK/ips.json" 2>"$WORK/ips.err" &
spid=$!
for ((i = 0; i < 100; i++)); do
	xtsctl listeners | grep -q ':5202 ' && break
	sleep 0.1
done
xtsctl listeners | grep -q ':5202 ' || fail "iperf3 -s under xts-run: no DPU listener on 5202"
before=$(moved)
N timeout 60 iperf3 -c 198.18.0.1 -p 5202 -t 2 -J >"$WORK/ipc.json" 2>&1 || fail "iperf3 to the server under xts-run: $(tail -c 400 "$WORK/ipc.json")"
wait $spid || fail "iperf3 -s under xts-run exited $?: $(cat "$WORK/ips.err")"
read -r cs cr < <(jbytes "$WORK/ipc.json")
read -r ss sr < <(jbytes "$WORK/ips.json")
agree "iperf3 server" "$cs" "$sr"
offloaded "iperf3 server" "$before" "$sr"
echo "ok: iperf3 -s under xts-run: the client sent $cs bytes, the server received $sr"

# ---- 2. sockperf ping-pong ----
bg net sockperf server --tcp -i 198.18.0.2 -p 11111
wait_port net 11111
before=$(opened)
H timeout 60 "$RUN" -- sockperf ping-pong --tcp -i 198.18.0.2 -p 11111 -t 3 >"$WORK/sp.out" 2>&1 ||
	fail "sockperf client under xts-run: $(tail -n 5 "$WORK/sp.out")"
lat=$(awk '/Summary: Latency is/ { print $5 }' "$WORK/sp.out")
[ -n "$lat" ] && ! grep -qi "error" "$WORK/sp.out" || fail "sockperf client: $(tail -n 8 "$WORK/sp.out")"
stats_settle
[ $(($(opened) - before)) -ge 1 ] || fail "sockperf client: no connection on the DPU"
echo "ok: sockperf ping-pong, client under xts-run: $lat usec average round trip"

H "$RUN" -- sockperf server --tcp -p 11112 >"$WORK/sps.out" 2>&1 &
BGPIDS+=($!)
for ((i = 0; i < 100; i++)); do
	xtsctl listeners | grep -q ':11112 ' && break
	sleep 0.1
done
xtsctl listeners | grep -q ':11112 ' || fail "sockperf server under xts-run: no DPU listener: $(cat "$WORK/sps.out")"
N timeout 60 sockperf ping-pong --tcp -i 198.18.0.1 -p 11112 -t 3 >"$WORK/spc.out" 2>&1 ||
	fail "sockperf to the server under xts-run: $(tail -n 5 "$WORK/spc.out")"
lat=$(awk '/Summary: Latency is/ { print $5 }' "$WORK/spc.out")
[ -n "$lat" ] || fail "sockperf to the server under xts-run: $(tail -n 8 "$WORK/spc.out")"
echo "ok: sockperf ping-pong, server under xts-run: $lat usec average round trip"

# ---- 3. memcached -t 4 ----
H "$RUN" -- memcached -u root -t 4 -p 11211 -U 0 -l 0.0.0.0 >"$WORK/mc.log" 2>&1 &
BGPIDS+=($!)
for ((i = 0; i < 100; i++)); do
	xtsctl listeners | grep -q ':11211 ' && break
	sleep 0.1
done
xtsctl listeners | grep -q ':11211 ' || fail "memcached under xts-run: no DPU listener: $(cat "$WORK/mc.log")"
before=$(moved)
for t in set get; do
	N timeout 120 memcslap --servers=198.18.0.1:11211 --concurrency=16 --execute-number=2000 \
		--test=$t >"$WORK/slap.out" 2>&1 || fail "memcslap --test=$t: $(tail -n 5 "$WORK/slap.out")"
	grep -q "Time to $t .* keys by .*16 threads" "$WORK/slap.out" && ! grep -qi "fail\|error" "$WORK/slap.out" ||
		fail "memcslap --test=$t: $(cat "$WORK/slap.out")"
	slap+="$(awk '/Time to (set|get) .* by/ { print $3, $4, "keys in", $(NF - 1), "s; " }' "$WORK/slap.out")"
done
N timeout 120 memccapable -h 198.18.0.1 -p 11211 -a >"$WORK/cap.out" 2>&1 ||
	fail "memccapable against memcached under xts-run: $(grep -v ' pass' "$WORK/cap.out" | tail -n 8)"
passed=$(grep -c "\[pass\]" "$WORK/cap.out")
[ "$passed" -gt 20 ] && ! grep -q "\[FAIL\]" "$WORK/cap.out" || fail "memccapable: $(grep -v pass "$WORK/cap.out")"
stats=$(N memcstat --servers=198.18.0.1:11211 | awk '$1 == "cmd_set:" || $1 == "cmd_get:" { printf "%s %s ", $1, $2 }')
offloaded "memcached" "$before" 100000
echo "ok: memcached -t 4 under xts-run: memcslap 16 threads: $slap memccapable $passed tests pass; $stats"
echo "PASS: xts_run_peers"
