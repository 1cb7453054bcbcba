#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The man pages: each renders without a single groff warning (-ww), the
# two configuration pages list every option of their parser's table
# (xts-optdoc --names: the very table cfg_load() and xpd_cfg_load() walk),
# and cmake --install puts every page under share/man/manN.
set -eu
BUILD=$1
MAN=$BUILD/man
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v groff >/dev/null || fail "groff not installed (Debian: groff-base)"

pages="xtsd.8 xtsctl.8 xportd.8 libxport.3 xts.conf.5 xportd.conf.5 xts-cat.1 xts-httpd.1 xts-net.8 xts-run.1"
for p in $pages; do
	[ -s "$MAN/$p" ] || fail "$MAN/$p: not built"
	out=$(groff -ww -z -man "$MAN/$p" 2>&1) || fail "$p: groff failed: $out"
	[ -z "$out" ] || fail "$p: groff warns: $out"
	# the page's own text, as man(1) would show it, is not empty
	n=$(groff -man -Tutf8 "$MAN/$p" 2>/dev/null | grep -c '[a-z]') || true
	[ "$n" -gt 20 ] || fail "$p: renders to $n lines of text"
	echo "$p: renders, no warnings ($n lines)"
done

# every option of the table is an entry (".TP" then ".B NAME") of its page
for t in xts xportd; do
	names=$("$BUILD/bin/xts-optdoc" "$t" --names)
	[ "$(echo "$names" | wc -l)" -ge 10 ] || fail "$t: the table has too few options: $names"
	entries=$(awk 'prev == ".TP" && $1 == ".B" { print $2 } { prev = $0 }' "$MAN/$t.conf.5")
	missing=$(comm -23 <(echo "$names" | sort) <(echo "$entries" | sort))
	[ -z "$missing" ] || fail "$t.conf.5 lacks options of the table: $(echo $missing)"
	echo "$t.conf.5: all $(echo "$names" | wc -l) options of the table"
done

P=$(mktemp -d /tmp/xts-man.XXXXXX)
trap 'rm -rf "$P"' EXIT
# DESTDIR too: a build configured for /usr (dh, the Debian build runs this
# test) installs /etc/xts and the units by absolute path, which must not
# land on the building machine
DESTDIR="$P" cmake --install "$BUILD" --prefix "$P" >/dev/null
for p in $pages; do
	f=$(find "$P" -path "*/man/man${p##*.}/$p")
	[ -n "$f" ] || fail "$p not installed under share/man/man${p##*.}"
done
echo "installed: $(cd "$P" && find . -path '*/man/*' -type f | sort | tr '\n' ' ')"
