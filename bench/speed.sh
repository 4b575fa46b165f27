#!/bin/sh
# speed.sh: cost per presented input of every lateral backend against the original numpy scheme,
# measured in the same invocation. Pool of N = 100 neurons, d = 81 inputs (9x9 kernel), alpha = 10,
# a fresh input every presentation. Usage: bench/speed.sh [PRESENTATIONS] [NUMPY_PRESENTATIONS]
set -eu
cd "$(dirname "$0")/.."
P=${1:-10000}
PN=${2:-1000}
LAT=./lateral
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x "$LAT" ] || { echo "speed.sh: build lateral first (./bootstrap)" >&2; exit 2; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])" "$@"; }

numpy_us=$(/usr/bin/python3 bench/numpy_reference.py --presentations "$PN" |
	/usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['microseconds_per_presentation'])")
printf '# N = 100, d = 81, alpha = 10, fresh input each presentation; %s presentations per backend\n' "$P"
printf '# numpy peer: forward Euler, 150 steps per input, weights updated every step (%s inputs)\n' "$PN"
printf '%-22s %12s %10s %12s %10s\n' backend us/input steps/in rhs/input speedup
printf '%-22s %12.1f %10s %12s %10s\n' "numpy (reference)" "$numpy_us" 150 150 1.0
run_one() { # label, then --set assignments
	label=$1
	shift
	sets=""
	for kv in "$@"; do sets="$sets --set $kv"; done
	# shellcheck disable=SC2086
	$LAT run -q --no-plot --force -o "$OUT/x" --set circuit.inputs=81 --set run.presentations="$P" $sets
	us=$(json "$OUT/x/summary.json" microseconds_per_presentation)
	steps=$(json "$OUT/x/summary.json" steps_per_presentation)
	rhs=$(json "$OUT/x/summary.json" rhs_evals_per_presentation)
	used=$(json "$OUT/x/summary.json" method_used)
	printf '%-22s %12.1f %10.1f %12.1f %10.1f  %s\n' "$label" "$us" "$steps" "$rhs" \
		"$(/usr/bin/python3 -c "print($numpy_us / $us)")" "$used"
}
for method in auto rk8pd exact adams bdf; do
	label=$method
	[ "$method" = auto ] && label="auto (default)"
	run_one "$label" solver.method=$method
done
# the default method where the named integrators stall (issue 8): large alpha, linear and relu units
for a in 1e4 1e6; do
	run_one "auto, alpha $a" circuit.alpha=$a
done
RP=$((P / 100 > 0 ? P / 100 : 1))
P=$RP
for a in 1e4 1e6; do
	run_one "auto relu, alpha $a" circuit.alpha=$a circuit.nonlinearity=relu
done
