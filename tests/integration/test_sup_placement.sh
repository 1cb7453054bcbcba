#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Placement: a shard listed with cpus and a node runs pinned to those CPUs
# (its affinity mask, read from /proc) and status reports its CPU and NUMA
# node; a shard not listed runs unpinned.  On a machine with one node,
# node "auto" and node 0 must both resolve to 0 (libnuma's view); the
# placement code itself is written for many nodes.
. "$(dirname "$0")/lib.sh"
need_root
ncpu=$(nproc)
last=$((ncpu - 1))

topo_up 2
xtsd_start 2 "shards = ( { queue = 0; cpus = [ $last ]; node = \"auto\"; }, { queue = 1; cpus = [ 0 ]; node = 0; } );"
stats_settle

aff() { awk '/^Cpus_allowed_list/ { print $2 }' "/proc/$(stat "$1" pid)/status"; }
[ "$(aff 0)" = "$last" ] || fail "shard 0 allowed on '$(aff 0)', want $last"
[ "$(aff 1)" = 0 ] || fail "shard 1 allowed on '$(aff 1)', want 0"
xtsctl status --json >"$WORK/st.json"
[ "$(jget 'j["shards"][0]["cpu"]' <"$WORK/st.json")" = "$last" ] || fail "status cpu: $(cat "$WORK/st.json")"
[ "$(jget 'j["shards"][0]["node"]' <"$WORK/st.json")" = 0 ] || fail "status node: $(cat "$WORK/st.json")"
[ "$(jget 'j["shards"][1]["node"]' <"$WORK/st.json")" = 0 ] || fail "status node: $(cat "$WORK/st.json")"
echo "ok: shard 0 pinned to CPU $last (node auto -> 0), shard 1 to CPU 0 (node 0)"
# and it still carries traffic
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7
for q in 0 1; do
	out=$(echo "q$q" | H "$XTS_BIN/xts-cat" -q $q 198.18.0.2 7) && [ "$out" = "q$q" ] || fail "echo on queue $q"
done
echo "PASS: sup_placement"
