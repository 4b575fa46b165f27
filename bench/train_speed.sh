#!/bin/sh
# train_speed.sh: training images per second of the reference network (conv and locally connected) in
# lateral and in PyTorch (Debian's python3-torch), same batch, threads and images, in one invocation.
# Usage: bench/train_speed.sh [IMAGES] [THREADS]
set -eu
cd "$(dirname "$0")/.."
N=${1:-12800}
T=${2:-2}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x ./lateral ] || { echo "train_speed.sh: build lateral first (./bootstrap)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "train_speed.sh: needs python3-torch" >&2; exit 2; }
printf '# reference network, batch 128, %s Fashion-MNIST training images, %s threads\n' "$N" "$T"
printf '%-8s %16s %16s %8s\n' network lateral_img/s pytorch_img/s ratio
for net in conv lc; do
	lcset=false
	[ "$net" = lc ] && lcset=true
	./lateral train -q --no-plot --force -o "$OUT/$net" --set train.epochs=1 --set data.limit_train="$N" \
		--set data.limit_test=1000 --set train.threads="$T" --set network.locally_connected=$lcset \
		--set train.checkpoint_every=0 > "$OUT/$net.json"
	ours=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['images_per_s'])" "$OUT/$net.json")
	flag=""
	[ "$net" = lc ] && flag="--lc"
	peer=$(/usr/bin/python3 bench/train_peer.py $flag --images "$N" --threads "$T" |
		/usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['images_per_s'])")
	printf '%-8s %16.1f %16.1f %8.2f\n' "$net" "$ours" "$peer" "$(/usr/bin/python3 -c "print($ours / $peer)")"
done
