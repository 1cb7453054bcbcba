#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Every source, script, build and config file of the tree names its
# license with an SPDX line near its top, and the license is the one in
# LICENSE (BSD-2-Clause); only the XDP program is dual-licensed, because
# the kernel's GPL-only BPF helpers need a GPL-compatible program.  Files
# that carry no comments of their own are exempt: Markdown, LICENSE,
# .gitignore, .clang-format, debian/ (debian/copyright states the license
# for the packages) and the SVG figure.  Run from a git checkout (the
# list is `git ls-files`, so build outputs and untracked files are not
# judged); outside one it fails, saying so.
set -eu
SRC=${1:-$(dirname "$0")/..}
cd "$SRC"
fail() { echo "FAIL: $*" >&2; exit 1; }
files=$(git ls-files 2>/dev/null) || fail "$SRC: not a git checkout (the file list is git ls-files)"
[ -n "$files" ] || fail "$SRC: git ls-files listed nothing"
bad=0 n=0
while IFS= read -r f; do
	case $f in
	*.md | LICENSE | .gitignore | .clang-format | debian/* | *.svg) continue ;;
	esac
	[ -f "$f" ] || continue # deleted in the work tree, not yet committed
	n=$((n + 1))
	id=$(head -n 5 -- "$f" | sed -n 's/.*SPDX-License-Identifier: *\(.*[^ */]\).*/\1/p' | head -n 1)
	case $f:$id in
	*:) echo "$f: no SPDX-License-Identifier line in its first 5 lines" >&2; bad=1 ;;
	bpf/*.bpf.c:"(GPL-2.0-only OR BSD-2-Clause)") ;;
	*:BSD-2-Clause) ;;
	*) echo "$f: SPDX-License-Identifier: $id, want BSD-2-Clause (LICENSE)" >&2; bad=1 ;;
	esac
done <<<"$files"
[ $bad = 0 ] || fail "files above lack the project's SPDX line"
echo "spdx: $n files carry SPDX-License-Identifier: BSD-2-Clause (the XDP program dual)"
