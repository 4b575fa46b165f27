#!/bin/sh
# speed.sh: cost per presented input of every lateral backend against the original numpy scheme,
# measured in the same invocation. Pool of N = 100 neurons, d = 81 inputs (9x9 kernel), alpha = 10,
# a fresh input every presentation.
# Usage: [REPEATS=R] bench/speed.sh [PRESENTATIONS] [NUMPY_PRESENTATIONS]
# The headline pair (numpy against `exact`) is measured R times (default 5), each lateral run right
# after its numpy run, and the medians and ranges are printed: this shared machine's speed swings by a
# third within minutes, so one pair alone can land anywhere in that range. Both sides run on one core
# (OPENBLAS_NUM_THREADS=1 keeps OpenBLAS's idle workers from spinning beside them).
set -eu
cd "$(dirname "$0")/.."
P=${1:-10000}
PN=${2:-1000}
REPEATS=${REPEATS:-5}
LAT=./lateral
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x "$LAT" ] || { echo "speed.sh: build lateral first (./bootstrap)" >&2; exit 2; }
export OPENBLAS_NUM_THREADS=1
numpy_us() {
	/usr/bin/python3 bench/numpy_reference.py --presentations "$PN" |
		/usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['microseconds_per_presentation'])"
}
# lat_us ASSIGNMENTS...: one lateral run; prints us/input, steps/input, rhs/input and the method used
lat_us() {
	sets=""
	for kv in "$@"; do sets="$sets --set $kv"; done
	# shellcheck disable=SC2086
	$LAT run -q --no-plot --force -o "$OUT/x" --set circuit.inputs=81 --set run.presentations="$P" $sets
	/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(*(d[k] for k in sys.argv[2:]))" \
		"$OUT/x/summary.json" microseconds_per_presentation steps_per_presentation \
		rhs_evals_per_presentation method_used
}

printf '# N = 100, d = 81, alpha = 10, fresh input each presentation; %s presentations per lateral run\n' "$P"
printf '# numpy peer: forward Euler, 150 steps per input, weights updated every step (%s inputs per run)\n' "$PN"
printf '# one core each side; %s pairs of numpy then `exact` (metrics every 10 presentations, the default,\n' "$REPEATS"
printf '# and only at the end, as the numpy peer computes them)\n'
printf '%-8s %12s %14s %10s %14s %10s\n' pair numpy_us exact_us ratio exact_end_us ratio
pairs=""
for r in $(seq "$REPEATS"); do
	n=$(numpy_us)
	e=$(lat_us solver.method=exact | cut -d' ' -f1)
	f=$(lat_us solver.method=exact run.record_every="$P" | cut -d' ' -f1)
	pairs="$pairs $n,$e,$f"
	/usr/bin/python3 -c "import sys; n,e,f=map(float,sys.argv[1:]); print('%-8s %12.1f %14.2f %10.0f %14.2f %10.0f' % ('$r', n, e, n/e, f, n/f))" "$n" "$e" "$f"
done
NUMPY_MED=$(/usr/bin/python3 - $pairs <<'EOF'
import statistics as st, sys
rows = [tuple(map(float, p.split(','))) for p in sys.argv[1:]]
def span(v): return '%.0f [%.0f, %.0f]' % (st.median(v), min(v), max(v))
n = [r[0] for r in rows]
print('median numpy %.1f us [%.1f, %.1f];' % (st.median(n), min(n), max(n)),
      'exact/numpy speed-up, median [range]: default metrics', span([r[0] / r[1] for r in rows]) + ',',
      'metrics at the end', span([r[0] / r[2] for r in rows]), file=sys.stderr)
print(st.median(n))
EOF
)
echo
printf '%-22s %12s %10s %12s %10s\n' backend us/input steps/in rhs/input speedup
printf '%-22s %12.1f %10s %12s %10s  (median of the pairs above)\n' "numpy (reference)" "$NUMPY_MED" 150 150 1.0
run_one() { # label, then --set assignments
	label=$1
	shift
	set -- $(lat_us "$@")
	printf '%-22s %12.1f %10.1f %12.1f %10.1f  %s\n' "$label" "$1" "$2" "$3" \
		"$(/usr/bin/python3 -c "print($NUMPY_MED / $1)")" "$4"
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
