#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Install as a Debian user expects: cmake --install --prefix P puts the
# programs, libxport (shared and static), the public header under
# P/include/xts/, xport.pc and the example xts.conf in place, and then:
#  - pkg-config (no --define-prefix) names P, not the configured prefix;
#  - a program builds with pkg-config alone, against libxport.so and,
#    statically, against libxport.a with nothing of the build tree;
#  - libxport.so exports exactly the symbols libxport.map lists;
#  - each installed header compiles alone and declares only functions
#    libxport exports;
#  - the programs answer --version (and xts-httpd --help) as documented.
set -eu
BUILD=$1
SRC=$(cd "$(dirname "$0")/.." && pwd)
P=$(mktemp -d /tmp/xts-install.XXXXXX)
trap 'rm -rf "$P"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$P" >/dev/null
LIB=$(find "$P" -name libxport.so -printf '%h\n' | head -n1)
[ -n "$LIB" ] || fail "libxport.so not installed"
for f in bin/xts-cat bin/xts-httpd sbin/xtsd sbin/xtsctl sbin/xts-net etc/xts/xts.conf include/xts/xport.h; do
	[ -e "$P/$f" ] || fail "$f not installed"
done
[ -e "$LIB/libxport.a" ] || fail "libxport.a not installed"
[ -e "$LIB/pkgconfig/xport.pc" ] || fail "xport.pc not installed"
hdrs=$(cd "$P/include" && find . -type f | sed 's|^\./||' | sort)
[ "$hdrs" = "xts/xport.h" ] || fail "installed headers: want xts/xport.h alone, got: $hdrs"

# pkg-config names the prefix we installed under
export PKG_CONFIG_PATH="$LIB/pkgconfig"
[ "$(pkg-config --variable=prefix xport)" = "$P" ] ||
	fail "xport.pc: prefix $(pkg-config --variable=prefix xport), installed under $P"
cflags=$(pkg-config --cflags xport | xargs)
libs=$(pkg-config --libs xport | xargs)
[ "$cflags" = "-I$P/include" ] || fail "pkg-config --cflags xport: '$cflags'"
case " $libs " in *" -L$LIB "*) ;; *) fail "pkg-config --libs xport: '$libs'" ;; esac

cat >"$P/t.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <xts/xport.h>
int main(void)
{
	struct xport *xp;
	int err = xport_open(&xp, "xts-no-such-if", 0, NULL);

	/* no such interface: a clean -errno, no crash */
	printf("%s\n", strerror(-err));
	return err == -ENODEV || err == -ENXIO || err == -EINVAL ? 0 : 1;
}
C
# a sanitizer build's libxport needs its runtime in the program too
san=$(sed -n 's/^XTS_SANITIZE:STRING=//p' "$BUILD/CMakeCache.txt" | tr ';' ',')
SANFLAGS=${san:+-fsanitize=$san}
# shellcheck disable=SC2086 # word-split on purpose
cc -Wall -Werror $SANFLAGS -o "$P/t" "$P/t.c" $cflags $libs ||
	fail "a program does not build with pkg-config xport"
LD_LIBRARY_PATH="$LIB" "$P/t" >/dev/null || fail "xport_open on a missing interface"
# statically: libxport.a and what pkg-config --static adds, nothing else
static=$(pkg-config --static --libs xport | sed 's/-lxport\b/-Wl,-Bstatic -lxport -Wl,-Bdynamic/')
# shellcheck disable=SC2086
cc -Wall -Werror $SANFLAGS -o "$P/ts" "$P/t.c" $cflags $static ||
	fail "a program does not link against libxport.a with pkg-config --static xport"
if ldd "$P/ts" | grep -q libxport; then fail "the static program still needs libxport.so"; fi
"$P/ts" >/dev/null || fail "xport_open on a missing interface (static)"

# exactly the listed exports
want=$(sed -n 's/^[[:space:]]*\(xport_[a-z0-9_]*\);$/\1/p' "$SRC/xport/libxport.map" | sort)
got=$(nm -D --defined-only "$LIB/libxport.so" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sed 's/@.*//' | sort)
[ -n "$want" ] || fail "libxport.map names no symbol"
[ "$want" = "$got" ] || fail "libxport exports differ from libxport.map: $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"

# every installed header compiles alone and declares only exported functions
for h in $hdrs; do
	printf '#include <%s>\n' "$h" >"$P/h.c"
	cc -Wall -Werror -fsyntax-only -I"$P/include" "$P/h.c" || fail "$h does not compile alone"
	# gcc -aux-info lists every function declared; keep those from $h
	cc -fsyntax-only -I"$P/include" -aux-info "$P/h.aux" "$P/h.c"
	decl=$(grep -F "/* $P/include/$h:" "$P/h.aux" | sed 's/(.*//' | awk '{ print $NF }' | tr -d '*' | sort -u)
	[ -n "$decl" ] || fail "$h: no declarations found (gcc -aux-info)"
	extra=$(comm -23 <(echo "$decl") <(echo "$want"))
	[ -z "$extra" ] || fail "$h declares functions libxport does not export: $extra"
done

# the programs' --version, and xts-httpd --help (usage on stdout, exit 0)
ver=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
for p in bin/xts-cat bin/xts-httpd bin/xts-run; do
	out=$("$P/$p" --version) || fail "$p --version exited $?"
	[ "$out" = "$(basename "$p") $ver" ] || fail "$p --version: '$out', want '$(basename "$p") $ver'"
done
# xts-run finds the preload installed beside it, wherever the prefix is
[ -e "$LIB/libxts-preload.so" ] || fail "libxts-preload.so not installed beside libxport"
# (a sanitizer build's preload goes in before the ASan runtime, which ASan
# refuses by default; `true` carries no runtime of its own)
out=$(ASAN_OPTIONS=${san:+verify_asan_link_order=0} XTS_RUN_LOG=debug "$P/bin/xts-run" -- true 2>&1) ||
	fail "installed xts-run: $out"
[[ $out == *"xts-run["*"]: loaded"* ]] || fail "installed xts-run did not load the preload: '$out'"
out=$("$P/bin/xts-httpd" --help) || fail "xts-httpd --help exited $?"
echo "$out" | grep -q "^usage: xts-httpd" || fail "xts-httpd --help printed no usage on stdout"
echo "PASS: install ($(echo "$want" | wc -l) exports, static link, headers under include/xts)"
