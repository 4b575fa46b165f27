#!/usr/bin/python3
"""numpy_reference.py: the original authors' numpy scheme for one pool, as the speed peer of lateral.

Forward Euler with a fixed number of steps per input (150) and the weights updated at every step
(continuous plasticity), vectorised over neurons. Same circuit as lateral's default model:
  tau dr/dt = -r + W x - alpha r_inh + b,  tau_inh dr_inh/dt = -r_inh + mean(r) - b,
  dW = -eta dt/tau [ (r - b) x^T + gamma (W - W0) ].
Prints one JSON line with the cost per input."""
import argparse
import json
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--inputs", type=int, default=81, help="input dimension d")
    ap.add_argument("--presentations", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=150, help="Euler steps per input")
    ap.add_argument("--dt", type=float, default=1.0)
    ap.add_argument("--tau", type=float, default=30.0)
    ap.add_argument("--tau-inh", type=float, default=30.0)
    ap.add_argument("--alpha", type=float, default=10.0)
    ap.add_argument("--bias", type=float, default=1.0)
    ap.add_argument("--eta", type=float, default=0.01)
    ap.add_argument("--gamma", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    n, d = a.neurons, a.inputs
    w = 1.0 + rng.standard_normal((n, d))
    w0 = w.copy()
    r = np.full(n, a.bias)
    r_inh = 0.0
    k, k_inh, k_w = a.dt / a.tau, a.dt / a.tau_inh, a.eta * a.dt / a.tau
    # w -= k_w [(r - b) x^T + gamma (w - w0)], rearranged into in-place passes without temporaries:
    # w = (1 - k_w gamma) w + k_w gamma w0 - k_w (r - b) x^T
    shrink, pull = 1.0 - k_w * a.gamma, k_w * a.gamma * w0
    hebb = np.empty_like(w)
    start = time.perf_counter()
    for _ in range(a.presentations):
        x = rng.standard_normal(d)
        for _ in range(a.steps):
            z = w @ x
            r_new = r + k * (-r + z - a.alpha * r_inh + a.bias)
            r_inh += k_inh * (-r_inh + r.mean() - a.bias)
            r = r_new
            np.outer(k_w * (r - a.bias), x, out=hebb)
            w *= shrink
            w += pull
            w -= hebb
    seconds = time.perf_counter() - start
    m = w.mean(axis=0)
    v = w.var(axis=0)
    print(json.dumps({"peer": "numpy forward Euler", "neurons": n, "inputs": d,
                      "presentations": a.presentations, "steps_per_input": a.steps,
                      "seconds": seconds,
                      "microseconds_per_presentation": 1e6 * seconds / a.presentations,
                      "snr_pool_final": float(np.mean(m * m / v))}))


if __name__ == "__main__":
    main()
