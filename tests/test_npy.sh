#!/bin/sh
# test_npy.sh: `lateral export` read back by numpy alone (examples/load_export.py): every file loads, with
# the shape and dtype index.json gives, and the first LC layer's weights equal the checkpoint's own
# parameters as lateral eval sees them (the same bytes). Skipped (77) without python3-numpy.
set -u
b=${top_builddir:-.}
s=${top_srcdir:-.}
py=""
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import numpy' 2>/dev/null; then py=$p; break; fi
done
[ -n "$py" ] || { echo "test_npy: no python3 with numpy: skipped"; exit 77; }
tmp=$(mktemp -d /tmp/lateral-npy-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# a tiny IDX data set: 64 images 6 x 6, two classes
"$py" - "$tmp" <<'PY' || exit 1
import struct, sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(1)
for name, n in (("tr", 64), ("te", 32)):
    y = np.arange(n) % 2
    x = (rng.random((n, 6, 6)) * 80 + np.where(y[:, None, None] == 0, 150, 40)).astype(np.uint8)
    open(f"{d}/{name}-images", "wb").write(struct.pack(">IIII", 0x803, n, 6, 6) + x.tobytes())
    open(f"{d}/{name}-labels", "wb").write(struct.pack(">II", 0x801, n) + y.astype(np.uint8).tobytes())
PY
cat > "$tmp/exp.cfg" <<CFG
data = { train_images = "tr-images"; train_labels = "tr-labels"; test_images = "te-images"; test_labels = "te-labels"; };
network = { layers = ( { type = "lc"; channels = 3; kernel = 3; }, { type = "relu"; }, { type = "linear"; outputs = 10; } ); };
train = { epochs = 2; batch = 16; threads = 1; };
CFG
"$b/lateral" train -q --no-plot -o "$tmp/run" "$tmp/exp.cfg" > /dev/null || exit 1
"$b/lateral" export -q -o "$tmp/export" "$tmp/run/checkpoint.bin" || exit 1
"$py" "$s/examples/load_export.py" "$tmp/export" || exit 1
# the weights of layer 1 against the checkpoint's PARM section, read here from the container's layout
"$py" - "$tmp" <<'PY' || exit 1
import struct, sys, numpy as np
d = sys.argv[1]
raw = open(f"{d}/run/checkpoint.bin", "rb").read()
off = 20
while True:
    tag, typ, n = struct.unpack_from("<4sIQ", raw, off)
    if tag == b"PARM":
        parm = np.frombuffer(raw, "<f4", n // 4, off + 16)
        break
    off += 16 + n
w = np.load(f"{d}/export/layer01_lc_weight.npy")
assert w.shape == (3, 6, 6, 1, 3, 3), w.shape
assert np.array_equal(w.ravel(), parm[: w.size]), "layer 1 weights differ from the checkpoint"
b = np.load(f"{d}/export/layer01_lc_bias.npy")
assert np.array_equal(b.ravel(), parm[w.size : w.size + b.size])
print("test_npy: layer 1 weights and bias equal the checkpoint's parameters")
PY
