#!/usr/bin/env bash
# xts.conf errors: a syntax error, an unknown option, an out-of-range value
# and a bad CIDR each make xtsd exit 2 with FILE:LINE and the option named,
# both when checking (-t) and when starting; a good file passes -t.
. "$(dirname "$0")/lib.sh"
need_root

check() { # what want-regex config-text
	local what=$1 want=$2 rc
	printf '%b' "$3" >"$WORK/bad.conf"
	for mode in -t start; do
		if [ $mode = -t ]; then
			"$XTS_BIN/xtsd" -t -c "$WORK/bad.conf" >"$WORK/out" 2>&1; rc=$?
		else
			timeout 10 "$XTS_BIN/xtsd" -c "$WORK/bad.conf" >"$WORK/out" 2>&1; rc=$?
		fi
		[ $rc = 2 ] || fail "$what ($mode): exit $rc, want 2: $(cat "$WORK/out")"
		grep -Eq "^xtsd: $WORK/bad.conf:$want" "$WORK/out" ||
			fail "$what ($mode): '$(cat "$WORK/out")' does not match 'FILE:$want'"
	done
	echo "ok: $what: $(cat "$WORK/out")"
}

check "syntax error" "3: syntax error" 'queues = 2;\nlimits = {\n  max_conns = ;\n};\n'
check "unknown option" "2: limits.max_connections: unknown option" \
	'queues = 2;\nlimits = { max_connections = 5; };\n'
check "out of range" "1: queues: 0 out of range" 'queues = 0;\n'
check "out of range (nested)" "3: timeouts.idle_ms: .* out of range" \
	'queues = 1;\ntimeouts = {\n idle_ms = 99999999999;\n};\n'
check "bad CIDR" "2: acl.connect\\[1\\]: .*prefix length" \
	'queues = 1;\nacl = { connect = [ "10.0.0.0/8", "198.18.0.0/40" ]; };\n'
check "shard queue out of range" "2: shards.\\[0\\].queue: 4 out of range" \
	'queues = 4;\nshards = ( { queue = 4; cpus = [0]; } );\n'
check "bad ctl mode" "1: ctl.mode: must be an octal" 'ctl = { mode = "rw"; };\n'

"$XTS_BIN/xtsd" -t -c "$XTS_SRC/conf/xts.conf" >"$WORK/out" 2>&1 ||
	fail "conf/xts.conf does not pass -t: $(cat "$WORK/out")"
echo "ok: conf/xts.conf: $(cat "$WORK/out")"
echo "PASS: sup_config"
