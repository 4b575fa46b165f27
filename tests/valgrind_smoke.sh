#!/bin/sh
# valgrind_smoke.sh: every lateral subcommand once under valgrind; fails on any memory error or leak.
# Usage: tests/valgrind_smoke.sh [LATERAL]   (default ./lateral; run from the source tree)
# Leaks counted: definite and indirect (libgomp and OpenBLAS keep their thread pools "possibly lost").
set -u
cd "$(dirname "$0")/.."
LAT=${1:-./lateral}
command -v valgrind > /dev/null 2>&1 || { echo "valgrind_smoke.sh: valgrind not found (apt-get install valgrind)" >&2; exit 2; }
[ -x "$LAT" ] || { echo "valgrind_smoke.sh: $LAT not built" >&2; exit 2; }
out=$(mktemp -d /tmp/lateral-vg-XXXXXX)
trap 'rm -rf "$out"' EXIT
VG="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect"
fails=0 n=0
# name, expected exit status, then the arguments
check() {
	name=$1 want=$2
	shift 2
	n=$((n + 1))
	$VG "$LAT" "$@" > "$out/$name.out" 2> "$out/$name.err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		fails=$((fails + 1))
		echo "valgrind_smoke.sh: FAIL $name: exit $got, expected $want ($LAT $*)" >&2
		sed 's/^/    /' "$out/$name.err" | head -40 >&2
	else
		echo "valgrind_smoke.sh: ok   $name" >&2
	fi
}
check help 0 help
check check 0 check models/default.cfg
check run 0 run -q --no-plot -o "$out/run" --set run.presentations=20 --set circuit.neurons=10
check trace 0 trace -q --no-plot -o "$out/trace" --set circuit.neurons=10
check validate 0 validate -q --no-plot -o "$out/validate" --set circuit.neurons=8 --set circuit.inputs=4
check sweep 0 sweep -q --no-plot -o "$out/sweep" --set run.presentations=10 --set circuit.neurons=8 --vary plasticity.gamma=0.1,0.3
check train 0 train -q --no-plot -o "$out/train" tests/smoke/tiny_experiment.cfg
check eval 0 eval --experiment tests/smoke/tiny_experiment.cfg "$out/train/checkpoint.bin"
check eval_bare 0 eval "$out/train/checkpoint.bin"
check export 0 export -q -o "$out/export" "$out/train/checkpoint.bin"
check check_experiment 0 check --print tests/smoke/tiny_experiment.cfg
check bad_model 2 run -q -o "$out/bad" tests/bad/unknown_key.cfg
check bad_experiment 2 train -q -o "$out/bad" tests/bad/experiment/data_truncated.cfg
check bad_option 2 run --frobnicate
echo "valgrind_smoke.sh: $((n - fails)) of $n commands clean under valgrind" >&2
[ "$fails" -eq 0 ]
