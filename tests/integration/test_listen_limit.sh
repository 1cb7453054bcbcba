#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# limits.listeners is enforced per queue by its shard: past it, listen()
# fails with ENOBUFS (as a full registry does) and the refusal is counted
# (listens_refused_limit).  Reload applies it: a lower limit refuses new
# listeners and leaves the ones already listening alone.  Two queues, so
# that the registry (sized for both) has room the limit must refuse.
. "$(dirname "$0")/lib.sh"
need_root

topo_up 2
xtsd_start 2 "limits = { listeners = 3; };"
bg host "$XTS_BIN/xts-stream" listen -q 0 -n 4 -w "$WORK/go" -T 30 9300 >"$WORK/lsn.out" 2>&1
for ((i = 0; i < 100; i++)); do [ "$(wc -l <"$WORK/lsn.out")" -ge 4 ] && break; sleep 0.1; done
cat "$WORK/lsn.out"
for p in 9300 9301 9302; do
	grep -qx "listen $p: ok" "$WORK/lsn.out" || fail "listen $p under the limit: $(cat "$WORK/lsn.out")"
done
grep -qx "listen 9303: ENOBUFS" "$WORK/lsn.out" || fail "a 4th listener with listeners = 3 was not refused"
[ "$(D ss -Hltn 'sport >= :9300 and sport <= :9303' | wc -l)" = 3 ] || fail "not 3 listening sockets"
stats_settle
[ "$(xtsctl stats --json | jget "j['shards'][0]['listens_refused_limit']")" = 1 ] ||
	fail "refusal not counted"
echo "ok: listeners = 3: the 4th listen gets ENOBUFS, counted"

sed -i 's/listeners = 3;/listeners = 2;/' "$WORK/xts.conf"
xtsctl reload >/dev/null || fail "reload"
sleep 0.3
touch "$WORK/go"
for ((i = 0; i < 100; i++)); do [ "$(wc -l <"$WORK/lsn.out")" -ge 5 ] && break; sleep 0.1; done
grep -qx "listen 9304: ENOBUFS" "$WORK/lsn.out" || fail "after reload to 2: $(tail -1 "$WORK/lsn.out")"
[ "$(D ss -Hltn 'sport >= :9300 and sport <= :9304' | wc -l)" = 3 ] ||
	fail "the listeners already open did not stay"
echo "ok: reload to listeners = 2: existing listeners stay, a new one gets ENOBUFS"
echo "PASS: listen_limit"
