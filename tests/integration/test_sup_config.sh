#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# xts.conf errors: a syntax error, an unknown option, an out-of-range value
# and a bad CIDR each make xtsd exit 2 with FILE:LINE and the option named,
# both when checking (-t) and when starting; a good file passes -t.
# Hostile files too: a directory, a FIFO, a symlink to /dev/zero, a huge
# file, integers past 32 and 64 bits, a second shards entry for a queue,
# signs and spaces in numbers.
. "$(dirname "$0")/lib.sh"
need_root

check_file() { # what want-regex FILE
	local what=$1 want=$2 file=$3 rc
	for mode in -t start; do
		if [ $mode = -t ]; then
			timeout 10 "$XTS_BIN/xtsd" -t -c "$file" >"$WORK/out" 2>&1; rc=$?
		else
			timeout 10 "$XTS_BIN/xtsd" -c "$file" >"$WORK/out" 2>&1; rc=$?
		fi
		[ $rc = 2 ] || fail "$what ($mode): exit $rc, want 2: $(head -c 300 "$WORK/out")"
		grep -Eq "^xtsd: $file:$want" "$WORK/out" ||
			fail "$what ($mode): '$(head -c 300 "$WORK/out")' does not match 'FILE:$want'"
	done
	echo "ok: $what: $(cat "$WORK/out")"
}
check() { # what want-regex config-text
	printf '%b' "$3" >"$WORK/bad.conf"
	check_file "$1" "$2" "$WORK/bad.conf"
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
check "bad ctl mode" "1: ctl.mode: .*must be an octal" 'ctl = { mode = "rw"; };\n'
check "signed ctl mode" "1: ctl.mode: \"\\+0660\": must be an octal" 'ctl = { mode = "+0660"; };\n'
check "space in an ACL port" "1: acl.connect\\[0\\]: .*bad port range \" 7\"" \
	'acl = { connect = [ "198.18.0.2: 7" ]; };\n'
check "a second shards entry" "4: shards.\\[1\\].queue: queue 1 has an entry already \\(line 2\\)" \
	'queues = 2;\nshards = ( { queue = 1; cpus = [ 0 ]; },\n\n { queue = 1; cpus = [ 1 ]; } );\n'
# libconfig reads an unsuffixed literal past 32 bits as a truncated int:
# 4294967297 queues would be 1, 5368709120 bytes would be 1 GiB
check "queues past 32 bits" "1: queues: 4294967297 out of range" 'queues = 4294967297;\n'
check "hex past 32 bits" "1: queues: 4294967297 out of range" 'queues = 0x100000001;\n'
check "shard_buf past its range" "2: limits.shard_buf: 5497558138880 out of range" \
	'queues = 1;\nlimits = { shard_buf = 5497558138880; };\n'
check "past 64 bits" "1: limits.shard_buf: .* out of range" \
	'limits = { shard_buf = 99999999999999999999; };\n'
printf 'queues = 1;\nlimits = { shard_buf = 5368709120; };\n' >"$WORK/wide.conf"
"$XTS_BIN/xtsd" -t -c "$WORK/wide.conf" >"$WORK/out" 2>&1 || fail "shard_buf 5 GiB: $(cat "$WORK/out")"
echo "ok: shard_buf = 5368709120 (5 GiB) accepted: $(cat "$WORK/out")"
check "@include" "2: syntax error: @include" 'queues = 1;\n@include "/tmp"\n'

# not a regular file: libconfig's scanner exit()s on a directory and
# blocks on a FIFO; /dev/zero never ends
mkdir "$WORK/dir.conf"
check_file "a directory" " not a regular file" "$WORK/dir.conf"
mkfifo "$WORK/fifo.conf"
check_file "a FIFO" " not a regular file" "$WORK/fifo.conf"
ln -s /dev/zero "$WORK/zero.conf"
check_file "a symlink to /dev/zero" " not a regular file" "$WORK/zero.conf"
truncate -s 4G "$WORK/huge.conf"
check_file "a 4 GiB file" " larger than 1048576 bytes" "$WORK/huge.conf"

"$XTS_BIN/xtsd" -t -c "$XTS_SRC/conf/xts.conf" >"$WORK/out" 2>&1 ||
	fail "conf/xts.conf does not pass -t: $(cat "$WORK/out")"
echo "ok: conf/xts.conf: $(cat "$WORK/out")"
echo "PASS: sup_config"
