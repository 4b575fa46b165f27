#!/bin/sh
# run.sh: regenerates the results of results/*/RESULTS.md, resumably.
#
# Parts (run in this order unless named on the command line):
#   transfer  translation transfer (examples/translation_transfer.cfg): train at the left of a 42 x 42
#             canvas, test at the right; conv, LC, LC + translations, LC + instant / hebbian / circuit
#             sharing (alpha 10 and 1e4), LC + translations + hebbian; seeds 1 2 3. An extra row, hebbian
#             with the border neurons pooled too, runs seeds 1 2 only: its phases settle every border
#             circuit, and each of its runs takes about 26 minutes.
#   fashion   Fashion-MNIST, all 60000 training images, 10 epochs, seed 1, the paper's code's settings
#             (examples/fashion_lc_circuit.cfg's network with one bias per channel): conv, LC,
#             LC + translations p = 2 n = 1, hebbian every 10, instant every 10 / 100 / 1 (borders included;
#             the every-batch row last, as it is the slowest).
# Each run trains into results/PART/runs/ROW-seedS/. A finished run leaves ROW-seedS.run (written last,
# atomically) and is skipped on the next call; an unfinished one with a checkpoint continues with
# `lateral train --resume` (to the same weights as an uninterrupted run); the rest start afresh. After
# every finished run the part's RESULTS.md, table.tsv and plot are rewritten from what is finished, and
# with COMMIT=1 the run's records are committed to git (checkpoints are not: see .gitignore).
# Usage: results/run.sh [transfer] [fashion]
# Environment: LAT=./lateral; THREADS=2; COMMIT=0; SEEDS="1 2 3" (transfer); ROOT=results (where the parts go); EXTRA=""
# (more SEC.KEY=VAL settings for every run, e.g. EXTRA="train.epochs=1 data.limit_train=512" for a smoke test)
set -eu
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
COMMIT=${COMMIT:-0}
ROOT=${ROOT:-results}
EXTRA=${EXTRA:-}
LAT=${LAT:-./lateral}
[ -x "$LAT" ] || { echo "run.sh: build lateral first (./bootstrap)" >&2; exit 2; }
PARTS=${*:-transfer fashion}

# Rows: slug|name|paper (the paper's code's accuracy on the same net and data, or -)|--set options[|at
# most this many of the part's seeds (an extra row too slow for all of them)]
TRANSFER_CFG=examples/translation_transfer.cfg
TRANSFER_SEEDS=${SEEDS:-"1 2 3"}
TRANSFER_ROWS='conv|conv|-|network.locally_connected=false
lc|LC|-|network.locally_connected=true
lc-transl|LC + translations p=2 n=1|-|network.locally_connected=true data.pad=2 data.repeats=1
instant10|LC + instant every 10 (borders in)|-|network.locally_connected=true sharing.mode=instant sharing.border=include
hebbian10|LC + hebbian every 10|-|network.locally_connected=true sharing.mode=hebbian
hebbian100|LC + hebbian every 100|-|network.locally_connected=true sharing.mode=hebbian sharing.every=100
circuit1e4-100|LC + circuit alpha 1e4 every 100|-|network.locally_connected=true sharing.mode=circuit sharing.alpha=1e4 sharing.every=100
circuit10-100|LC + circuit alpha 10 every 100|-|network.locally_connected=true sharing.mode=circuit sharing.alpha=10 sharing.every=100
lc-transl-hebbian10|LC + translations + hebbian every 10|-|network.locally_connected=true data.pad=2 data.repeats=1 sharing.mode=hebbian
hebbian10-in|LC + hebbian every 10 (borders in)|-|network.locally_connected=true sharing.mode=hebbian sharing.border=include|2'
FASHION_CFG=examples/fashion_lc_circuit.cfg
FASHION_SEEDS=1
FASHION_COMMON='network.lc_bias=channel train.epochs=10 data.limit_train=0 sharing.mode=none'
FASHION_ROWS='conv|conv|91.28|network.locally_connected=false
lc|LC|90.03|network.locally_connected=true
lc-transl|LC + translations p=2 n=1|89.39|network.locally_connected=true data.pad=2 data.repeats=1
hebbian10|LC + hebbian every 10|90.81|network.locally_connected=true sharing.mode=hebbian sharing.every=10
instant10|LC + instant every 10 (borders in)|88.26|network.locally_connected=true sharing.mode=instant sharing.every=10 sharing.border=include
instant100|LC + instant every 100 (borders in)|87.72|network.locally_connected=true sharing.mode=instant sharing.every=100 sharing.border=include
instant1|LC + instant every 1 (borders in)|90.24|network.locally_connected=true sharing.mode=instant sharing.every=1 sharing.border=include'

# last value of "key": NUMBER, or of "key": [A, B], in a JSON line
num() { sed -n "s/.*\"$1\": \([-0-9.e+a-z]*\).*/\1/p" | tail -n 1; }
arr() { sed -n "s/.*\"$1\": \[\([^]]*\)\].*/\1/p" | tail -n 1 | tr -d ' '; }

# run PART CFG SLUG SEED SETS: one training run, skipped when finished, resumed when it has a checkpoint
run() {
	part=$1 cfg=$2 slug=$3 seed=$4 sets=$5
	dir=$ROOT/$part/runs/$slug-seed$seed
	if [ -s "$dir.run" ]; then return 0; fi
	mkdir -p "$dir"
	args=""
	for s in $sets; do args="$args --set $s"; done
	# an unfinished run continues from its checkpoint; one without a checkpoint starts again (--force:
	# its folder may hold the log of the attempt)
	resume=--force
	if [ -s "$dir/checkpoint.bin" ]; then
		resume=--resume
		echo "run.sh: $part $slug seed $seed: resuming" >&2
	else
		echo "run.sh: $part $slug seed $seed: starting" >&2
	fi
	t0=$(date +%s)
	# shellcheck disable=SC2086
	$LAT train -q --no-plot $resume -o "$dir" "$cfg" $args --set train.seed="$seed" \
		--set train.threads="$THREADS" >> "$dir/train.log" 2>&1 || {
		echo "run.sh: $part $slug seed $seed failed; see $dir/train.log" >&2
		return 1
	}
	t1=$(date +%s)
	last=$(tail -n 1 "$dir/epochs.jsonl")
	echo "$slug|$seed|$(echo "$last" | num test_acc)|$(echo "$last" | arr snr_channel)|$(echo "$last" | arr share_dev)|$(echo "$last" | arr share_mean)|$((t1 - t0))" > "$dir.run.tmp"
	mv "$dir.run.tmp" "$dir.run"
	echo "run.sh: $part $slug seed $seed: test accuracy $(echo "$last" | num test_acc) % in $((t1 - t0)) s" >&2
}

# report PART ROWS SEEDS TITLE: RESULTS.md, table.tsv, curves.tsv and curves.png from the finished runs
report() {
	part=$1 rows=$2 seeds=$3 title=$4
	out=$ROOT/$part
	: > "$out/table.tsv.tmp"
	: > "$out/curves.tsv.tmp"
	titles=""
	echo "$rows" | while IFS='|' read -r slug name paper sets; do
		for seed in $seeds; do
			f=$ROOT/$part/runs/$slug-seed$seed
			# (if, not &&: an unfinished last run must not end the loop with a failure under set -e)
			if [ -s "$f.run" ]; then echo "$name|$paper|$(cat "$f.run")" >> "$out/table.tsv.tmp"; fi
		done
	done
	# per row: epoch, mean test accuracy, mean snr_channel of lc layers 1 and 2, over its finished seeds
	echo "$rows" | while IFS='|' read -r slug name paper sets; do
		for seed in $seeds; do
			f=$ROOT/$part/runs/$slug-seed$seed
			if [ -s "$f.run" ]; then
				sed -n 's/.*"epoch": \([0-9]*\),.*"test_acc": \([-0-9.e+]*\),.*"snr_channel": \[\([^]]*\)\].*/\1 \2 \3/p' "$f/epochs.jsonl" | tr -d ','
			fi
		done | awk -v name="$name" '{ a[$1] += $2; s1[$1] += ($3 == "" ? 0 : $3); s2[$1] += ($4 == "" ? 0 : $4); n[$1]++ }
			END { printf "\"%s\" acc snr1 snr2\n", name; for (e = 1; e in n; e++) printf "%d\t%.4f\t%.4f\t%.4f\n", e, a[e] / n[e], s1[e] / n[e], s2[e] / n[e]; printf "\n\n" }'
	done >> "$out/curves.tsv.tmp"
	mv "$out/table.tsv.tmp" "$out/table.tsv"
	mv "$out/curves.tsv.tmp" "$out/curves.tsv"
	{
		echo "# $title"
		echo
		echo "Produced by \`results/run.sh $part\` ($(nproc) cores, $THREADS threads); the table holds the runs finished so far."
		echo "Test accuracy after the last epoch (percent, mean ± std over the seeds, population std); snr_channel: the"
		echo "paper's network figure per LC layer (docs/science.md section 5), mean over seeds; share_dev / share_mean: the"
		echo "last epoch's mean per-phase shrink factor of the pool deviations and of the pool means, per LC layer."
		echo
		echo "| row | test accuracy | seeds | paper's code | snr_channel 1 / 2 | share_dev 1 / 2 | share_mean 1 / 2 | minutes per run |"
		echo "|---|---|---|---|---|---|---|---|"
		awk -F'|' '
			function two(s, n,   a) { if (s == "" ) return "-"; split(s, a, ","); return sprintf("%s / %s", fmt(a[1]), fmt(a[2])) }
			function fmt(x) { return x == "" ? "-" : (x == "null" ? "inf" : sprintf("%.3g", x)) }
			{ k = $1; if (!(k in n)) order[++m] = k; n[k]++; paper[k] = $2; s[k] += $5; q[k] += $5 * $5; t[k] += $9
			  snr[k] = $6; dev[k] = $7; mean[k] = $8
			  split($6, a, ","); c1[k] += a[1]; c2[k] += a[2] }
			END { for (i = 1; i <= m; i++) { k = order[i]; mu = s[k] / n[k]; v = q[k] / n[k] - mu * mu; if (v < 0) v = 0
				snrs = c1[k] == 0 && c2[k] == 0 ? "-" : sprintf("%.3f / %.3f", c1[k] / n[k], c2[k] / n[k])
				printf "| %s | %.2f ± %.2f | %d | %s | %s | %s | %s | %.1f |\n", k, mu, sqrt(v), n[k], paper[k], snrs,
					two(dev[k]), two(mean[k]), t[k] / n[k] / 60 } }' "$out/table.tsv"
		echo
		echo "Per-epoch test accuracy and snr_channel (means over seeds): curves.png, curves.tsv. Per run: table.tsv"
		echo "(row|paper|slug|seed|test accuracy|snr_channel|share_dev|share_mean|seconds) and runs/ROW-seedS/epochs.jsonl."
	} > "$out/RESULTS.md.tmp"
	# the reading of the table, written by hand, is kept between regenerations
	if [ -s "$out/reading.md" ]; then
		{ echo; cat "$out/reading.md"; } >> "$out/RESULTS.md.tmp"
	fi
	mv "$out/RESULTS.md.tmp" "$out/RESULTS.md"
	if command -v gnuplot > /dev/null 2>&1; then
		# (conv rows have no snr_channel: gnuplot's "no valid points" warnings about them are dropped)
		gnuplot -e "data='$out/curves.tsv'; out='$out/curves.png.tmp'; heading='$title'" plots/results.gp 2>&1 |
			{ grep -v 'no valid points' >&2 || true; }
		if [ -s "$out/curves.png.tmp" ]; then mv "$out/curves.png.tmp" "$out/curves.png"; fi
	fi
}

commit() {
	[ "$COMMIT" = 1 ] || return 0
	git add -f "$ROOT/$1/RESULTS.md" "$ROOT/$1/table.tsv" "$ROOT/$1/curves.tsv" "$ROOT/$1/runs/$2.run" \
		"$ROOT/$1/runs/$2/epochs.jsonl" "$ROOT/$1/runs/$2/train.log" && { [ ! -s "$ROOT/$1/curves.png" ] || git add -f "$ROOT/$1/curves.png"; } &&
		for f in experiment.cfg provenance.jsonl; do [ ! -s "$ROOT/$1/runs/$2/$f" ] || git add -f "$ROOT/$1/runs/$2/$f"; done
	git commit -q -m "results: $1 $2 finished" -- "$ROOT/$1" || true
}

# part NAME CFG ROWS SEEDS COMMON TITLE: every run of a part, seeds outermost so that each row has a
# first seed early
part() {
	name=$1 cfg=$2 rows=$3 seeds=$4 common=$5 title=$6
	mkdir -p "$ROOT/$name/runs"
	k=0
	for seed in $seeds; do
		k=$((k + 1))
		echo "$rows" | while IFS='|' read -r slug rname paper sets most; do
			[ -s "$ROOT/$name/runs/$slug-seed$seed.run" ] && continue
			[ -n "$most" ] && [ "$k" -gt "$most" ] && continue
			run "$name" "$cfg" "$slug" "$seed" "$common $sets $EXTRA" || exit 1
			report "$name" "$rows" "$seeds" "$title"
			commit "$name" "$slug-seed$seed"
		done || return 1
	done
	report "$name" "$rows" "$seeds" "$title"
}

for p in $PARTS; do
	case $p in
	transfer)
		part transfer "$TRANSFER_CFG" "$TRANSFER_ROWS" "$TRANSFER_SEEDS" "" \
			"Translation transfer: Fashion-MNIST trained at canvas x 0-4, tested at x 10-14" ;;
	fashion)
		part fashion "$FASHION_CFG" "$FASHION_ROWS" "$FASHION_SEEDS" "$FASHION_COMMON" \
			"Fashion-MNIST, 10 epochs, conv vs LC vs LC + weight sharing" ;;
	*) echo "run.sh: unknown part '$p' (transfer, fashion)" >&2; exit 2 ;;
	esac
done
