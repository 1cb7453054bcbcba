#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# reload: a limit lowered while transfers are in flight takes effect for
# new connects (ENOBUFS past it) and the established transfers complete
# byte-exact; a file that fails validation changes nothing (exit 1, the
# reason with file:line); xts.conf replaced by a directory, a FIFO or a
# symlink to /dev/zero is refused and xtsd keeps running (libconfig's
# scanner would exit() or block); a TLS certificate and key replaced
# under the same path are reported by content (their SHA-256 as loaded),
# and a reload after that reports nothing.
. "$(dirname "$0")/lib.sh"
need_root
. "$(dirname "$0")/tls_lib.sh"
tls_pki

topo_up 2
xtsd_start 2 "limits = { max_conns = 100; };
tls = ( { name = \"web\"; cert = \"$PKI/dpu.pem\"; key = \"$PKI/dpu.key\";
          sni = ( { name = \"net.xts.test\"; cert = \"$PKI/net.pem\"; key = \"$PKI/net.key\"; } ); } );"
bg net socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE
wait_port net 7

# 8 connections on queue 0, 1 MiB each, paced to take at least 12 s: the
# reload below takes well under a second alone, and a loaded machine
# gets several times that as headroom
t0=$(date +%s%N)
H "$XTS_BIN/xts-hold" -q 0 -n 8 -s 1048576 -c 2048 -p 24 -T 90 198.18.0.2 7 >"$WORK/hold.out" 2>&1 &
hold=$!
for ((i = 0; i < 100; i++)); do grep -q " up" "$WORK/hold.out" && break; sleep 0.1; done
grep -q "8 up" "$WORK/hold.out" || fail "hold: $(cat "$WORK/hold.out")"

sed -i 's/max_conns = 100;/max_conns = 3;/' "$WORK/xts.conf"
xtsctl reload >"$WORK/reload.out" 2>&1 || fail "reload: $(cat "$WORK/reload.out")"
grep -q "^configuration generation 2 in force" "$WORK/reload.out" &&
	grep -Eq "^limits.max_conns +[0-9]+ +3 +all shards$" "$WORK/reload.out" || fail "reload: $(cat "$WORK/reload.out")"
for ((i = 0; i < 50; i++)); do
	xtsctl status --json >"$WORK/st.json"
	[ "$(grep -o '"cfg_gen": 2' "$WORK/st.json" | wc -l)" = 2 ] && break
	sleep 0.05
done
[ "$(jget 'j["shards"][0]["max_conns"]' <"$WORK/st.json")" = 3 ] || fail "limit not in force: $(cat "$WORK/st.json")"
kill -0 $hold 2>/dev/null || fail "the transfer was over before the reload: make it longer"
echo "ok: reload to generation 2 (max_conns 3) while 8 connections transfer" \
	"($(( ($(date +%s%N) - t0) / 1000000 )) ms after they started)"

# the new limit: queue 1 takes 3 of 5
H "$XTS_BIN/xts-hold" -q 1 -n 5 -s 4096 -T 20 198.18.0.2 7 >"$WORK/lim.out" 2>&1
grep -q "ok 3 failed 2 ENOBUFS=2" "$WORK/lim.out" || fail "limit: $(cat "$WORK/lim.out")"
echo "ok: queue 1 after the reload: $(tail -n1 "$WORK/lim.out")"

wait $hold || fail "transfer across the reload: $(cat "$WORK/hold.out")"
grep -q "ok 8 failed 0" "$WORK/hold.out" || fail "hold: $(cat "$WORK/hold.out")"
echo "ok: in flight across the reload: $(tail -n1 "$WORK/hold.out")"

# a bad file: refused, generation 2 stays
cp "$WORK/xts.conf" "$WORK/good.conf"
sed -i 's/max_conns = 3;/max_conns = 3; conn_buf = 1;/' "$WORK/xts.conf"
xtsctl reload >"$WORK/bad.out" 2>&1 && fail "bad reload exited 0"
grep -Eq "^xtsctl: reload: $WORK/xts.conf:[0-9]+: limits.conn_buf: 1 out of range" "$WORK/bad.out" ||
	fail "bad reload: $(cat "$WORK/bad.out")"
[ "$(xtsctl status --json | jget 'j["xtsds"][0]["generation"]')" = 2 ] || fail "generation changed"
echo "ok: bad file refused: $(cat "$WORK/bad.out")"
cp "$WORK/good.conf" "$WORK/xts.conf"
echo "queue = { window = 64; };" >>"$WORK/xts.conf"
xtsctl reload >"$WORK/bad.out" 2>&1 && fail "restart-only change accepted"
grep -q "queue.window: changed; that needs a restart" "$WORK/bad.out" || fail "$(cat "$WORK/bad.out")"
echo "ok: restart-only option refused: $(cat "$WORK/bad.out")"
cp "$WORK/good.conf" "$WORK/xts.conf"
sed -i 's/max_conns = 3;/max_conns = 3; listeners = 65;/' "$WORK/xts.conf"
xtsctl reload >"$WORK/bad.out" 2>&1 && fail "limits.listeners above the start value accepted"
grep -q "limits.listeners: 65 is above 64, the value xtsd started with" "$WORK/bad.out" ||
	fail "$(cat "$WORK/bad.out")"
echo "ok: $(cat "$WORK/bad.out")"

# not a regular file: refused by name, xtsd stays, generation 2 stays
not_regular() { # what
	timeout 10 "$XTS_BIN/xtsctl" -s "$WORK/run/ctl.sock" reload >"$WORK/bad.out" 2>&1
	rc=$?
	[ $rc = 1 ] || fail "reload with $1: exit $rc, want 1: $(cat "$WORK/bad.out")"
	grep -q "^xtsctl: reload: $WORK/xts.conf: not a regular file$" "$WORK/bad.out" ||
		fail "reload with $1: $(cat "$WORK/bad.out")"
	kill -0 "$XTSD_PID" 2>/dev/null || fail "xtsd died on a reload with $1"
	[ "$(xtsctl status --json | jget 'j["xtsds"][0]["generation"]')" = 2 ] ||
		fail "generation changed"
	echo "ok: $1 as xts.conf: $(cat "$WORK/bad.out"); xtsd runs on"
	rm -rf "$WORK/xts.conf"
}
rm "$WORK/xts.conf"
mkdir "$WORK/xts.conf"
not_regular "a directory"
mkfifo "$WORK/xts.conf"
not_regular "a FIFO"
ln -s /dev/zero "$WORK/xts.conf"
not_regular "a symlink to /dev/zero"
cp "$WORK/good.conf" "$WORK/xts.conf"
xtsctl reload >"$WORK/reload.out" 2>&1 || fail "reload of the good file: $(cat "$WORK/reload.out")"
grep -q "^configuration generation 3 in force" "$WORK/reload.out" || fail "reload: $(cat "$WORK/reload.out")"
echo "ok: the good file back: $(cat "$WORK/reload.out")"

# new certificates and keys under the same paths: the files' content is
# the change (the shards build the profile again from the files)
sum() { sha256sum "$PKI/$1" | cut -c1-12; }
old="$(sum dpu.pem) $(sum dpu.key) $(sum net.pem)"
tls_mk_leaf dpu "DNS:dpu.xts.test,IP:198.18.0.1" ca >/dev/null 2>&1 || fail "openssl: dpu again"
tls_mk_leaf net "DNS:net.xts.test,IP:198.18.0.2" ca >/dev/null 2>&1 || fail "openssl: net again"
read -r oc ok on <<<"$old"
xtsctl reload >"$WORK/reload.out" 2>&1 || fail "reload with new certificates: $(cat "$WORK/reload.out")"
for want in "tls.web.cert +sha256:$oc +sha256:$(sum dpu.pem)" "tls.web.key +sha256:$ok +sha256:$(sum dpu.key)" \
	"tls.web.sni\[net.xts.test\].cert +sha256:$on +sha256:$(sum net.pem)"; do
	grep -Eq "^$want +all shards$" "$WORK/reload.out" || fail "no '$want' in: $(cat "$WORK/reload.out")"
done
grep -q "^configuration generation 4 in force .*: 4 changes$" "$WORK/reload.out" ||
	fail "want 4 changes (the SNI key too): $(cat "$WORK/reload.out")"
xtsctl reload >"$WORK/reload.out" 2>&1 || fail "reload: $(cat "$WORK/reload.out")"
grep -q ": no option changed$" "$WORK/reload.out" || fail "a reload of the same files: $(cat "$WORK/reload.out")"
echo "ok: certificates and keys replaced under their paths: reported by content (4 files), then nothing"
echo "PASS: sup_reload"
