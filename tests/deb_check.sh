#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# deb_check.sh DEBDIR - the programs of the built packages run the demo's
# transfer: the four packages are unpacked (dpkg -x: nothing is installed
# on this machine, no maintainer script runs) into a scratch root, and
# from there xts-net builds a topology (own prefix, 2 queues), xtsd runs
# the packaged /etc/xts/xts.conf (run_dir moved to the scratch folder),
# xportd the packaged xportd.conf, and xts-cat leases a queue from it and
# sends 4 MiB to a socat echo through XTS: every byte must come back; then
# xts-run runs an unmodified socat through XTS the same way.
# Needs root (namespaces, XDP).  tools/build-deb runs it after the build.
set -euo pipefail
DEBS=$(realpath "$1")
fail() { echo "FAIL: deb_check: $*" >&2; [ -f "$R/xtsd.log" ] && tail -5 "$R/xtsd.log" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "deb_check: needs root"; exit 77; }
R=$(mktemp -d /tmp/xts-debroot.XXXXXX)
PFX=xd$$-
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for n in host dpu net; do ip netns pids "${PFX}$n" 2>/dev/null; done | xargs -r kill -9 2>/dev/null
	"$R/usr/sbin/xts-net" down --prefix "$PFX" >/dev/null 2>&1 || true
	rm -rf "$R"
}
trap cleanup EXIT
for p in xts-dpu xts-host libxport0 libxport-dev; do
	dpkg -x "$(ls "$DEBS"/${p}_*.deb)" "$R"
done
B=$R/usr/sbin
"$B/xtsd" -t -c "$R/etc/xts/xts.conf" >/dev/null || fail "packaged xts.conf does not check"
"$B/xportd" -t -c "$R/etc/xts/xportd.conf" >/dev/null || fail "packaged xportd.conf does not check"
"$R/usr/bin/xts-cat" --version >/dev/null || fail "xts-cat --version"

"$B/xts-net" up --queues 2 --prefix "$PFX" >"$R/net.log" 2>&1 || { cat "$R/net.log"; fail "xts-net up"; }
sed "s|^run_dir = .*|run_dir = \"$R/run\";|; s|^queues = .*|queues = 2;|" "$R/etc/xts/xts.conf" >"$R/xts.conf"
ip netns exec "${PFX}dpu" "$B/xtsd" -c "$R/xts.conf" >"$R/xtsd.log" 2>&1 &
PIDS+=($!)
sed "s|^run_dir = .*|run_dir = \"$R/hrun\";|; s|^queues = .*|queues = 2;|" \
	"$R/etc/xts/xportd.conf" >"$R/xportd.conf"
ip netns exec "${PFX}host" "$B/xportd" -c "$R/xportd.conf" >"$R/xportd.log" 2>&1 &
PIDS+=($!)
ip netns exec "${PFX}net" socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE &
PIDS+=($!)
export XPORTD_SOCKET=$R/hrun/xportd.sock
for ((i = 0; i < 100; i++)); do
	[ "$("$B/xtsctl" -s "$R/run/ctl.sock" status 2>/dev/null | grep -c ' running ')" = 2 ] &&
		"$B/xportd" -s "$XPORTD_SOCKET" status >/dev/null 2>&1 &&
		ip netns exec "${PFX}net" ss -Hltn 'sport = :7' | grep -q . && break
	sleep 0.1
done
[ "$i" -lt 100 ] || fail "packaged xtsd/xportd/socat not up in 10 s: $(cat "$R/xportd.log")"
head -c 4M /dev/urandom >"$R/data"
want=$(sha256sum <"$R/data" | cut -d' ' -f1)
got=$(timeout 60 ip netns exec "${PFX}host" "$R/usr/bin/xts-cat" -w 10 198.18.0.2 7 <"$R/data" |
	sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "4 MiB through XTS came back as $got, sent $want"
# the shards' own count (--shard: one shard's "key value" lines; they
# publish 20 times a second: 1 s at most)
for ((i = 0; i < 10; i++)); do
	st=0
	for q in 0 1; do
		n=$("$B/xtsctl" -s "$R/run/ctl.sock" stats --shard $q | awk '$1 == "data_to_net" { print $2 }')
		st=$((st + n))
	done
	[ "$st" = 4194304 ] && break
	sleep 0.1
done
[ "$st" = 4194304 ] || fail "the shards counted $st bytes to the net, 4194304 sent"
echo "ok: packaged xtsd, xportd and xts-cat: 4 MiB echoed byte-exact through XTS (shards: $st bytes to the net)"

# xts-run from the package finds its libxts-preload.so (beside it, under
# the package's library folder) and an unmodified socat goes through XTS
out=$(echo hello-xts-run | timeout 30 ip netns exec "${PFX}host" "$R/usr/bin/xts-run" -- \
	socat -t 2 - TCP:198.18.0.2:7) || fail "xts-run socat: $out"
[ "$out" = hello-xts-run ] || fail "xts-run socat echoed '$out'"
for ((i = 0; i < 10; i++)); do
	n=0
	for q in 0 1; do
		v=$("$B/xtsctl" -s "$R/run/ctl.sock" stats --shard $q | awk '$1 == "data_to_net" { print $2 }')
		n=$((n + v))
	done
	[ "$n" = $((st + 14)) ] && break
	sleep 0.1
done
[ "$n" = $((st + 14)) ] || fail "xts-run's 14 bytes did not go through the shards ($st, then $n)"
echo "ok: packaged xts-run: an unmodified socat echoed through XTS (14 bytes counted by the shards)"
