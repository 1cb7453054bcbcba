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
# Then the packages are installed for real (dpkg -i, maintainer scripts
# and all): the units must be where systemd looks for them, and the
# installed xtsd and xportd, run as the units would (no -c: the packaged
# /etc/xts configurations as they are, run_dir /run/xts), carry the demo's
# transfer for the installed xts-cat, counted by the installed xtsctl on
# its default socket.  At the end the packages are purged.  The whole
# check runs in a mount namespace of its own: where /etc/xts or /run/xts
# exist already (a dev machine with XTS set up, an xtsd running), an empty
# tmpfs covers them for this check only, so the packages' conffiles and
# run_dir never meet the machine's own, and purging cannot remove them.
# Packages already installed, or programs not from a package where ours
# go, are not touched: the check fails and says why.
# Needs root (namespaces, XDP).  tools/build-deb runs it after the build.
set -euo pipefail
DEBS=$(realpath "$1")
[ "$(id -u)" = 0 ] || { echo "deb_check: needs root"; exit 77; }
# a private mount namespace (see above); `ip netns exec` inherits it
[ -n "${XTS_DEB_CHECK_NS:-}" ] ||
	XTS_DEB_CHECK_NS=1 exec unshare --mount --propagation private -- bash "$0" "$DEBS"
fail() { echo "FAIL: deb_check: $*" >&2; [ -f "$R/xtsd.log" ] && tail -5 "$R/xtsd.log" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "deb_check: needs root"; exit 77; }
R=$(mktemp -d /tmp/xts-debroot.XXXXXX)
PFX=xd$$-
PIDS=()
cleanup() {
	set +e # a trap: every step runs, whatever the one before returned
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

# --- installed: dpkg -i, the units, the default configuration -------------
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
PIDS=()
sleep 0.5
PKGS=(xts-dpu xts-host libxport0 libxport-dev)
# one installing check at a time on a shared machine
mkdir -p /run/lock
exec 9>/run/lock/xts-deb-check.lock
flock -w 600 9 || fail "another deb_check holds /run/lock/xts-deb-check.lock"
for p in "${PKGS[@]}"; do
	! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		fail "$p is installed on this machine already: not touching it (dpkg --purge ${PKGS[*]} first)"
done
for f in /usr/sbin/xtsd /usr/sbin/xtsctl /usr/sbin/xportd /usr/sbin/xts-net /usr/bin/xts-cat \
	/usr/bin/xts-run /usr/include/xts/xport.h; do
	[ ! -e "$f" ] || fail "$f exists and is not from our packages: not touching it"
done
# this machine's own configuration and run_dir stay as they are, unseen
for d in /etc/xts /run/xts; do
	if [ -e "$d" ]; then
		mount -t tmpfs -o mode=0755 xts-deb-check "$d" || fail "mount a tmpfs over $d"
		echo "# $d exists here: covered by an empty tmpfs in this check's mount namespace"
	fi
done
INSTALLED=1
uninstall() {
	local p
	set +e
	[ "${INSTALLED:-0}" = 1 ] || return 0
	for p in "${IPIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.5
	for p in "${IPIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	dpkg --purge "${PKGS[@]}" >"$R/purge.log" 2>&1 || { cat "$R/purge.log"; echo "deb_check: purge failed" >&2; }
	# ours: what we created, or the tmpfs over the machine's own
	rm -rf /run/xts/* 2>/dev/null
	rmdir /run/xts 2>/dev/null || true
	INSTALLED=0
}
IPIDS=()
trap 'uninstall; cleanup' EXIT
debs=()
for p in "${PKGS[@]}"; do debs+=("$(ls "$DEBS"/${p}_*.deb)"); done
dpkg -i "${debs[@]}" >"$R/install.log" 2>&1 || { cat "$R/install.log"; fail "dpkg -i"; }
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" | grep -q "install ok installed" || fail "$p: $(dpkg-query -W -f='${Status}' "$p")"
done
# the units: in one of the folders systemd loads system units from
units=$(systemd-analyze --system unit-paths)
for u in xtsd.service xportd.service; do
	f=$(dpkg -L xts-dpu xts-host | grep "/$u\$") || fail "$u: in no package's file list"
	grep -qx "$(dirname "$f")" <<<"$units" || fail "$u installed as $f: not a folder systemd loads units from ($(echo $units))"
	systemd-analyze verify "$f" >"$R/verify.log" 2>&1 || { cat "$R/verify.log"; fail "systemd-analyze verify $f"; }
	udir=$(dirname "$f")
done
for f in /usr/sbin/xtsd /usr/sbin/xtsctl /usr/sbin/xportd /usr/bin/xts-cat /usr/bin/xts-run \
	/etc/xts/xts.conf /etc/xts/xportd.conf /usr/include/xts/xport.h; do
	[ -e "$f" ] || fail "$f not installed"
done
echo "ok: dpkg -i ${PKGS[*]}: units in $udir, found where systemd looks; programs and /etc/xts in place"

# the default configurations as installed: 8 queues on xd0 (DPU) and xh0
# (host), run_dir /run/xts; the units run exactly these commands
/usr/sbin/xts-net down --prefix "$PFX" >/dev/null 2>&1
/usr/sbin/xts-net up --queues 8 --prefix "$PFX" >"$R/net8.log" 2>&1 || { cat "$R/net8.log"; fail "xts-net up (8 queues)"; }
# what the units' RuntimeDirectory=xts gives them
mkdir -p /run/xts
unset XPORTD_SOCKET # the default, /run/xts/xportd.sock, from here on
ExecStart() { sed -n 's/^ExecStart=//p' "$(dpkg -L "$1" | grep "/$2\$")"; }
xs=$(ExecStart xts-dpu xtsd.service)
ps_=$(ExecStart xts-host xportd.service)
ip netns exec "${PFX}dpu" $xs >"$R/xtsd-i.log" 2>&1 &
IPIDS+=($!)
ip netns exec "${PFX}host" $ps_ >"$R/xportd-i.log" 2>&1 &
IPIDS+=($!)
ip netns exec "${PFX}net" socat -b 4096 TCP4-LISTEN:7,bind=198.18.0.2,fork,reuseaddr PIPE &
IPIDS+=($!)
for ((i = 0; i < 200; i++)); do
	[ "$(/usr/sbin/xtsctl status 2>/dev/null | grep -c ' running ')" = 8 ] &&
		/usr/sbin/xportd status >/dev/null 2>&1 &&
		ip netns exec "${PFX}net" ss -Hltn 'sport = :7' | grep -q . && break
	sleep 0.1
done
[ "$i" -lt 200 ] || fail "installed xtsd ($xs) / xportd ($ps_) not up in 20 s: $(tail -n 5 "$R/xtsd-i.log" "$R/xportd-i.log"; /usr/sbin/xtsctl status 2>&1)"
got=$(timeout 60 ip netns exec "${PFX}host" /usr/bin/xts-cat -w 10 198.18.0.2 7 <"$R/data" |
	sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "installed: 4 MiB through XTS came back as $got, sent $want"
for ((i = 0; i < 10; i++)); do
	n=$(/usr/sbin/xtsctl stats --shard total | awk '$1 == "data_to_net" { print $2 }')
	[ "$n" = 4194304 ] && break
	sleep 0.1
done
[ "$n" = 4194304 ] || fail "installed: the shards counted $n bytes to the net, 4194304 sent"
# their logs, as the journal would get them: one stamped line a write
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z (xtsd|xportd)\[[0-9]+\]: (error|warning|info|debug): '
for l in xtsd-i xportd-i; do
	[ -s "$R/$l.log" ] && ! grep -Evq "$TS" "$R/$l.log" || fail "$l.log: lines without a timestamp: $(grep -Ev "$TS" "$R/$l.log" | head -3)"
done
echo "ok: installed xtsd ($xs) and xportd ($ps_) with the packaged configurations: 4 MiB echoed byte-exact by the installed xts-cat, $n bytes counted by the installed xtsctl"
uninstall
for p in "${PKGS[@]}"; do
	! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || fail "$p still installed after the purge"
done
[ -z "$(ls -A /etc/xts 2>/dev/null)" ] && [ ! -e /usr/sbin/xtsd ] ||
	fail "the purge left /etc/xts/* or /usr/sbin/xtsd behind"
echo "ok: dpkg --purge ${PKGS[*]}: nothing left"
