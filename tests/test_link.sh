#!/bin/sh
# test_link.sh: a host program links against the shared liblateral with the plain pkg-config line
# (cc prog.c $(pkg-config --cflags --libs lateral)), runs, and gets an error code where GSL's default
# handler would abort.
set -u
b=${top_builddir:-.}
s=${top_srcdir:-.}
lib=$(cd "$b/.libs" 2>/dev/null && pwd) || lib=""
if [ -z "$lib" ] || [ ! -e "$lib/liblateral.so" ]; then
	echo "test_link: no shared library in $b/.libs (configure --disable-shared?): skipped"
	exit 77
fi
tmp=$(mktemp -d /tmp/lateral-link-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# the installed .pc with the build tree as its prefix
sed -e "s|^libdir=.*|libdir=$lib|" -e "s|^includedir=.*|includedir=$(cd "$s" && pwd)/include|" "$b/lateral.pc" > "$tmp/lateral.pc"
flags=$(PKG_CONFIG_PATH="$tmp" pkg-config --cflags --libs lateral) || exit 1
echo "test_link: cc host_link.c $flags"
# shellcheck disable=SC2086
${CC:-cc} ${SAN_CFLAGS:-} -o "$tmp/host" "$s/tests/host_link.c" $flags -Wl,-rpath,"$lib" || exit 1
"$tmp/host"
rc=$?
[ "$rc" -eq 0 ] || { echo "test_link: the host exited with $rc"; exit 1; }
