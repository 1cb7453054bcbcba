#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Every source, script, build and config file of the tree names its
# license with an SPDX line near its top, and the license is the one in
# LICENSE (BSD-2-Clause); only the XDP program is dual-licensed, because
# the kernel's GPL-only BPF helpers need a GPL-compatible program.  Files
# that carry no comments of their own are exempt: Markdown, LICENSE,
# .gitignore, .clang-format, debian/ (debian/copyright states the license
# for the packages), the SVG figure and the fuzzers' regression inputs
# (tests/fuzz/regress/: frames, byte for byte).  Run from a git checkout (the
# list is `git ls-files`, so build outputs and untracked files are not
# judged); outside one it fails, saying so.
set -eu
SRC=${1:-$(dirname "$0")/..}
cd "$SRC"
fail() { echo "FAIL: $*" >&2; exit 1; }
files=$(git ls-files 2>/dev/null) || fail "$SRC: not a git checkout (the file list is git ls-files)"
[ -n "$files" ] || fail "$SRC: git ls-files listed nothing"
list=$(grep -Ev '(\.md|\.svg)$|^(LICENSE|\.gitignore|\.clang-format|debian/.*|tests/fuzz/regress/.*)$' <<<"$files" |
	while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done) # deleted in the work tree: skip
n=$(wc -l <<<"$list")
# one awk over every file: the identifier of its first 5 lines, or none
tr '\n' '\0' <<<"$list" | xargs -0 awk '
	FNR == 1 { if (NR > 1) check(prev, id); prev = FILENAME; id = "" }
	FNR <= 5 && id == "" && match($0, /SPDX-License-Identifier: */) {
		id = substr($0, RSTART + RLENGTH); sub(/[ *\/]*$/, "", id)
	}
	function check(f, id) {
		if (id == "") { print f ": no SPDX-License-Identifier line in its first 5 lines"; bad = 1 }
		else if (id == "BSD-2-Clause") ;
		else if (f ~ /^bpf\/.*\.bpf\.c$/ && id == "(GPL-2.0-only OR BSD-2-Clause)") ;
		else { print f ": SPDX-License-Identifier: " id ", want BSD-2-Clause (LICENSE)"; bad = 1 }
	}
	END { check(prev, id); exit bad }' >&2 || fail "files above lack the project's SPDX line"
echo "spdx: $n files carry SPDX-License-Identifier: BSD-2-Clause (the XDP program dual)"
