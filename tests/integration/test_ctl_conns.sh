#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# `xtsctl conns` past one snapshot page (issue 15): 5,000 idle connections
# on shard 0 (xts-conns idle against redis-server, as test_conns.sh does)
# are all listed, each once, in pages of at most 1,024 (XTS_SHM_CONNS_MAX)
# as --json and as the text table, and a filter on them (--state,
# --port, --shard) keeps them all.  xtsd's memory while it answers is
# printed: a page at a time, it does not grow with the table.
. "$(dirname "$0")/lib.sh"
need_root

CONNS=5000
for t in redis-server; do command -v $t >/dev/null || fail "$t is needed"; done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((CONNS + 1024)) ] || fail "open files limit $(ulimit -n) too low for $CONNS connections"

topo_up 2
xtsd_start 2 "limits = { max_conns = 8000; };"
bg net redis-server --port 6379 --bind 198.18.0.2 --save '' --appendonly no \
	--maxclients 20000 --protected-mode no --daemonize no --tcp-backlog 2048 \
	--logfile "$WORK/redis.log"
wait_port net 6379

H "$XTS_BIN/xts-conns" idle -q 0 -n $CONNS -H 20 198.18.0.2 6379 >"$WORK/idle.out" 2>&1 &
ipid=$!
BGPIDS+=("$ipid")
for ((i = 0; i < 600; i++)); do
	grep -q 'connections up' "$WORK/idle.out" && break
	kill -0 "$ipid" 2>/dev/null || break
	sleep 0.1
done
grep -q 'connections up' "$WORK/idle.out" || fail "the $CONNS idle connections did not come up: $(cat "$WORK/idle.out")"

hwm() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$XTSD_PID/status"; }
h0=$(hwm)
clock_us t0
xtsctl conns --shard 0 --json >"$WORK/conns.json" || fail "conns --json"
clock_us t1
xtsctl conns --shard 0 --state open --port 6379 >"$WORK/conns.txt" || fail "conns"
h1=$(hwm)
python3 - "$WORK/conns.json" $CONNS <<'PY' || fail "conns --json: see above"
import json, sys
j = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
conns, sh = j["conns"], j["shards"]
ids = set(c["id"] for c in conns)
print("# conns --shard 0: %d listed, %d distinct ids, shard says total %d listed %d"
      % (len(conns), len(ids), sh[0]["total"], sh[0]["listed"]))
ok = (len(sh) == 1 and sh[0]["id"] == 0 and len(conns) == len(ids) == sh[0]["listed"]
      and len(conns) >= n and sh[0]["total"] == len(conns)
      and sum(1 for c in conns if c["peer"] == "198.18.0.2:6379" and c["state"] == "open") == n)
sys.exit(0 if ok else 1)
PY
rows=$(grep -c ' open .*198\.18\.0\.2:6379 ' "$WORK/conns.txt")
[ "$rows" = $CONNS ] || fail "conns text: $rows rows of open connections to :6379, want $CONNS"
grep -q "^shard 0 (running): [0-9]* connections, $CONNS shown$" "$WORK/conns.txt" ||
	fail "conns text footer: $(tail -2 "$WORK/conns.txt")"
# the header once: the pages continue one table
[ "$(grep -c '^SHARD ' "$WORK/conns.txt")" = 1 ] || fail "conns text: header repeated"
info "conns --shard 0 --json: $(((t1 - t0) / 1000)) ms for $CONNS connections; xtsd VmHWM $h0 -> $h1 KiB"
echo "ok: conns lists all $CONNS connections of shard 0 (pages of 1,024), text and JSON"
kill "$ipid" 2>/dev/null
echo "PASS: ctl_conns"
