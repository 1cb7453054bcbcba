#!/usr/bin/env bash
# cmake --install puts programs, libxport (shared and static), the public
# headers, xport.pc and the example xts.conf in place; a program builds
# against them with pkg-config alone; libxport exports only xport_*.
set -eu
BUILD=$1
P=$(mktemp -d /tmp/xts-install.XXXXXX)
trap 'rm -rf "$P"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$P" >/dev/null
LIB=$(find "$P" -name libxport.so -printf '%h\n' | head -n1)
[ -n "$LIB" ] || fail "libxport.so not installed"
for f in bin/xts-cat sbin/xtsd sbin/xts-net etc/xts/xts.conf include/xport.h include/xts_proto.h; do
	[ -e "$P/$f" ] || fail "$f not installed"
done
[ -e "$LIB/libxport.a" ] || fail "libxport.a not installed"
[ -e "$LIB/pkgconfig/xport.pc" ] || fail "xport.pc not installed"

cat >"$P/t.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <xport.h>
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
# shellcheck disable=SC2046,SC2086 # word-split on purpose
cc -Wall -Werror $SANFLAGS -o "$P/t" "$P/t.c" $(PKG_CONFIG_PATH="$LIB/pkgconfig" pkg-config --define-prefix --cflags --libs xport) ||
	fail "a program does not build with pkg-config xport"
LD_LIBRARY_PATH="$LIB" "$P/t" || fail "xport_open on a missing interface"
bad=$(nm -D --defined-only "$LIB/libxport.so" | awk '$2 == "T" && $3 !~ /^xport_/ { print $3 }')
[ -z "$bad" ] || fail "libxport exports more than xport_*: $bad"
echo "PASS: install ($(nm -D --defined-only "$LIB/libxport.so" | awk '$2 == "T"' | wc -l) exported functions)"
