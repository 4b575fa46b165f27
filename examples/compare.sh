#!/bin/sh
# compare.sh: the conv / LC / LC + sharing comparison on Fashion-MNIST, several seeds, into RESULTS.md.
#
# Rows: conv; LC; LC + translations (pad 2 with 1 and 4 repetitions); LC + instant sharing every 1, 10
# and 100 batches (the original study's setting); LC + circuit sharing every 10 and 100 batches (rate
# circuits integrated by the ODE engine). Every row trains the reference network of
# examples/fashion_conv.cfg with the same optimiser, for EPOCHS epochs on the first LIMIT training images.
#
# Rerunning with the same OUTDIR reuses finished runs (OUTDIR/rowI-seedS.run) and redoes the rest.
# Usage: examples/compare.sh [OUTDIR]   environment: SEEDS="1 2 3" EPOCHS=3 LIMIT=10000 THREADS=2
# The defaults finish the 27 runs in well under 2 hours on a 2-core machine (see RESULTS.md for the
# measured time); EPOCHS=10 LIMIT=0 (all 60000 images) is the full-size comparison.
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-out/compare}
SEEDS=${SEEDS:-"1 2 3"}
EPOCHS=${EPOCHS:-3}
LIMIT=${LIMIT:-10000}
THREADS=${THREADS:-2}
LAT=./lateral
[ -x "$LAT" ] || { echo "compare.sh: build lateral first (./bootstrap)" >&2; exit 2; }
mkdir -p "$OUT"

# name|extra --set options (space separated)
ROWS='conv|network.locally_connected=false
lc|network.locally_connected=true
lc + translations p=2 n=1|network.locally_connected=true data.pad=2 data.repeats=1
lc + translations p=2 n=4|network.locally_connected=true data.pad=2 data.repeats=4
lc + instant sharing every 1|network.locally_connected=true sharing.mode=instant sharing.every=1
lc + instant sharing every 10|network.locally_connected=true sharing.mode=instant sharing.every=10
lc + instant sharing every 100|network.locally_connected=true sharing.mode=instant sharing.every=100
lc + circuit sharing every 10|network.locally_connected=true sharing.mode=circuit sharing.every=10
lc + circuit sharing every 100|network.locally_connected=true sharing.mode=circuit sharing.every=100'

# last value of "key": NUMBER in a JSON line
field() { sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p" | tail -n 1; }

start=$(date +%s)
echo "$ROWS" | {
	i=0
	while IFS='|' read -r name sets; do
		i=$((i + 1))
		for seed in $SEEDS; do
			dir="$OUT/row$i-seed$seed"
			# A finished run leaves $dir.run (written last, atomically); rerunning the script reuses it.
			if [ -s "$dir.run" ]; then
				echo "compare.sh: $name, seed $seed: reusing $dir" >&2
				continue
			fi
			args=""
			for s in $sets; do args="$args --set $s"; done
			t0=$(date +%s)
			# shellcheck disable=SC2086
			$LAT train -q --no-plot -o "$dir" examples/fashion_lc_circuit.cfg --set sharing.mode=none $args \
				--set train.epochs="$EPOCHS" --set data.limit_train="$LIMIT" --set train.seed="$seed" \
				--set train.threads="$THREADS" > "$dir.log"
			t1=$(date +%s)
			acc=$(field test_acc < "$dir/epochs.jsonl")
			share=$(awk -F'"share_seconds": ' 'NF > 1 { split($2, a, "}"); s += a[1] } END { printf "%.1f", s }' "$dir/epochs.jsonl")
			echo "$i|$name|$seed|$acc|$((t1 - t0))|$share" > "$dir.run.tmp"
			mv "$dir.run.tmp" "$dir.run"
			echo "compare.sh: $name, seed $seed: test accuracy $acc % in $((t1 - t0)) s" >&2
		done
	done
}
nrows=$(echo "$ROWS" | wc -l)
: > "$OUT/runs.txt.tmp"
: > "$OUT/curves.tsv.tmp"
i=0
while [ "$i" -lt "$nrows" ]; do
	i=$((i + 1))
	# each record, plus the final SNR of the first two lc layers ("inf": identical kernels in every pool)
	for seed in $SEEDS; do
		snr=$(tail -n 1 "$OUT/row$i-seed$seed/epochs.jsonl" | sed -n 's/.*"snr_channel": \[\([^]]*\)\].*/\1/p' |
			awk -F', *' '{ for (k = 1; k <= 2; k++) printf "|%s", ($k == "" ? "-" : ($k == "null" ? "inf" : $k)) }')
		echo "$(cat "$OUT/row$i-seed$seed.run")$snr" >> "$OUT/runs.txt.tmp"
	done
	# Mean test accuracy per epoch over the seeds of row i: one gnuplot data block per row.
	for seed in $SEEDS; do
		sed -n 's/.*"epoch": \([0-9]*\),.*"test_acc": \([-0-9.e+]*\).*/\1 \2/p' "$OUT/row$i-seed$seed/epochs.jsonl"
	done | awk -v row="$i" '{ s[$1] += $2; n[$1]++ } END { for (e = 1; e in n; e++) printf "%d\t%d\t%.4f\n", row, e, s[e] / n[e]; printf "\n\n" }' \
		>> "$OUT/curves.tsv.tmp"
done
mv "$OUT/runs.txt.tmp" "$OUT/runs.txt"
mv "$OUT/curves.tsv.tmp" "$OUT/curves.tsv"
total=$(awk -F'|' '{ t += $5 } END { print t }' "$OUT/runs.txt")

{
	echo "# Fashion-MNIST: conv vs locally connected vs LC + dynamic weight sharing"
	echo
	echo "Reference network of examples/fashion_conv.cfg (5x5x32, pool, 5x5x64, pool, linear), AdamW lr 1e-3,"
	echo "weight decay 1e-4, batch 128; $EPOCHS epochs on $( [ "$LIMIT" = 0 ] && echo all 60000 || echo the first "$LIMIT") training images;"
	echo "test accuracy on the 10000 test images after the last epoch; seeds: $SEEDS; $THREADS threads."
	echo "Produced by \`SEEDS=\"$SEEDS\" EPOCHS=$EPOCHS LIMIT=$LIMIT examples/compare.sh\` on $(nproc) cores; the runs took $total s in all."
	echo
	echo "| row | test accuracy (mean ± std over seeds) | runs | wall time per run (s) | sharing time (% of run) | final SNR, lc layer 1 / 2 (mean) |"
	echo "|---|---|---|---|---|---|"
	awk -F'|' 'function snr(sum, inf, n) { return inf ? "inf" : (n ? sprintf("%.3f", sum / n) : "-") }
		{ n[$1]++; name[$1] = $2; s[$1] += $4; q[$1] += $4 * $4; t[$1] += $5; sh[$1] += $6
		  if ($7 == "inf") i1[$1] = 1; else if ($7 != "-") { a1[$1] += $7; c1[$1]++ }
		  if ($8 == "inf") i2[$1] = 1; else if ($8 != "-") { a2[$1] += $8; c2[$1]++ } }
		END { for (i = 1; i in n; i++) { m = s[i] / n[i]; v = q[i] / n[i] - m * m; if (v < 0) v = 0;
			printf "| %s | %.2f ± %.2f | %d | %.0f | %.1f | %s / %s |\n", name[i], m, sqrt(v), n[i], t[i] / n[i],
				100 * sh[i] / t[i], snr(a1[i], i1[i], c1[i]), snr(a2[i], i2[i], c2[i]);
			printf "%d\t%.4f\t%.4f\n", i, m, sqrt(v) > summary } }' summary="$OUT/summary.tsv" "$OUT/runs.txt"
	echo
	echo "Test accuracy per epoch (mean over seeds) and final accuracy (mean ± std): compare.png."
	echo "SNR: mean over pools and coordinates of |mean| / std across the pool (docs/science.md section 5); inf when"
	echo "some coordinate is identical across a pool (std 0), as instant sharing leaves taps whose gradient stays 0."
	echo "Wall times include whatever else the machine ran at the time."
	echo "Per-run records: runs.txt (row|name|seed|test accuracy|seconds|sharing seconds|SNR 1|SNR 2); per-epoch means: curves.tsv."
} > "$OUT/RESULTS.md.tmp"
mv "$OUT/RESULTS.md.tmp" "$OUT/RESULTS.md"
echo "compare.sh: wrote $OUT/RESULTS.md" >&2

if command -v gnuplot > /dev/null 2>&1; then
	titles=$(echo "$ROWS" | cut -d'|' -f1 | sed 's/.*/"&"/' | tr '\n' ' ')
	gnuplot -e "data='$OUT/curves.tsv'; summary='$OUT/summary.tsv'; out='$OUT/compare.png.tmp'; titles='$titles'" plots/compare.gp
	mv "$OUT/compare.png.tmp" "$OUT/compare.png"
	echo "compare.sh: wrote $OUT/compare.png" >&2
else
	echo "compare.sh: gnuplot not found; skipped $OUT/compare.png (apt-get install gnuplot-nox)" >&2
fi
