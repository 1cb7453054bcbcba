# SPDX-License-Identifier: BSD-2-Clause
# lib.sh - shared helpers for the netns integration tests (sourced).
# Each test builds its own topology under a unique namespace prefix, runs
# xtsd in the DPU namespace and real servers in the net namespace, and
# removes everything on exit.  Every wait here is bounded.
set -u

XTS_BIN=${XTS_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build/bin" && pwd)}
XTS_SRC=${XTS_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PFX=${PFX:-xt$$-}
WORK=$(mktemp -d /tmp/xts-test.XXXXXX)
BGPIDS=()
XTSD_PID=

fail() { echo "FAIL: $*" >&2; [ -f "$WORK/xtsd.log" ] && tail -n 20 "$WORK/xtsd.log" >&2; exit 1; }
info() { echo "# $*"; }

need_root() {
	if [ "$(id -u)" != 0 ]; then
		if [ "${XTS_REQUIRE_ROOT:-0}" = 1 ]; then
			echo "FAIL: needs root (XTS_REQUIRE_ROOT=1)"; exit 1
		fi
		echo "SKIP: needs root"; exit 77
	fi
}

H() { ip netns exec "${PFX}host" "$@"; }
D() { ip netns exec "${PFX}dpu" "$@"; }
N() { ip netns exec "${PFX}net" "$@"; }

cleanup() {
	local p rc=$?
	# A shard that crashed (and was restarted) or a sanitizer report fails
	# the test even if the traffic got through.  Tests that kill shards on
	# purpose set XTS_ALLOW_RESTART=1.
	if [ -f "$WORK/xtsd.log" ]; then
		if grep -Eq "Sanitizer|runtime error:" "$WORK/xtsd.log" ||
			{ [ "${XTS_ALLOW_RESTART:-0}" != 1 ] && grep -q "restart in" "$WORK/xtsd.log"; }; then
			echo "FAIL: xtsd log shows a crashed shard or a sanitizer report:" >&2
			grep -E -A5 "Sanitizer|runtime error:|restart in" "$WORK/xtsd.log" | head -40 >&2
			rc=1
		fi
	fi
	[ -n "$XTSD_PID" ] && kill "$XTSD_PID" 2>/dev/null && wait_gone "$XTSD_PID" 50
	for p in "${BGPIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${BGPIDS[@]}"; do wait_gone "$p" 20 || kill -9 "$p" 2>/dev/null; done
	[ ${#BGPIDS[@]} -gt 0 ] && wait "${BGPIDS[@]}" 2>/dev/null
	# Whatever is left in our namespaces (socat's forked children, say)
	# would outlive them and hold ctest's output pipe: end it all.
	for p in host dpu net; do
		ip netns pids "${PFX}$p" 2>/dev/null
	done | xargs -r kill 2>/dev/null
	sleep 0.2
	for p in host dpu net; do
		ip netns pids "${PFX}$p" 2>/dev/null
	done | xargs -r kill -9 2>/dev/null
	bash "$XTS_SRC/tools/xts-net" down --prefix "$PFX" >/dev/null 2>&1
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT

wait_gone() { # pid tenths-of-seconds
	local i
	for ((i = 0; i < $2; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}

# bg NS CMD...: run CMD in namespace NS (host, dpu, net) in the background,
# killed at exit.  `ip netns exec` execs CMD, so $! is CMD's own pid (a
# shell function here would leave a subshell's pid and leak the program).
bg() { local ns=$1; shift; ip netns exec "${PFX}$ns" "$@" & BGPIDS+=($!); }

topo_up() { # [queues [mtu]]
	bash "$XTS_SRC/tools/xts-net" up --queues "${1:-4}" ${2:+--mtu "$2"} --prefix "$PFX" \
		>"$WORK/topo.log" 2>&1 ||
		{ cat "$WORK/topo.log"; fail "xts-net up"; }
}

# xtsd_start QUEUES [extra config lines]
xtsd_start() {
	local q=$1 i; shift
	mkdir -p "$WORK/run"
	{
		echo "interface = \"xd0\";"
		echo "queues = $q;"
		echo "run_dir = \"$WORK/run\";"
		for l in "$@"; do echo "$l"; done
	} >"$WORK/xts.conf"
	ip netns exec "${PFX}dpu" "$XTS_BIN/xtsd" -c "$WORK/xts.conf" >"$WORK/xtsd.log" 2>&1 &
	XTSD_PID=$!
	# every shard running (or draining: a drained shard that restarts
	# stays drained): one xtsctl call and one awk per poll, at most 20 s
	for ((i = 0; i < 200; i++)); do
		[ "$(xtsctl status 2>/dev/null |
			awk '$1 ~ /^[0-9]+$/ && ($3 == "running" || $3 == "draining") { n++ }
			     END { print n + 0 }')" = "$q" ] && return 0
		kill -0 "$XTSD_PID" 2>/dev/null || fail "xtsd exited"
		sleep 0.1
	done
	fail "shards did not come up: $(xtsctl status 2>&1)"
}

# stat SHARD KEY: a value of the shard's block in xtsd's shared memory,
# one xtsctl call: pid and epoch from `status`, every counter of
# XTS_SHM_COUNTERS (tx_seq, rx_seq and peer_ack too) from `stats`, as the
# shard last published them (20 times a second).
stat() {
	local cmd=stats
	case $2 in pid | epoch | state | restarts | cfg_gen | max_conns) cmd=status ;; esac
	xtsctl "$cmd" --shard "$1" | awk -v k="$2" '$1 == k { print $2 }'
}
# total KEY: counter KEY summed over the shards
total() { stat total "$1"; }
# moved: stream bytes the shards moved, both ways; opened: connections
# they opened; offloaded WHAT BEFORE MIN: fail unless the shards moved at
# least MIN bytes since moved said BEFORE (a program on the host also has
# the kernel's route: the counters prove the offload)
moved() { echo $(($(total data_to_host) + $(total data_to_net))); }
opened() { total conns_opened; }
offloaded() {
	local now
	stats_settle
	now=$(moved)
	[ $((now - $2)) -ge "$3" ] || fail "$1: the shards moved $((now - $2)) bytes, want >= $3 (not offloaded?)"
	info "$1: shards moved $((now - $2)) bytes"
}
# the command that prints shard N's counters as "key value" lines (the
# -S of xts-blast and xts-conns)
stats_cmd() { echo "$XTS_BIN/xtsctl -s $WORK/run/ctl.sock stats --shard $1"; }
# stats_settle: until the counters in shared memory have caught up with what
# the shards did before this call: every live shard has published twice
# since (one publish may have been under way when we asked), and once more
# between the last two looks, across which its counters did not move.  One
# xtsctl call and one awk per poll; at most 3 s (a shard kept busy), then a
# note and go on.
stats_settle() {
	local t0 t out p0 p pprev= prev= cur
	# "ID PUBLISHED" of the live shards (--shard all: every shard's
	# "key value" lines, each record from its "id" line)
	pubs() { awk '$1 == "id" { id = $2 } $1 == "state" { live = $2 ~ /running|draining/ }
		      $1 == "published" && live { print id, $2 }' <<<"$1"; }
	clock_us t0
	p0=$(pubs "$(xtsctl stats --shard all)")
	for ((t = t0; t - t0 < 3000000; )); do
		sleep 0.05
		out=$(xtsctl stats --shard all)
		p=$(pubs "$out")
		cur=$(grep -v '^published ' <<<"$out")
		[ -n "$prev" ] && [ "$cur" = "$prev" ] &&
			awk 'FILENAME == ARGV[1] { want[$1] = $2 + 2; next }
			     FILENAME == ARGV[2] { last[$1] = $2 + 1; next }
			     ($1 in want) && $2 >= want[$1] && $2 >= last[$1] { n++ }
			     END { exit !(n == length(want)) }' <(echo "$p0") <(echo "$pprev") <(echo "$p") &&
			return 0
		prev=$cur pprev=$p
		clock_us t
	done
	info "stats_settle: counters still moving after 3 s"
}

# wait_port NS PORT: until a listener is up
wait_port() {
	local i
	for ((i = 0; i < 50; i++)); do
		ip netns exec "${PFX}$1" ss -Hltn "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	fail "nothing listens on port $2 in $1"
}

# xtsctl ARGS...: the CLI against this test's xtsd (ctl socket in run_dir)
xtsctl() { "$XTS_BIN/xtsctl" -s "$WORK/run/ctl.sock" "$@"; }
# jget EXPR: evaluate a Python expression over the JSON on stdin (as j).
# Starting Python costs about 0.5 s on a small machine: never in a poll.
jget() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# shard_get SHARD COLUMN...: columns of one shard's row of `xtsctl status`
# (PID STATE CPU NODE UPTIME RESTARTS CONNECTIONS EPOCH), by header name,
# on one line.  One xtsctl call and one awk: cheap enough to poll with.
shard_get() {
	local s=$1; shift
	xtsctl status 2>/dev/null | awk -v s="$s" -v want="$*" '
		$1 == "SHARD" { n = split(want, w, " ")
			for (i = 1; i <= NF; i++) col[$i] = i
			next }
		n && $1 == s { out = ""
			for (i = 1; i <= n; i++) out = out (i > 1 ? " " : "") $(col[w[i]])
			print out; exit }'
}

# live_epoch QUEUE WORD: echo WORD through xts-cat on QUEUE (socat's echo
# on 198.18.0.2:7) and print shard QUEUE's session epoch, read while that
# session lives: xts-cat's close ends it gracefully (QRESET err 0), and the
# epoch after it is 00000000.  Fails the test if the echo does not come.
live_epoch() {
	local q=$1 w=$2 pid i e
	: >"$WORK/live$q.out" # not the last call's: the job below opens it late
	{ echo "$w"; sleep 3; } | H "$XTS_BIN/xts-cat" -q "$q" 198.18.0.2 7 >"$WORK/live$q.out" 2>&1 &
	pid=$!
	for ((i = 0; i < 100; i++)); do grep -qx "$w" "$WORK/live$q.out" && break; sleep 0.1; done
	grep -qx "$w" "$WORK/live$q.out" || fail "echo '$w' on queue $q: '$(cat "$WORK/live$q.out")'"
	e=$(shard_get "$q" EPOCH)
	wait $pid || fail "xts-cat on queue $q: $(cat "$WORK/live$q.out")"
	echo "$e"
}

# shard_back SHARD OLD_PID T0_US: poll (one xtsctl call each) until SHARD
# runs with a pid other than OLD_PID, 10 s at most; sets BACK_PID, and
# BACK_MS to the ms since T0_US (clock_us), or fails
shard_back() {
	local i st t
	BACK_PID= BACK_MS=
	for ((i = 0; i < 1000; i++)); do
		read -r BACK_PID st <<<"$(shard_get "$1" PID STATE)"
		clock_us t
		if [ "$st" = running ] && [ -n "$BACK_PID" ] && [ "$BACK_PID" != "$2" ]; then
			BACK_MS=$(((t - $3) / 1000))
			return 0
		fi
		[ $((t - $3)) -gt 10000000 ] && break
		sleep 0.005
	done
	fail "shard $1 not back within 10 s (pid $2 before)"
}

# kill_timed SHARD WHILE: kill -9 the running SHARD and time its return.
# What a stalled xtsd loop would delay is xtsd's part: reaping the dead
# shard and forking its successor after the 50 ms backoff (the fork's
# time is in status: started_ms), so that bound is tight (1 s).  The new
# shard's own start-up (UMEM, socket) is the machine's speed: 0.1 s
# alone, 1.5 s seen with both cores busy, so its bound (5 s) only catches
# a stall.  Prints both (WHILE: under what load); sets FORK_MS, BACK_MS.
kill_timed() {
	local old st t0
	read -r old st <<<"$(shard_get "$1" PID STATE)"
	[ "$st" = running ] || fail "shard $1: $st"
	clock_us t0
	kill -9 "$old"
	shard_back "$1" "$old" "$t0"
	FORK_MS=$(($(xtsctl status --shard "$1" | awk '$1 == "started_ms" { print $2 }') - t0 / 1000))
	info "shard $1 forked again $FORK_MS ms after the kill, running after $BACK_MS ms, $2"
	[ "$FORK_MS" -ge 48 ] && [ "$FORK_MS" -le 1000 ] ||
		fail "shard $1 forked again $FORK_MS ms after the kill ($2), want 50 to 1000"
	[ "$BACK_MS" -le 5000 ] || fail "shard $1 back after $BACK_MS ms ($2), want <= 5000"
}

# ctl_wait: until xtsd answers on its ctl socket (5 s at most)
ctl_wait() {
	local i
	for ((i = 0; i < 50; i++)); do xtsctl status >/dev/null 2>&1 && return 0; sleep 0.1; done
	fail "xtsd does not answer on $WORK/run/ctl.sock"
}

# clock_us VAR: the wall clock in microseconds into VAR, without a fork
# (bash 5's EPOCHREALTIME; `date` is a process per call)
clock_us() { printf -v "$1" %s "${EPOCHREALTIME//[.,]/}"; }

# best_ms LIMIT WHAT CMD...: run CMD (it must succeed) up to three times,
# set BEST_MS to its fastest run in ms and fail unless one run took at
# most LIMIT ms.  For "answers promptly while hostile clients hang on": a
# server that served a hostile client inline would hold every try for
# that client's whole deadline, while one try alone also fails when the
# machine stalls the test for seconds (it did, 5.4 s, under ASan with
# three tests side by side at load 14).
best_ms() {
	local limit=$1 what=$2 t0 t1 ms i tries=; shift 2
	BEST_MS=
	for ((i = 0; i < 3; i++)); do
		clock_us t0
		"$@" >"$WORK/best_ms.out" 2>&1 || fail "$what: $(cat "$WORK/best_ms.out")"
		clock_us t1
		ms=$(((t1 - t0) / 1000))
		tries+=" $ms"
		{ [ -z "$BEST_MS" ] || [ "$ms" -lt "$BEST_MS" ]; } && BEST_MS=$ms
		[ "$BEST_MS" -le "$limit" ] && break
	done
	info "$what answered in $BEST_MS ms (tries:$tries)"
	[ "$BEST_MS" -le "$limit" ] || fail "$what took$tries ms, want one <= $limit"
}
