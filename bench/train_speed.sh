#!/bin/sh
# train_speed.sh: training images per second of the reference network (conv and locally connected) in
# lateral and in PyTorch (Debian's python3-torch), same layers, batch 128, AdamW, real Fashion-MNIST
# images and threads, at 1 and 2 threads, in one invocation.
# Peers: PyTorch's Conv2d for conv; for lc the original study's own layer (bench/train_peer.py: padded
# input, unfold, einsum 'bgihwkc,igjhwkc->bgjhw', one bias per channel), and lateral's lc layer with the
# same bias (network.lc_bias = "channel"). UNFOLD=1 adds the F.unfold + einsum 'bkl,okl->bol' formulation,
# labelled as such (a slower peer that an earlier version of this benchmark used).
# Usage: bench/train_speed.sh [IMAGES] [THREAD COUNTS, e.g. "1 2"]
set -eu
cd "$(dirname "$0")/.."
N=${1:-5120}
THREADS=${2:-"1 2"}
UNFOLD=${UNFOLD:-0}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x ./lateral ] || { echo "train_speed.sh: build lateral first (./bootstrap)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "train_speed.sh: needs python3-torch" >&2; exit 2; }
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.readlines()[-1])[sys.argv[1]])" "$1"; }
printf '# reference network, batch 128, AdamW, %s Fashion-MNIST training images, %s cores\n' "$N" "$(nproc)"
printf '%-7s %-6s %14s %14s %7s  %s\n' threads layer lateral_img/s peer_img/s ratio peer
for t in $THREADS; do
	for net in conv lc lc-unfold; do
		[ "$net" = lc-unfold ] && [ "$UNFOLD" != 1 ] && continue
		case $net in
		conv) sets="--set network.locally_connected=false" peer="" label="PyTorch Conv2d" ;;
		lc) sets="--set network.locally_connected=true --set network.lc_bias=channel" peer="--lc paper"
			label="the paper's LC layer (unfold + einsum bgihwkc)" ;;
		lc-unfold) sets="--set network.locally_connected=true" peer="--lc unfold"
			label="F.unfold + einsum bkl,okl (not the paper's layer)" ;;
		esac
		# shellcheck disable=SC2086
		./lateral train -q --no-plot --force -o "$OUT/$net" --set train.epochs=1 --set data.limit_train="$N" \
			--set data.limit_test=128 --set train.threads="$t" --set train.checkpoint_every=0 $sets > "$OUT/$net.json"
		ours=$(field images_per_s < "$OUT/$net.json")
		# shellcheck disable=SC2086
		theirs=$(/usr/bin/python3 bench/train_peer.py $peer --images "$N" --threads "$t" | field images_per_s)
		printf '%-7s %-6s %14.1f %14.1f %7.2f  %s\n' "$t" "${net%-unfold}" "$ours" "$theirs" \
			"$(/usr/bin/python3 -c "print($ours / $theirs)")" "$label"
	done
done
