# SPDX-License-Identifier: BSD-2-Clause
# xportd_lib.sh - helpers of the xportd tests (sourced after lib.sh).
#
# xportd_start QUEUES [extra config lines]: xportd in the host namespace,
# its socket in $WORK/hrun (reachable by an unprivileged test user), and
# XPORTD_SOCKET exported so that every program the test starts leases
# through it.  XPORTD_PID is its pid.
XPORTD_PID=
xportd_start() {
	local q=$1 i; shift
	chmod 755 "$WORK"
	mkdir -p "$WORK/hrun" && chmod 755 "$WORK/hrun"
	{
		echo "interface = \"xh0\";"
		echo "queues = $q;"
		echo "run_dir = \"$WORK/hrun\";"
		for l in "$@"; do echo "$l"; done
	} >"$WORK/xportd.conf"
	H "$XTS_BIN/xportd" -t -c "$WORK/xportd.conf" >/dev/null || fail "xportd.conf does not check"
	ip netns exec "${PFX}host" "$XTS_BIN/xportd" -c "$WORK/xportd.conf" >>"$WORK/xportd.log" 2>&1 &
	XPORTD_PID=$!
	BGPIDS+=("$XPORTD_PID")
	export XPORTD_SOCKET=$WORK/hrun/xportd.sock
	for ((i = 0; i < 100; i++)); do
		xportd_cli status >/dev/null 2>&1 && return 0
		kill -0 "$XPORTD_PID" 2>/dev/null || { cat "$WORK/xportd.log"; fail "xportd exited"; }
		sleep 0.05
	done
	fail "xportd did not come up: $(cat "$WORK/xportd.log")"
}

xportd_cli() { "$XTS_BIN/xportd" -s "$WORK/hrun/xportd.sock" "$@"; }

# as_user UID GIDS CMD...: CMD in the host namespace as an unprivileged
# user: no capabilities at all, only the supplementary groups GIDS
# (comma-separated; "-" for none)
as_user() {
	local uid=$1 gids=$2; shift 2
	# a build tree may sit under a directory only root can enter (a clone
	# in a mktemp -d, /root): the user runs a copy from $WORK/ubin
	if [[ $1 == "$XTS_BIN"/* ]]; then
		mkdir -p "$WORK/ubin" && chmod 755 "$WORK/ubin" || fail "mkdir $WORK/ubin"
		[ -x "$WORK/ubin/${1##*/}" ] || cp "$1" "$WORK/ubin/" || fail "cp $1"
		set -- "$WORK/ubin/${1##*/}" "${@:2}"
	fi
	local g=(--clear-groups)
	[ "$gids" != - ] && g=(--groups "$gids")
	ip netns exec "${PFX}host" setpriv --reuid "$uid" --regid "$uid" "${g[@]}" \
		--inh-caps=-all --bounding-set=-all --no-new-privs \
		env XPORTD_SOCKET="$XPORTD_SOCKET" "$@"
}

# xportd's own log must not show a sanitizer report
xportd_log_check() {
	! grep -Eq "Sanitizer|runtime error:" "$WORK/xportd.log" ||
		{ cat "$WORK/xportd.log"; fail "xportd's log shows a sanitizer report"; }
}

# a failure shows xportd's log too
fail() {
	echo "FAIL: $*" >&2
	[ -f "$WORK/xtsd.log" ] && tail -n 20 "$WORK/xtsd.log" >&2
	[ -f "$WORK/xportd.log" ] && { echo "--- xportd.log:" >&2; tail -n 40 "$WORK/xportd.log" >&2; }
	exit 1
}
