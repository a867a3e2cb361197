"""Rockpool's bit-accurate Xylo simulator (``xylosim``, the back end of Rockpool's ``XyloSim``)
on one network, run in its own process by bench_sim.py (a crash of the C++ extension must not
take the benchmark down).

Xylo (SynSense syns61300) holds at most 16 input channels, 1000 hidden and 8 output neurons,
int8 weights and 16-bit state; its neuron has a synaptic current decayed by a bit shift
(``i <- i - (i >> dash_syn) + W x``), a membrane decayed the same way (``v <- v - (v >> dash_mem)
+ i``) and can emit several spikes per step. Rockpool builds ``XyloSim`` from a samna
configuration; samna is not importable here (the PyPI package is an installer that downloads the
real one at import), so this script builds the same ``xylosim.v1.XyloLayer`` that
``XyloSim.from_config`` builds, from the weights directly (dash_mem = dash_syn = 15, the
slowest decay).

    python peer_xylo.py IN.npz OUT.json

IN.npz: w_in [16, H], w_out [H, 8], thr [H], thr_out [8] (ints), x [T, N, 16] (0/1).
OUT.json: {"wall_s", "first_step_spikes" [N, H] (0/1), "version"}.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def build(w_in: np.ndarray, w_out: np.ndarray, thr: np.ndarray, thr_out: np.ndarray
          ) -> tuple[object, list[object]]:
    """The XyloLayer and the synapse lists it points into: the layer does not own them, so they
    must outlive it (dropping them crashes ``evolve``)."""
    from xylosim.v1 import XyloLayer, XyloSynapse

    n_h, n_out = w_out.shape
    syn_in = [[XyloSynapse(int(p), 0, int(row[p])) for p in np.flatnonzero(row)] for row in w_in]
    syn_out = [[XyloSynapse(int(p), 0, int(row[p])) for p in np.flatnonzero(row)]
               for row in w_out]
    syn_rec, aliases = [[] for _ in range(n_h)], [[] for _ in range(n_h)]
    layer = XyloLayer(syn_in, syn_rec, syn_out, aliases,
                      [int(t) for t in thr], [int(t) for t in thr_out], 0, 0, 0,
                      [15] * n_h, [15] * n_out, [[15, 15] for _ in range(n_h)],
                      [[15] for _ in range(n_out)], "bench")
    return layer, [syn_in, syn_rec, syn_out, aliases]


def main(argv: list[str]) -> int:
    from importlib.metadata import version

    data = np.load(argv[0])
    layer, keep = build(data["w_in"], data["w_out"], data["thr"], data["thr_out"])
    x = data["x"]
    rasters = [x[:, s].astype(int).tolist() for s in range(x.shape[1])]
    first = []
    t0 = time.perf_counter()
    for raster in rasters:
        layer.reset_all()
        layer.evolve(raster)
        first.append(np.asarray(layer.rec_recurrent_spikes)[0])
    wall = time.perf_counter() - t0
    del keep
    doc = {"wall_s": wall, "first_step_spikes": (np.asarray(first) > 0).astype(int).tolist(),
           "version": version("xylosim")}
    with open(argv[1], "w", encoding="utf-8") as fh:
        json.dump(doc, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
