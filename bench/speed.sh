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
for method in rk8pd exact adams bdf; do
	$LAT run -q --no-plot -o "$OUT/$method" --set circuit.inputs=81 --set run.presentations="$P" \
		--set solver.method=$method
	us=$(json "$OUT/$method/summary.json" microseconds_per_presentation)
	steps=$(json "$OUT/$method/summary.json" steps_per_presentation)
	rhs=$(json "$OUT/$method/summary.json" rhs_evals_per_presentation)
	label=$method
	[ "$method" = rk8pd ] && label="rk8pd (default)"
	printf '%-22s %12.1f %10.1f %12.1f %10.1f\n' "$label" "$us" "$steps" "$rhs" \
		"$(/usr/bin/python3 -c "print($numpy_us / $us)")"
done
