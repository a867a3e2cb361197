"""The ``bitcell`` engine: every SOP goes through the per-cell macro model, the specification.

(The ``bitlevel`` engine, :mod:`flexspim.sim.bitlevel`, runs the same phases on bit planes and
is proven equal to this one; this one keeps one byte per SRAM cell and is slow.)

Per timestep and spiking layer, the layer's input events are expanded into their SOPs, one
(target neuron, weight) pair per event and existing synapse (an input count k gives k SOPs). The
SOPs are grouped into *rounds* in which every neuron appears at most once, and each round is one
call of :func:`flexspim.macro.in_memory_add` (one lane per SOP; paper §II: one in-memory
addition per lane; a round larger than one macro holds is split into several calls), so a
neuron that receives several events in one timestep adds them in sequence into its wrapped
``v_bits`` membrane. A neuron overflowed in the timestep iff the sum of its
per-lane wrap directions (+1/-1) is nonzero: its exact sum left the range by that many multiples of
2**v_bits. The SOP counts are the macro's own counters. Before a leaky layer's SOPs, every
membrane of the layer is leaked through the macro model (:func:`leak_membranes`,
:func:`flexspim.macro.leak.in_memory_leak`: read, the periphery's ``-t(v)`` written into scratch
rows, added in the array). Threshold and reset follow :mod:`flexspim.net.layers`. Meant for
small networks and checks: it is slow (about 2e5 SOP/s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from flexspim.hw import MacroSpec
from flexspim.macro import in_memory_add
from flexspim.macro.leak import in_memory_leak
from flexspim.net.layers import Conv2d, Flatten, Linear, SpikeMaxPool, SpikingLayer
from flexspim.net.network import IntNetwork
from flexspim.sim.common import BatchStats, batch_stats, layer_input_bounds, new_tallies


def conv_sops(layer: Conv2d, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SOPs of one timestep of a conv layer: (flat target neuron index, weight), int64.

    ``x``: counts ``[N, C, H, W]``; neurons are numbered C-order over ``[N, O, OH, OW]``.
    """
    w = np.asarray(layer.weight, dtype=np.int64)
    o_ch = w.shape[0]
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    _, _, h, wd = x.shape
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    n_i, c_i, y_i, x_i = np.nonzero(x)
    k = x[n_i, c_i, y_i, x_i]
    targets, weights = [], []
    for i in range(kh):
        for j in range(kw):
            ry, rx = y_i + ph - i, x_i + pw - j
            ok = (ry % sh == 0) & (rx % sw == 0) & (ry >= 0) & (rx >= 0)
            ok &= (ry // sh < oh) & (rx // sw < ow)
            if not ok.any():
                continue
            n_e, c_e, oy, ox, k_e = n_i[ok], c_i[ok], ry[ok] // sh, rx[ok] // sw, k[ok]
            o = np.arange(o_ch)
            tgt = ((n_e[:, None] * o_ch + o[None, :]) * oh + oy[:, None]) * ow + ox[:, None]
            wts = w[o[None, :], c_e[:, None], i, j]
            reps = np.repeat(k_e, o_ch)
            targets.append(np.repeat(tgt.reshape(-1), reps))
            weights.append(np.repeat(wts.reshape(-1), reps))
    if not targets:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(targets), np.concatenate(weights)


def linear_sops(layer: SpikingLayer, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SOPs of one timestep of a linear layer (``x``: counts ``[N, F]``); see :func:`conv_sops`."""
    w = np.asarray(layer.weight, dtype=np.int64)
    o_ch = w.shape[0]
    n_i, f_i = np.nonzero(x)
    k = x[n_i, f_i]
    o = np.arange(o_ch)
    tgt = (n_i[:, None] * o_ch + o[None, :]).reshape(-1)
    wts = w[o[None, :], f_i[:, None]].reshape(-1)
    reps = np.repeat(k, o_ch)
    return np.repeat(tgt, reps), np.repeat(wts, reps)


#: Dispatch table: spiking layer type -> SOP expansion.
SOP_EXPANSION: dict[type, Callable[[Any, np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    Conv2d: conv_sops,
    Linear: linear_sops,
}


def rounds(targets: np.ndarray) -> np.ndarray:
    """Round of each SOP: its rank among the SOPs with the same target (0, 1, 2, ...)."""
    if targets.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(targets, kind="stable")
    sorted_t = targets[order]
    starts = np.flatnonzero(np.r_[True, sorted_t[1:] != sorted_t[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, sorted_t.size]))
    rank = np.empty_like(targets)
    rank[order] = np.arange(sorted_t.size) - group_start
    return rank


def macro_lanes(w_bits: int, v_bits: int, spec: MacroSpec | None = None) -> int:
    """Lanes one macro holds for one call of ``in_memory_add`` with its default shape: one
    ``v_bits``-column span per lane (capped at the columns), weight rows then membrane rows."""
    spec = spec if spec is not None else MacroSpec()
    c = min(v_bits, spec.cols)
    group_rows = -(-w_bits // c) + -(-v_bits // c)
    return (spec.rows // group_rows) * (spec.cols // c)


def leak_membranes(mem: np.ndarray, layer: SpikingLayer) -> np.ndarray:
    """The membranes ``mem`` (int64, flat) of a leaky layer, leaked once through the macro
    model, as many lanes per call as one macro holds (the operand rows as wide as the
    membrane's)."""
    leak = layer.leak
    if leak is None:
        return mem
    cap = macro_lanes(layer.v_bits, layer.v_bits)
    out = np.empty_like(mem)
    for c0 in range(0, mem.size, cap):
        res = in_memory_leak(mem[c0:c0 + cap], kind=leak.kind, amount=leak.amount,
                             v_bits=layer.v_bits)
        out[c0:c0 + cap] = np.asarray(res.membranes, dtype=np.int64)
    return out


def _maxpool(layer: SpikeMaxPool, x: np.ndarray) -> np.ndarray:
    kh, kw = layer.kernel
    sh, sw = layer.stride  # type: ignore[misc]
    win = np.lib.stride_tricks.sliding_window_view(x > 0, (kh, kw), axis=(2, 3))
    return win[:, :, ::sh, ::sw].any(axis=(4, 5)).astype(np.int64)


def _flatten(layer: Flatten, x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1)


_PASSIVE: dict[type, Callable[[Any, np.ndarray], np.ndarray]] = {
    SpikeMaxPool: _maxpool, Flatten: _flatten,
}


def run_batch(net: IntNetwork, spikes: np.ndarray, *, return_membranes: bool = False
              ) -> BatchStats:
    """Simulate one batch of binned spikes ``[T, N, *input_shape]`` through the macro model."""
    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    n_l = len(net.layers)
    layer_input_bounds(net, int(spikes.max()) if spikes.size else 0)  # same limits as `fast`
    shapes = [out for _, out in net.shapes]
    sizes = [int(np.prod(s)) for s in shapes]
    stats, samples = new_tallies(n_l, n_t, n)
    v: dict[int, np.ndarray] = {}
    for li, layer in enumerate(net.layers):
        if isinstance(layer, SpikingLayer):
            init = layer.initial_membrane
            v[li] = (np.zeros(n * sizes[li], dtype=np.int64) if init is None else
                     np.tile(np.asarray(init, dtype=np.int64).reshape(-1), n))
    counts = np.zeros((n, sizes[-1]), dtype=np.int64)
    for t in range(n_t):
        x = np.asarray(spikes[t], dtype=np.int64)
        for li, layer in enumerate(net.layers):
            per_sample = x.reshape(n, -1).sum(axis=1)
            stats["inputs"][li, t] = per_sample.sum()
            samples["inputs"][:, li] += per_sample
            if isinstance(layer, SpikingLayer):
                expand = SOP_EXPANSION[type(layer)]
                targets, weights = expand(layer, x)
                rank = rounds(targets)
                mem = v[li] = leak_membranes(v[li], layer)
                wraps = np.zeros_like(mem)
                cap = macro_lanes(layer.w_bits, layer.v_bits)
                for r in range(int(rank.max()) + 1 if rank.size else 0):
                    sel = np.flatnonzero(rank == r)
                    for c0 in range(0, sel.size, cap):  # as many calls as the macro needs
                        part = sel[c0 : c0 + cap]
                        lanes = targets[part]
                        res = in_memory_add(mem[lanes], weights[part], v_bits=layer.v_bits,
                                            w_bits=layer.w_bits)
                        mem[lanes] = np.asarray(res.membranes, dtype=np.int64)
                        wraps[lanes] += np.asarray(res.overflow, dtype=np.int64)
                        stats["sops"][li, t] += int(res.counters.sops)
                samples["sops"][:, li] += np.bincount(targets // sizes[li], minlength=n)
                stats["overflow"][li, t] = int(np.count_nonzero(wraps))
                stats["vmin"][li, t], stats["vmax"][li, t] = int(mem.min()), int(mem.max())
                fired = mem >= layer.threshold
                if layer.reset == "subtract":
                    mem -= layer.threshold * fired
                else:
                    mem[fired] = 0
                x = fired.astype(np.int64).reshape(n, *shapes[li])
            else:
                x = _PASSIVE[type(layer)](layer, x)
            out = x.reshape(n, -1).sum(axis=1)
            stats["spikes"][li, t] = out.sum()
            samples["spikes"][:, li] += out
        counts += x.reshape(n, -1)
    finals = ([v[li].reshape(n, *shapes[li]).copy() for li in sorted(v)]
              if return_membranes else None)
    return batch_stats(counts, stats, samples, finals)
