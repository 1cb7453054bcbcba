#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xportd leases queues to unprivileged programs (issue 11):
# - nobody, with no capability at all and only the group the policy
#   allows, moves 64 MiB byte-exact through XTS on a leased queue, and
#   cannot reach another queue: its own AF_XDP, packet or raw socket, a
#   rebind of its socket to another queue, another UMEM on it: all refused;
# - the same user outside the policy gets EACCES, with xportd's reason;
# - past its rule's lease count: EDQUOT; a queue reserved for another
#   user: EACCES naming the rule; a queue that does not exist: EINVAL;
# - xportd.conf errors: FILE:LINE: option: reason, exit 2 (-t and start).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/xportd_lib.sh"
need_root

GRP=4242 # the group the policy allows (a number: no /etc/group entry needed)

# ---- configuration errors ----
check() { # what want-regex config-text
	local rc
	printf '%b' "$3" >"$WORK/bad.conf"
	for mode in -t start; do
		if [ $mode = -t ]; then
			timeout 10 "$XTS_BIN/xportd" -t -c "$WORK/bad.conf" >"$WORK/out" 2>&1; rc=$?
		else
			timeout 10 "$XTS_BIN/xportd" -c "$WORK/bad.conf" >"$WORK/out" 2>&1; rc=$?
		fi
		[ $rc = 2 ] || fail "$1 ($mode): exit $rc, want 2: $(head -c 300 "$WORK/out")"
		grep -Eq "^xportd: $WORK/bad.conf:$2" "$WORK/out" ||
			fail "$1 ($mode): '$(head -c 300 "$WORK/out")' does not match 'FILE:$2'"
	done
	echo "ok: $1: $(cat "$WORK/out")"
}
check "unknown option" "2: limits.client: unknown option" 'queues = 2;\nlimits = { client = 5; };\n'
check "queues out of range" "1: queues: 300 out of range" 'queues = 300;\n'
check "no such user" "2: policy.\\[0\\].user: no such user" \
	'queues = 2;\npolicy = ( { user = "no-such-user-xts"; } );\n'
check "rule without who" "2: policy.\\[0\\]: needs one of user or group" \
	'queues = 2;\npolicy = ( { leases = 2; } );\n'
check "rule queue out of range" "2: policy.\\[0\\].queues\\[1\\]: 2 out of range" \
	'queues = 2;\npolicy = ( { group = 10; queues = [ 1, 2 ]; } );\n'
check "reserve without queues" "2: policy.\\[0\\].reserve: reserves the queues it names" \
	'queues = 2;\npolicy = ( { group = 10; reserve = true; } );\n'
check "ring not a power of two" "1: queue.ring_size: must be a power of two" \
	'queue = { ring_size = 1000; };\n'
check "past 64 bits" "1: limits.sockets: .* out of range" 'limits = { sockets = 99999999999999999999; };\n'
mkdir "$WORK/adir"
timeout 10 "$XTS_BIN/xportd" -t -c "$WORK/adir" >"$WORK/out" 2>&1
[ $? = 2 ] && grep -q "not a regular file" "$WORK/out" || fail "a directory as xportd.conf: $(cat "$WORK/out")"
"$XTS_BIN/xportd" -t -c "$XTS_SRC/conf/xportd.conf" >/dev/null || fail "conf/xportd.conf does not check"
"$XTS_BIN/xportd" --version | grep -q "^xportd [0-9]" || fail "xportd --version"
echo "ok: conf/xportd.conf checks; $("$XTS_BIN/xportd" --version)"

# ---- leases ----
topo_up 8
xtsd_start 8
xportd_start 8 "policy = ( { group = $GRP; leases = 1; queues = [ 0, 1, 2, 3, 4, 5 ]; }," \
	"{ user = 0; leases = 8; queues = [ 7 ]; reserve = true; } );"
bg net socat -b 4096 TCP4-LISTEN:7,fork,reuseaddr,backlog=256 PIPE
wait_port net 7

# nobody in the allowed group: 64 MiB each way, checked byte by byte, and
# every way to another queue refused
as_user 65534 $GRP "$XTS_BIN/xts-lessee" -A -b 64M -T 240 198.18.0.2 7 >"$WORK/nobody.out" 2>&1 ||
	{ cat "$WORK/nobody.out"; fail "nobody in group $GRP could not move 64 MiB"; }
cat "$WORK/nobody.out"
grep -q "^ok queue=[0-5] conns=1 bytes=67108864 " "$WORK/nobody.out" || fail "64 MiB not confirmed"
[ "$(grep -c '^attempt: ' "$WORK/nobody.out")" = 6 ] || fail "not every attempt ran"
! grep -q "ALLOWED" "$WORK/nobody.out" || fail "a lessee reached past its queue"
grep -q "lease of pid .* (uid 65534, xts-lessee) ended" "$WORK/xportd.log" ||
	fail "xportd did not log the end of nobody's lease"

# the same user, not in the group: EACCES and why
as_user 65534 - "$XTS_BIN/xts-lessee" -b 1K 198.18.0.2 7 >"$WORK/out" 2>&1
rc=$?
cat "$WORK/out"
[ $rc = 2 ] && grep -q "^open: Permission denied (errno 13): xportd: uid 65534 may not lease queues: no rule of xportd's policy names it" "$WORK/out" ||
	fail "nobody outside the policy: rc $rc, want EACCES with xportd's reason"

# one lease at a time for the group: a second one is EDQUOT, and says so
as_user 65534 $GRP "$XTS_BIN/xts-lessee" -b 1K -r -H 3000 198.18.0.2 7 >"$WORK/first.out" 2>&1 &
first=$!
for ((i = 0; i < 100; i++)); do grep -q "^ready" "$WORK/first.out" && break; sleep 0.05; done
grep -q "^ready" "$WORK/first.out" || fail "first lease: $(cat "$WORK/first.out")"
as_user 65534 $GRP "$XTS_BIN/xts-lessee" -b 1K 198.18.0.2 7 >"$WORK/out" 2>&1
rc=$?
cat "$WORK/out"
[ $rc = 2 ] && grep -q "(errno 122): xportd: uid 65534 holds 1 lease, the most its rule allows (line 4, group $GRP)" "$WORK/out" ||
	fail "a second lease past the rule: rc $rc, want EDQUOT"
wait $first || fail "the first lease failed: $(cat "$WORK/first.out")"

# a queue reserved for root; a queue the rule does not give; one that is not there
as_user 65534 $GRP "$XTS_BIN/xts-lessee" -q 7 -b 1K 198.18.0.2 7 >"$WORK/out" 2>&1
cat "$WORK/out"
grep -q "(errno 13): xportd: queue 7 is not among the queues uid 65534 may lease" "$WORK/out" ||
	fail "queue 7 for nobody"
as_user 65534 $GRP "$XTS_BIN/xts-lessee" -q 9 -b 1K 198.18.0.2 7 >"$WORK/out" 2>&1
cat "$WORK/out"
grep -q "(errno 22): xportd: queue 9 does not exist" "$WORK/out" || fail "queue 9"
# root may name the reserved queue
H "$XTS_BIN/xts-lessee" -q 7 -b 1M 198.18.0.2 7 | grep -q "^ok queue=7 " || fail "root on queue 7"
echo "ok: root named the reserved queue 7"
# every lessee above ended through xport_close_queue, which ends its
# session itself (QRESET err 0, then epoch 0 in its area): xportd never
# had to send its last QRESET for one
qr=$(xportd_cli status --json | grep -o '"qresets": *[0-9]*' | grep -o '[0-9]*$')
[ "$qr" = 0 ] || fail "xportd sent '$qr' QRESETs for lessees that closed their queues"
echo "ok: no lessee left its session for xportd to end"
xportd_log_check
echo "PASS"
