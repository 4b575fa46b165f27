#!/bin/sh
# phase_cost.sh: what one sharing phase costs, in training steps of the same network, per mode.
#
# Trains the reference LC network (examples/fashion_lc_circuit.cfg: 32 and 64 channels, k 5, batch 128)
# for one epoch on the first LIMIT Fashion-MNIST images, once without sharing (the step time) and once per
# sharing mode with a phase every EVERY batches, and prints per mode: seconds per phase, seconds per
# training step (from the run without sharing, test set of 128 images), their ratio, and the epoch's mean
# per-phase shrink factors of the pool deviations and pool means, per LC layer (share_dev, share_mean).
# The circuit settled by an integrator is slow (each of its circuits is integrated in every iteration), so
# its row trains on 1280 images (one phase) with 10 of the 100 iterations: a full phase costs 10 times that.
# Usage: bench/phase_cost.sh [OUTDIR]   environment: LIMIT=5120 EVERY=10 THREADS=2
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-out/phase_cost}
LIMIT=${LIMIT:-5120}
EVERY=${EVERY:-10}
THREADS=${THREADS:-2}
LAT=./lateral
[ -x "$LAT" ] || { echo "phase_cost.sh: build lateral first (./bootstrap)" >&2; exit 2; }
mkdir -p "$OUT"

# name|images (empty: LIMIT)|--set options
MODES='none||sharing.mode=none
instant (border include)||sharing.mode=instant sharing.border=include
hebbian (transfer matrix A)||sharing.mode=hebbian
hebbian (border include: iterative)||sharing.mode=hebbian sharing.border=include
expected (scalar recursion)||sharing.mode=expected
circuit alpha 10, exact (matrices A, B)||sharing.mode=circuit sharing.alpha=10 sharing.method=exact
circuit alpha 1e4, exact (matrices A, B)||sharing.mode=circuit sharing.alpha=1e4 sharing.method=exact
circuit alpha 10, rk8pd, 10 iterations|1280|sharing.mode=circuit sharing.alpha=10 sharing.method=rk8pd sharing.iterations=10'

num() { sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p" | tail -n 1; }
arr() { sed -n "s/.*\"$1\": \[\([^]]*\)\].*/\1/p" | tail -n 1; }

echo "# one epoch on $LIMIT images, batch 128, a phase every $EVERY batches, $THREADS threads; $(date -u +%F)"
printf '%-42s %10s %10s %8s  %-24s %s\n' mode s/phase s/step ratio share_dev share_mean
step=""
echo "$MODES" | while IFS='|' read -r name images sets; do
	dir="$OUT/$(echo "$name" | tr -c 'a-z0-9\n' '_')"
	args=""
	for s in $sets; do args="$args --set $s"; done
	# shellcheck disable=SC2086
	$LAT train -q --no-plot --force -o "$dir" examples/fashion_lc_circuit.cfg $args --set sharing.every="$EVERY" \
		--set train.epochs=1 --set data.limit_train="${images:-$LIMIT}" --set data.limit_test=128 \
		--set train.threads="$THREADS" > "$dir.log"
	secs=$(num seconds < "$dir/epochs.jsonl")
	if [ -z "$step" ]; then
		step=$(awk -v s="$secs" -v n="$LIMIT" 'BEGIN { printf "%.4f", s / (n / 128) }')
		printf '%-42s %10s %10s\n' "$name" - "$step"
		echo "$step" > "$OUT/step"
		continue
	fi
	step=$(cat "$OUT/step")
	ph=$(num share_phases < "$dir/epochs.jsonl")
	ss=$(num share_seconds < "$dir/epochs.jsonl")
	awk -v n="$name" -v ss="$ss" -v ph="$ph" -v st="$step" -v dv="$(arr share_dev < "$dir/epochs.jsonl")" \
		-v mn="$(arr share_mean < "$dir/epochs.jsonl")" \
		'BEGIN { printf "%-42s %10.3f %10.4f %8.1f  %-24s %s\n", n, ss / ph, st, ss / ph / st, dv, mn }'
done
