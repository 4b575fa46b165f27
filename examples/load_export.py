#!/usr/bin/env python3
"""load_export.py: reads the output of `lateral export` with numpy alone and checks it against its index.

Usage: examples/load_export.py DIR    (DIR/index.json and the .npy files it lists)
Prints one line per array (file, shape, mean |value|) and exits 1 if a file's shape or dtype disagrees
with the index. Needs python3-numpy."""
import json
import os
import sys

import numpy as np


def main(d):
    with open(os.path.join(d, "index.json")) as f:
        index = json.load(f)
    bad = 0
    for a in index["arrays"]:
        x = np.load(os.path.join(d, a["file"]))
        ok = list(x.shape) == a["shape"] and str(x.dtype) == a["dtype"]
        bad += not ok
        print(f"{a['file']:36s} {str(x.shape):24s} {a['dtype']:8s} mean |x| {np.abs(x).mean():.6g}"
              f"{'' if ok else '   DISAGREES WITH index.json'}")
    print(f"{len(index['arrays'])} arrays of {index['checkpoint']} (after {index['epochs']} epochs)")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
