#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The ctl socket: a user outside the ctl group is refused (by the socket's
# mode 0660, and by xtsd's SO_PEERCRED check when the mode lets anyone
# connect); a member of the group is served; the groups that count are the
# connecting process's (SO_PEERGROUPS), not the group database's; with no
# ctl.group only root is, even when the mode lets anyone connect.
. "$(dirname "$0")/lib.sh"
need_root

G=xtsg$$ U_OUT=xtso$$ U_IN=xtsi$$
cleanup_users() { userdel "$U_OUT" 2>/dev/null; userdel "$U_IN" 2>/dev/null; groupdel "$G" 2>/dev/null; }
trap 'rc=$?; cleanup_users; (exit $rc); cleanup' EXIT
groupadd --system "$G" || fail "groupadd"
useradd --system --no-create-home --shell /usr/sbin/nologin "$U_OUT" || fail "useradd"
useradd --system --no-create-home --shell /usr/sbin/nologin -G "$G" "$U_IN" || fail "useradd"
chmod 0711 "$WORK"; mkdir -p "$WORK/run"; chmod 0755 "$WORK/run"

as() { local u=$1; shift; setpriv --reuid "$u" --regid "$(id -g "$u")" --init-groups "$@"; }

topo_up 1
xtsd_start 1 "ctl = { group = \"$G\"; };"
mode=$(command stat -c '%a %G' "$WORK/run/ctl.sock")
[ "$mode" = "660 $G" ] || fail "socket: $mode, want 660 $G"
as "$U_OUT" "$XTS_BIN/xtsctl" -s "$WORK/run/ctl.sock" status >"$WORK/out" 2>&1 && fail "outsider served"
grep -q "Permission denied" "$WORK/out" || fail "outsider: $(cat "$WORK/out")"
echo "ok: outsider: $(cat "$WORK/out")"
as "$U_IN" "$XTS_BIN/xtsctl" -s "$WORK/run/ctl.sock" status --json >"$WORK/out" 2>&1 || fail "member refused: $(cat "$WORK/out")"
echo "ok: member of $G served"

# mode 0666: anyone may connect; xtsd's peer check still refuses
kill "$XTSD_PID"; wait_gone "$XTSD_PID" 100 || fail "xtsd did not stop"
xtsd_start 1 "ctl = { group = \"$G\"; mode = \"0666\"; };"
ctl_wait
as "$U_OUT" "$XTS_BIN/xtsctl" -s "$WORK/run/ctl.sock" status >"$WORK/out" 2>&1 && fail "outsider served (0666)"
grep -q "permission denied: uid $(id -u "$U_OUT") is neither root nor in group $G" "$WORK/out" ||
	fail "outsider (0666): $(cat "$WORK/out")"
echo "ok: outsider, socket mode 0666: $(cat "$WORK/out")"
as "$U_IN" "$XTS_BIN/xtsctl" -s "$WORK/run/ctl.sock" stats >/dev/null 2>&1 || fail "member refused (0666)"
grep -q "refused pid" "$WORK/xtsd.log" || fail "refusal not logged"
# the groups that count are the process's (SO_PEERGROUPS), as for the
# socket file's permission, not the group database's (an NSS lookup on
# xtsd's loop): the member without the group in its process is refused,
# the outsider given it (as sg(1) would) is served
setpriv --reuid "$U_IN" --regid "$(id -g "$U_IN")" --clear-groups \
	"$XTS_BIN/xtsctl" -s "$WORK/run/ctl.sock" status >"$WORK/out" 2>&1 && fail "member without the group in its process served"
grep -q "permission denied: uid $(id -u "$U_IN") is neither root nor in group $G" "$WORK/out" ||
	fail "member, groups cleared: $(cat "$WORK/out")"
setpriv --reuid "$U_OUT" --regid "$(id -g "$U_OUT")" --groups "$(getent group "$G" | cut -d: -f3)" \
	"$XTS_BIN/xtsctl" -s "$WORK/run/ctl.sock" status >"$WORK/out" 2>&1 ||
	fail "outsider with $G among its process's groups refused: $(cat "$WORK/out")"
setpriv --reuid "$U_OUT" --regid "$G" --clear-groups \
	"$XTS_BIN/xtsctl" -s "$WORK/run/ctl.sock" status >"$WORK/out" 2>&1 ||
	fail "outsider with primary group $G refused: $(cat "$WORK/out")"
echo "ok: the process's groups decide (SO_PEERGROUPS): groups cleared refused, $G given served"

# mode 0666 and no ctl.group: root only, whoever can connect
kill "$XTSD_PID"; wait_gone "$XTSD_PID" 100 || fail "xtsd did not stop"
xtsd_start 1 'ctl = { mode = "0666"; };'
ctl_wait
for u in "$U_OUT" "$U_IN"; do
	as "$u" "$XTS_BIN/xtsctl" -s "$WORK/run/ctl.sock" status >"$WORK/out" 2>&1 && fail "$u served (0666, no group)"
	grep -q "permission denied: uid $(id -u "$u") is not root (no ctl.group set)" "$WORK/out" ||
		fail "$u (0666, no group): $(cat "$WORK/out")"
done
echo "ok: no group, socket mode 0666: $(cat "$WORK/out")"
xtsctl status >/dev/null || fail "root refused (0666, no group)"
echo "PASS: sup_ctl_perm"
