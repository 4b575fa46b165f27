#!/bin/sh
# dp_speed.sh: data-parallel training on this machine: 1 rank x 1 thread against P ranks x 1 thread, the
# same global batch (128), the reference conv and LC networks (examples/fashion_conv.cfg, fashion_lc.cfg)
# on all of Fashion-MNIST, in one invocation. Prints per network and rank count: the mean training
# images/s over the epochs, the speed-up over 1 rank, the share of the epoch spent in the gradient sums
# (sum_seconds, waiting for the slower rank included), and the test accuracy after the last epoch.
# Usage: bench/dp_speed.sh [EPOCHS (2)] [RANK COUNTS ("2")]; SETS="sec.key=v ..." adds settings to every
# run (e.g. SETS="data.limit_train=2560" for a quick look), NETS="conv lc" the networks (lc-split: the LC
# network with network.shard = "locations", its lc layers split over the ranks instead, in groups of
# GROUP ranks when GROUP is set, the groups data parallel; sum_share then counts the parts' sums; lc-rows:
# the same with network.shard = "rows", the activations in strips of rows too; lc-whole: the LC network
# data parallel with train.split_optimizer = false, every rank summing all gradients and stepping the
# optimiser on all parameters), REPEATS the times to run it all (each 1-rank run right before its
# P-rank runs, so that a slow spell of a shared machine hits both; with more than one, the median speed-up
# and its range are printed at the end), MPIFLAGS more
# mpirun options (e.g. Open MPI's "--mca coll_tuned_use_dynamic_rules 1 --mca
# coll_tuned_allreduce_algorithm 4", the ring allreduce). Needs mpirun (Open MPI); as root it sets
# Open MPI's two root variables for its own runs.
set -eu
cd "$(dirname "$0")/.."
EPOCHS=${1:-2}
RANKS=${2:-2}
REPEATS=${REPEATS:-1}
SETS=${SETS:-}
NETS=${NETS:-"conv lc"}
MPIFLAGS=${MPIFLAGS:-}
sets=""
for kv in $SETS; do sets="$sets --set $kv"; done
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x ./lateral ] || { echo "dp_speed.sh: build lateral first (./bootstrap)" >&2; exit 2; }
command -v mpirun > /dev/null || { echo "dp_speed.sh: needs mpirun (Debian's openmpi-bin)" >&2; exit 2; }
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe
# mean of a key over the epochs of a log, and its last value
mean() { sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p" "$2" | awk '{ s += $1; n++ } END { printf "%.4f", s / n }'; }
last() { sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p" "$2" | tail -n 1; }
printf '# %s epochs of Fashion-MNIST (all 60000 training images unless SETS limits them: %s), global batch 128,\n# 1 thread per rank, %s cores\n' \
	"$EPOCHS" "${SETS:-none}" "$(nproc)"
[ -z "$MPIFLAGS" ] || printf '# mpirun %s\n' "$MPIFLAGS"
printf '%-8s %5s %10s %8s %11s %9s\n' net ranks images/s speedup sum_share test_acc
for rep in $(seq "$REPEATS"); do
for net in $NETS; do
	base=""
	for p in 1 $RANKS; do
		rm -rf "$OUT/$net-$p"
		log=$OUT/$net-$p/epochs.jsonl
		launch="" cfg=$net split=""
		[ "$p" -gt 1 ] && launch="mpirun -np $p $MPIFLAGS"
		if [ "$net" = lc-whole ]; then
			split="--set train.split_optimizer=false"
			cfg=lc
		fi
		if [ "$net" = lc-split ] || [ "$net" = lc-rows ]; then
			split="--set network.shard=locations"
			[ "$net" = lc-rows ] && split="--set network.shard=rows"
			cfg=lc
			[ -n "${GROUP:-}" ] && [ "$p" -gt "$GROUP" ] && split="$split --set network.shard_ranks=$GROUP"
		fi
		# shellcheck disable=SC2086
		$launch ./lateral train -q --no-plot -o "$OUT/$net-$p" "examples/fashion_$cfg.cfg" \
			--set train.epochs="$EPOCHS" --set train.threads=1 $sets $split > /dev/null
		ips=$(mean images_per_s "$log")
		[ -z "$base" ] && base=$ips
		share=0
		[ "$p" -gt 1 ] && share=$(awk -v s="$(mean sum_seconds "$log")" -v t="$(mean seconds "$log")" 'BEGIN { printf "%.3f", s / t }')
		speedup=$(awk -v a="$ips" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
		[ "$p" -gt 1 ] && echo "$net $p $speedup" >> "$OUT/speedups"
		printf '%-8s %5s %10.1f %8s %11s %9s\n' "$net" "$p" "$ips" "$speedup" "$share" "$(last test_acc "$log")"
	done
done
done
# several repeats: each speed-up's median and range over them
if [ "$REPEATS" -gt 1 ]; then
	printf '# speed-up over the %s repeats (each against the 1-rank run just before it): median [min, max]\n' "$REPEATS"
	sort -k1,1 -k2,2n -k3,3n "$OUT/speedups" | awk '
		function flush() { if (n) printf "%-8s %5s %8s [%s, %s]\n", key, r, v[int((n + 1) / 2)], v[1], v[n]; n = 0 }
		$1 " " $2 != cur { flush(); cur = $1 " " $2; key = $1; r = $2 }
		{ v[++n] = $3 }
		END { flush() }'
fi
