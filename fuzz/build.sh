#!/bin/sh
# build.sh: builds liblateral.a with clang, libFuzzer instrumentation and ASan/UBSan, then links every harness.
#
# Usage: fuzz/build.sh            (from any directory; everything goes to fuzz/build/, or to $FUZZ_BUILD)
# Environment: FUZZ_CC (default clang), FUZZ_BUILD (build directory), FUZZ_JOBS (make -j, default 1).
#
# An unconfigured source tree gets a VPATH build (configure CC=clang in the build directory, then
# `make liblateral.la`, whose static half is .libs/liblateral.a). Automake refuses VPATH builds of a tree that is already configured in place, so
# for such a tree the library sources listed in Makefile.am are compiled directly with its config.h.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=${FUZZ_BUILD:-$here/build}
cc=${FUZZ_CC:-clang}
jobs=${FUZZ_JOBS:-1}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cflags="-fsanitize=fuzzer-no-link $san -g -O1 -fno-omit-frame-pointer"
harnesses="fuzz_model fuzz_experiment fuzz_set fuzz_setint fuzz_idx fuzz_cifar fuzz_state"

mkdir -p "$build"
build=$(cd "$build" && pwd)
if [ ! -x "$top/configure" ]; then
	echo "build.sh: generating configure (autoreconf -fi)"
	(cd "$top" && mkdir -p m4 && autoreconf -fi)
fi

if [ -f "$top/config.status" ]; then
	echo "build.sh: $top is configured in place; compiling the library sources directly"
	confdir=$top
	objdir=$build/obj
	mkdir -p "$objdir"
	sources=$(sed -n '/^liblateral_la_SOURCES/,/^[^[:space:]]/p' "$top/Makefile.am" | tr ' \\\t' '\n\n\n' |
		grep '^src/.*\.c$')
	openmp=$(sed -n 's/^OPENMP_CFLAGS = *//p' "$top/Makefile" | head -n 1)
	rebuilt=0
	for src in $sources; do
		obj=$objdir/$(basename "$src" .c).o
		stale=0
		[ -f "$obj" ] || stale=1
		if [ $stale = 0 ]; then
			for dep in "$top/$src" "$top"/include/lateral/*.h "$top"/src/*/*.h "$top/config.h"; do
				if [ "$dep" -nt "$obj" ]; then
					stale=1
					break
				fi
			done
		fi
		if [ $stale = 1 ]; then
			echo "  CC   $src"
			nice -n 10 "$cc" $cflags $openmp -std=c11 -Wall -Wextra -I"$top" -I"$top/include" -I"$top/src/core" -I"$top/src/config" -I"$top/src/cli" \
				-c "$top/$src" -o "$obj"
			rebuilt=1
		fi
	done
	if [ $rebuilt = 1 ] || [ ! -f "$build/liblateral.a" ]; then
		rm -f "$build/liblateral.a"
		ar cr "$build/liblateral.a" "$objdir"/*.o
		ranlib "$build/liblateral.a"
	fi
else
	confdir=$build
	if [ ! -f "$build/config.status" ] || [ "$top/configure" -nt "$build/config.status" ]; then
		echo "build.sh: configuring in $build (CC=$cc)"
		(cd "$build" && "$top/configure" -q CC="$cc" CFLAGS="$cflags")
	fi
	(cd "$build" && nice -n 10 make -s -j"$jobs" liblateral.la && cp .libs/liblateral.a liblateral.a)
fi

# The link line of the project (Makefile.am: LAT_LIBS), as configure found it.
var() { sed -n "s/^$1 = *//p" "$confdir/Makefile" | head -n 1; }
openmp=$(var OPENMP_CFLAGS)
libs="$(var SUNDIALS_LIBS) $(var GSL_LIBS) $(var OPENBLAS_LIBS) $(var ZLIB_LIBS) $(var LIBCONFIG_LIBS) -lm"

for h in $harnesses; do
	echo "  LINK $h"
	nice -n 10 "$cc" -fsanitize=fuzzer $san -g -O1 -fno-omit-frame-pointer $openmp -std=c11 -Wall -Wextra \
		-I"$confdir" -I"$top/include" -I"$top/src/core" -I"$top/src/config" -I"$top/src/cli" -o "$build/$h" "$here/$h.c" "$build/liblateral.a" $libs
done
echo "build.sh: harnesses in $build: $harnesses"
