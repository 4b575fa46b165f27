#!/bin/sh
# train_speed.sh: training images per second of the reference network (conv and locally connected) in
# lateral and in PyTorch (Debian's python3-torch), same layers, batch 128, AdamW, real Fashion-MNIST
# images and threads, at 1 and 2 threads, in one invocation.
# Peers: PyTorch's Conv2d for conv; for lc the original study's own layer (bench/train_peer.py: padded
# input, unfold, einsum 'bgihwkc,igjhwkc->bgjhw', one bias per channel), and lateral's lc layer with the
# same bias (network.lc_bias = "channel"). UNFOLD=1 adds the F.unfold + einsum 'bkl,okl->bol' formulation,
# labelled as such (a slower peer that an earlier version of this benchmark used).
# Each figure is the median of REPEATS runs (default 3), lateral's and the peer's alternating, since
# single runs on a shared machine vary by tens of percent (PyTorch's Conv2d most).
# Usage: bench/train_speed.sh [IMAGES] [THREAD COUNTS, e.g. "1 2"]   environment: REPEATS=3 UNFOLD=0
# NETS="conv lc" (the networks to measure)
set -eu
cd "$(dirname "$0")/.."
N=${1:-5120}
THREADS=${2:-"1 2"}
UNFOLD=${UNFOLD:-0}
NETS=${NETS:-conv lc lc-unfold}
REPEATS=${REPEATS:-3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x ./lateral ] || { echo "train_speed.sh: build lateral first (./bootstrap)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "train_speed.sh: needs python3-torch" >&2; exit 2; }
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.readlines()[-1])[sys.argv[1]])" "$1"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '# reference network, batch 128, AdamW, %s Fashion-MNIST training images, %s cores; medians of %s runs\n' \
	"$N" "$(nproc)" "$REPEATS"
printf '%-7s %-6s %14s %14s %7s  %s\n' threads layer lateral_img/s peer_img/s ratio peer
for t in $THREADS; do
	for net in $NETS; do
		[ "$net" = lc-unfold ] && [ "$UNFOLD" != 1 ] && continue
		case $net in
		conv) sets="--set network.locally_connected=false" peer="" label="PyTorch Conv2d" ;;
		lc) sets="--set network.locally_connected=true --set network.lc_bias=channel" peer="--lc paper"
			label="the paper's LC layer (unfold + einsum bgihwkc)" ;;
		lc-unfold) sets="--set network.locally_connected=true" peer="--lc unfold"
			label="F.unfold + einsum bkl,okl (not the paper's layer)" ;;
		esac
		all_ours="" all_theirs=""
		for _ in $(seq "$REPEATS"); do
			# shellcheck disable=SC2086
			./lateral train -q --no-plot --force -o "$OUT/$net" --set train.epochs=1 --set data.limit_train="$N" \
				--set data.limit_test=128 --set train.threads="$t" --set train.checkpoint_every=0 $sets \
				> "$OUT/$net.json"
			all_ours="$all_ours $(field images_per_s < "$OUT/$net.json")"
			# shellcheck disable=SC2086
			all_theirs="$all_theirs $(/usr/bin/python3 bench/train_peer.py $peer --images "$N" --threads "$t" |
				field images_per_s)"
		done
		ours=$(echo "$all_ours" | median)
		theirs=$(echo "$all_theirs" | median)
		printf '%-7s %-6s %14.1f %14.1f %7.2f  %s\n' "$t" "${net%-unfold}" "$ours" "$theirs" \
			"$(/usr/bin/python3 -c "print($ours / $theirs)")" "$label"
	done
done
