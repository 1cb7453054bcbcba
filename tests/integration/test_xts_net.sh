#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# test_xts_net.sh - tools/xts-net builds the topology the design describes,
# rebuilds it idempotently, removes exactly what it made; and the XTS XDP
# program (through xts-xdp-check, i.e. bpf/loader.c) attaches on both ends
# of the queue link, passes ordinary traffic and drops XTS frames that have
# no AF_XDP socket, counting both.
#
# Needs root; exits 77 (skip) otherwise, or 1 when XTS_REQUIRE_ROOT=1.
# Uses ping-like probes written in python3 (raw ICMP sockets) so that the
# test does not depend on iputils being installed.

set -u

if [ "$(id -u)" != 0 ]; then
	if [ "${XTS_REQUIRE_ROOT:-}" = 1 ]; then
		echo "FAIL: needs root (XTS_REQUIRE_ROOT=1)"
		exit 1
	fi
	echo "SKIP: needs root"
	exit 77
fi

XTS_SRC=${XTS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
NET=$XTS_SRC/tools/xts-net
CHECK=${XTS_BIN:-$XTS_SRC/build/bin}/xts-xdp-check
P=xtstn-$$-
H=${P}host
D=${P}dpu
N=${P}net

fail() {
	echo "FAIL: $*"
	exit 1
}

ok() {
	echo "ok: $*"
}

# shellcheck disable=SC2317 # called through the trap
cleanup() {
	"$NET" down --prefix "$P" >/dev/null 2>&1
}
trap cleanup EXIT

[ -x "$NET" ] || fail "$NET missing or not executable"
[ -x "$CHECK" ] || fail "$CHECK not built (set XTS_BIN)"
command -v python3 >/dev/null || fail "python3 needed for the probes"

ns_exists() {
	ip netns list | awk '{ print $1 }' | grep -qxF "$1"
}

# queues NS IF rx|tx: number of queues of IF as the namespace sees it.
queues() {
	ip netns exec "$1" sh -c "ls -d /sys/class/net/$2/queues/$3-*" |
		wc -l
}

check_queues() {
	local want=$1 dir

	for dir in rx tx; do
		[ "$(queues "$H" xh0 $dir)" = "$want" ] ||
			fail "xh0 has $(queues "$H" xh0 $dir) $dir queues, want $want"
		[ "$(queues "$D" xd0 $dir)" = "$want" ] ||
			fail "xd0 has $(queues "$D" xd0 $dir) $dir queues, want $want"
	done
	ok "xh0 and xd0 have $want rx and tx queues"
}

# probe NS DST COUNT: ICMP (v4 or v6) echo, every request must be answered.
probe() {
	ip netns exec "$1" python3 - "$2" "$3" <<'EOF'
import os, select, socket, struct, sys, time

dst, count = sys.argv[1], int(sys.argv[2])
v6 = ':' in dst
if v6:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    req, rep = 128, 129
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    req, rep = 8, 0
ident = os.getpid() & 0xffff

def csum(b):
    if len(b) % 2:
        b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff)
    t += t >> 16
    return ~t & 0xffff

got = 0
for seq in range(count):
    payload = b'xts-net-test' * 4
    hdr = struct.pack('!BBHHH', req, 0, 0, ident, seq)
    # The kernel computes the ICMPv6 checksum of raw sockets itself.
    c = 0 if v6 else csum(hdr + payload)
    s.sendto(struct.pack('!BBHHH', req, 0, c, ident, seq) + payload, (dst, 0))
    deadline = time.monotonic() + 2
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            break
        pkt = s.recv(65535)
        if not v6:
            pkt = pkt[(pkt[0] & 0x0f) * 4:]
        if len(pkt) >= 8:
            t, _, _, i, q = struct.unpack('!BBHHH', pkt[:8])
            if t == rep and i == ident and q == seq:
                got += 1
                break
print('%d/%d replies from %s' % (got, count, dst))
sys.exit(0 if got == count else 1)
EOF
}

# send_xts NS IF DSTMAC COUNT: raw frames with the XTS EtherType.
send_xts() {
	ip netns exec "$1" python3 - "$2" "$3" "$4" <<'EOF'
import socket, sys

ifname, dmac, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
src = s.getsockname()[4]
frame = bytes.fromhex(dmac.replace(':', '')) + src + b'\x88\xb5' + bytes(46)
for _ in range(n):
    s.send(frame)
EOF
}

# stat NS IF FIELD: a counter of the "total" line of xts-xdp-check --find.
stat() {
	ip netns exec "$1" "$CHECK" --find "$2" |
		awk -v f="$3" '$1 == "total" { for (i = 2; i < NF; i += 2) if ($i == f) print $(i + 1) }'
}

# wait_stat NS IF FIELD MIN: the counter reaches MIN within two seconds (the
# peer's NAPI runs the program after the sender returns).
wait_stat() {
	local v

	for _ in $(seq 20); do
		v=$(stat "$1" "$2" "$3")
		[ -n "$v" ] && [ "$v" -ge "$4" ] && return 0
		sleep 0.1
	done
	echo "$2 $3 is ${v:-?}, want >= $4"
	return 1
}

xdp_id() {
	ip -n "$1" -d link show dev "$2" | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p'
}

# --- topology -------------------------------------------------------------

"$NET" up --prefix "$P" || fail "xts-net up"
ok "up"
"$NET" up --prefix "$P" || fail "xts-net up, second time"
ok "up again (idempotent)"
for ns in "$H" "$D" "$N"; do
	ns_exists "$ns" || fail "namespace $ns missing"
done
check_queues 8
"$NET" status --prefix "$P" | grep -q 'xd0 .* rx 8 ' || fail "status: xd0 rx 8"
ok "status shows queue counts"

probe "$H" 198.18.0.2 3 || fail "host -> net over xk0/xk1 (via the dpu)"
ok "host -> net 198.18.0.2 over the xk path"
ip -n "$H" route get 198.18.0.2 | grep -q 'dev xk0' ||
	fail "host's route to 198.18.0.2 is not via xk0"
probe "$H" 198.18.1.254 3 || fail "host -> dpu over xh0"
ok "host -> dpu 198.18.1.254 over xh0"
probe "$D" fd00:78:74::2 3 || fail "dpu -> net over IPv6"
ok "dpu -> net fd00:78:74::2"

# --- XDP program ----------------------------------------------------------

# Two processes racing to attach (host side): both must end up with the
# program that is attached, whichever of them won.
tmp=$(mktemp -d)
ip netns exec "$H" "$CHECK" xh0 >"$tmp/a" 2>"$tmp/a.err" &
pa=$!
ip netns exec "$H" "$CHECK" xh0 >"$tmp/b" 2>"$tmp/b.err" &
pb=$!
wait $pa || { cat "$tmp/a.err"; rm -rf "$tmp"; fail "attach xh0 (racer a)"; }
wait $pb || { cat "$tmp/b.err"; rm -rf "$tmp"; fail "attach xh0 (racer b)"; }
ida=$(awk '$1 == "prog_id" { print $2 }' "$tmp/a")
idb=$(awk '$1 == "prog_id" { print $2 }' "$tmp/b")
rm -rf "$tmp"
hid=$(xdp_id "$H" xh0)
if [ -z "$hid" ] || [ "$ida" != "$hid" ] || [ "$idb" != "$hid" ]; then
	fail "racing attach on xh0: ids $ida / $idb, attached '$hid'"
fi
ok "racing attach on xh0 shares program $hid"

out=$(ip netns exec "$D" "$CHECK" xd0) || fail "attach xd0"
did=$(awk '$1 == "prog_id" { print $2 }' <<<"$out")
if [ -z "$did" ] || [ "$did" != "$(xdp_id "$D" xd0)" ]; then
	fail "xd0: attached '$(xdp_id "$D" xd0)', tool says '$did'"
fi
ok "attached on xd0 (program $did) with mtu $(ip netns exec "$D" cat /sys/class/net/xd0/mtu)"
out=$(ip netns exec "$D" "$CHECK" xd0) || fail "attach xd0 again"
[ "$(awk '$1 == "prog_id" { print $2 }' <<<"$out")" = "$did" ] ||
	fail "second attach on xd0 did not reuse program $did"
ok "second attach on xd0 reuses it"

dpass=$(stat "$D" xd0 passed)
hpass=$(stat "$H" xh0 passed)
probe "$H" 198.18.1.254 5 || fail "ping over xh0 with XDP on both ends"
wait_stat "$D" xd0 passed $((dpass + 5)) || fail "xd0 passed did not count"
wait_stat "$H" xh0 passed $((hpass + 5)) || fail "xh0 passed did not count"
ok "ping over xh0 passes XDP, counted on both ends"

nosock=$(stat "$D" xd0 no_socket)
xts=$(stat "$D" xd0 xts_frames)
dmac=$(ip netns exec "$D" cat /sys/class/net/xd0/address)
send_xts "$H" xh0 "$dmac" 5 || fail "send raw XTS frames"
wait_stat "$D" xd0 no_socket $((nosock + 5)) || fail "no_socket did not count"
sleep 0.2
[ "$(stat "$D" xd0 no_socket)" = $((nosock + 5)) ] ||
	fail "no_socket counted $(($(stat "$D" xd0 no_socket) - nosock)), want 5"
[ "$(stat "$D" xd0 xts_frames)" = "$xts" ] || fail "xts_frames moved"
ok "5 XTS frames without a socket dropped and counted as no_socket"

ip netns exec "$H" "$CHECK" --detach xh0 || fail "detach xh0"
ip netns exec "$D" "$CHECK" --detach xd0 || fail "detach xd0"
if [ -n "$(xdp_id "$H" xh0)" ] || [ -n "$(xdp_id "$D" xd0)" ]; then
	fail "a program is still attached after detach"
fi
ip netns exec "$D" "$CHECK" --find xd0 >/dev/null 2>&1 &&
	fail "--find succeeds with nothing attached"
ip netns exec "$D" "$CHECK" --detach xd0 || fail "detach with nothing attached"
probe "$H" 198.18.1.254 2 || fail "ping over xh0 after detach"
ok "detached from both ends"

# --- rebuild with other sizes, and removal ---------------------------------

"$NET" up --prefix "$P" --queues 2 || fail "xts-net up --queues 2"
check_queues 2

"$NET" down --prefix "$P" || fail "xts-net down"
for ns in "$H" "$D" "$N"; do
	ns_exists "$ns" && fail "namespace $ns left after down"
done
"$NET" down --prefix "$P" || fail "xts-net down with nothing to remove"
ok "down removes all three namespaces, and is fine twice"

echo "PASS"
exit 0
