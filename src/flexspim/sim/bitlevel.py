"""The ``bitlevel`` engine: every SOP through the macro's five phases, on bit planes.

Each synaptic operation is one in-memory addition membrane += weight computed by
:func:`flexspim.macro.bitslice.add_planes`: precharge, dual-wordline read (AND/NOR), carry
chain, sum, write-back, then sign-extension mode past the weight's bits, with the overflow taken
at the membrane's sign column (paper §II; docs/macro.md). The planes hold 64 lanes per word;
here a lane is one output channel of one output pixel, so one event adds its fan-out weights
into the channels of each pixel it reaches, 64 channels per word operation. A count k is k
additions in sequence. The per-cell model (the ``bitcell`` engine, :mod:`flexspim.sim.bitcell`)
is the specification: property tests prove the two (and the fast engine and the reference)
equal in every spike, membrane and count.

Per timestep, before a leaky layer's events: every membrane is leaked in place by
:func:`flexspim.macro.bitslice.leak_planes`, the bit-sliced form of the macro's leak
(:mod:`flexspim.macro.leak`: the periphery forms ``-t(v)`` from the membrane planes, the
in-memory addition adds it; no SOP). Per timestep, after a layer's events (paper §III;
docs/design.md §3):

- **overflow**: each addition reports, per lane, whether it wrapped and in which direction; a
  neuron is an overflow event of the timestep iff its wraps do not cancel (its exact sum left
  the ``v_bits`` range by that many multiples of 2**v_bits);
- **min/max** of the membranes, found on the planes from the sign column down;
- **fire**: v >= threshold, compared on the planes (the sign of v - threshold, one bit wider);
- **reset**: subtract adds -threshold on the fired lanes through the same adder (wrapping like
  the reference's ``wrap(v - threshold)``), zero clears their planes.

SOPs are counted per addition (the lanes it updates), independently of the fan-out tables of
the fast engine. Spikes travel between layers as the event maps of
:mod:`flexspim.sim.compiled`. Without Numba this engine runs the per-cell model instead (same
results, slow).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flexspim.macro.bitslice import (
    ALL_LANES,
    WORD_LANES,
    add_planes,
    at_least,
    from_planes,
    leak_planes,
    to_planes,
)
from flexspim.macro.leak import leak_operand_bits
from flexspim.net.layers import Conv2d, SpikingLayer
from flexspim.net.network import IntNetwork
from flexspim.sim import bitcell
from flexspim.sim.common import BatchStats
from flexspim.sim.compiled import (
    TALLY_ROWS,
    EventMap,
    _jit,
    conv_form,
    leak_parameters,
    numba,
    prange,
    run_chunked,
    trailing_zeros,
)


@_jit()
def _extreme(v: Any, off: int, v_bits: int, lanes: Any, want_max: bool) -> int:
    """The largest (``want_max``) or smallest signed value among the ``lanes`` of one word of
    membrane planes ``v[off : off + v_bits]``, read from the sign column down."""
    cand = lanes
    value = 0
    for b in range(v_bits - 1, -1, -1):
        plane = v[off + b]
        one = want_max != (b == v_bits - 1)  # prefer 1s, except a 0 at the sign for the max
        pick = cand & plane if one else cand & ~plane
        bit = one
        if pick != 0:
            cand = pick
        else:
            bit = not one
        value |= np.int64(bit) << b
    if (value >> (v_bits - 1)) & 1:
        value -= np.int64(1) << v_bits
    return value


@_jit()
def _count_wraps(ovf: Any, up: Any, base: int, wraps: Any) -> None:
    """Add each wrapped lane's direction (+1 up, -1 down) to its counter ``wraps[base+lane]``."""
    while ovf != 0:
        lane = trailing_zeros(ovf)
        ovf &= ovf - np.uint64(1)
        wraps[base + lane] += 1 if (up >> np.uint64(lane)) & np.uint64(1) else -1


@_jit()
def _integrate(bits: Any, counts: Any, has_counts: bool, geom: Any, w: Any, v: Any,
               wraps: Any, wrapped: Any) -> tuple[int, int]:
    """Every event of one frame as in-memory additions into the membrane planes ``v``
    (``[OH*OW*words*v_bits]``); returns (input events, SOPs).

    ``geom`` = (row taps, column taps (:func:`~flexspim.sim.compiled.tap_table`), real lanes
    per word, lane masks, int64 [KH, KW, OW, words, w_bits, v_bits]); ``w`` weight planes
    ``[C, KH, KW, words, w_bits]``; ``wraps`` int64 per lane and ``wrapped`` bool per word
    collect the wrap directions of the timestep.
    """
    rows, cols, real, masks, dims = geom
    kh, kw, ow, n_wd, w_bits, v_bits = dims
    n_in = 0
    n_sop = 0
    for y in range(bits.shape[0]):
        for xx in range(bits.shape[1]):
            for wi in range(bits.shape[2]):
                word = bits[y, xx, wi]
                while word != 0:
                    c = wi * 64 + trailing_zeros(word)
                    word &= word - 1
                    k = 1
                    if has_counts:
                        k = counts[y, xx, c]
                    n_in += k
                    for a in range(rows[y, 0]):
                        i, oy = rows[y, 1 + 2 * a], rows[y, 2 + 2 * a]
                        for b in range(cols[xx, 0]):
                            j, ox = cols[xx, 1 + 2 * b], cols[xx, 2 + 2 * b]
                            q = oy * ow + ox
                            for o in range(n_wd):
                                vo = (q * n_wd + o) * v_bits
                                wo = (((c * kh + i) * kw + j) * n_wd + o) * w_bits
                                for _ in range(k):
                                    ovf, up = add_planes(v, vo, w, wo, w_bits, v_bits, masks[o])
                                    if ovf != 0:  # rare
                                        _count_wraps(ovf, up, (q * n_wd + o) * 64, wraps)
                                        wrapped[q * n_wd + o] = True
                                n_sop += k * real[o]
    return n_in, n_sop


@_jit()
def _fire(v: Any, geom: Any, thr: Any, subtract: bool, wraps: Any, wrapped: Any, out: Any
          ) -> tuple[int, int, int, int]:
    """Overflow count, min/max, threshold and reset of every word of one sample's planes;
    spike words into ``out`` ``[OH*OW, words]``. ``thr`` = (threshold, then the planes of
    -threshold mod 2**v_bits). Returns (spikes, overflow events, min, max)."""
    masks, dims = geom[3], geom[4]
    n_wd, v_bits = dims[3], dims[5]
    threshold = np.int64(thr[0])
    n_out = 0
    n_over = 0
    mn = np.int64(1) << 62
    mx = -mn
    for q in range(out.shape[0]):
        for o in range(n_wd):
            qo = q * n_wd + o
            off = qo * v_bits
            if wrapped[qo]:
                for lane in range(64):
                    n_over += wraps[qo * 64 + lane] != 0
                    wraps[qo * 64 + lane] = 0
                wrapped[qo] = False
            mn = min(mn, _extreme(v, off, v_bits, masks[o], False))
            mx = max(mx, _extreme(v, off, v_bits, masks[o], True))
            fired = at_least(v, off, v_bits, threshold) & masks[o]
            if fired != 0:
                if subtract:
                    add_planes(v, off, thr, 1, v_bits, v_bits, fired)
                else:
                    for b in range(v_bits):
                        v[off + b] &= ~fired
            out[q, o] = np.int64(fired)
            n_out += _popcount(fired)
    return n_out, n_over, mn, mx


@_jit()
def _popcount(word: Any) -> int:
    n = 0
    while word != 0:
        word &= word - np.uint64(1)
        n += 1
    return n


@_jit()
def _leak(v: Any, geom: Any, leak: Any, op: Any) -> None:
    """Leak every word of one sample's membrane planes (``leak`` = (code, amount, operand
    bits); ``op`` scratch planes of at least ``v_bits``)."""
    masks, dims = geom[3], geom[4]
    v_bits = dims[5]
    for qo in range(v.shape[0] // v_bits):
        leak_planes(v, qo * v_bits, v_bits, leak[0], leak[1], leak[2], op, masks[qo % dims[3]])


@_jit(parallel=True)
def _layer_kernel(bits: Any, counts: Any, has_counts: bool, geom: Any, w: Any, thr: Any,
                  subtract: bool, leak: Any, v: Any, out: Any, tallies: Any) -> None:
    """One IF or LIF layer over all T timesteps of every sample (parallel over samples): ``v``
    membrane planes ``[N, OH*OW*words*v_bits]`` (initial on entry, final on exit), ``out``
    spike words ``[T, N, OH*OW, words]``, ``tallies`` int64 ``[6, T, N]``; ``leak`` =
    (code, amount, operand bits), code 0 without a leak."""
    n_t, n_s = bits.shape[0], bits.shape[1]
    for s in prange(n_s):
        wraps = np.zeros(out.shape[2] * out.shape[3] * 64, dtype=np.int64)
        wrapped = np.zeros(out.shape[2] * out.shape[3], dtype=np.bool_)
        op = np.zeros(geom[4][5], dtype=np.uint64)
        for t in range(n_t):
            if leak[0] != 0:
                _leak(v[s], geom, leak, op)
            n_in, n_sop = _integrate(bits[t, s], counts[t, s] if has_counts else counts[0, 0],
                                     has_counts, geom, w, v[s], wraps, wrapped)
            n_out, n_over, mn, mx = _fire(v[s], geom, thr, subtract, wraps, wrapped, out[t, s])
            tallies[0, t, s] = n_in
            tallies[1, t, s] = n_sop
            tallies[2, t, s] = n_out
            tallies[3, t, s] = n_over
            tallies[4, t, s] = mn
            tallies[5, t, s] = mx


def _plane_words(values: np.ndarray, bits: int) -> np.ndarray:
    """uint64 planes ``[..., words, bits]`` of int64 ``values`` ``[..., O]`` (lanes: the last
    axis, padded with zeros to whole words)."""
    lead, n_o = values.shape[:-1], values.shape[-1]
    n_wd = -(-n_o // WORD_LANES)
    padded = np.zeros((*lead, n_wd * WORD_LANES), dtype=np.int64)
    padded[..., :n_o] = values
    return to_planes(padded.reshape(-1), bits).reshape(*lead, n_wd, bits)


def _thresholds(layer: SpikingLayer) -> np.ndarray:
    """(threshold, then the v_bits planes of -threshold) for :func:`_fire`."""
    v_bits = layer.v_bits
    neg = (-layer.threshold) % (1 << v_bits)
    planes = [ALL_LANES if (neg >> b) & 1 else np.uint64(0) for b in range(v_bits)]
    return np.array([layer.threshold, *planes], dtype=np.uint64)


def _leak_kernel_args(layer: SpikingLayer) -> np.ndarray:
    """(code, amount, operand bits) of the layer's leak for :func:`_leak` (zeros: none)."""
    if layer.leak is None:
        return np.zeros(3, dtype=np.int64)
    code, amount, _ = leak_parameters(layer).tolist()
    bits = leak_operand_bits(layer.leak.kind, layer.leak.amount, layer.v_bits)
    return np.array([code, amount, bits], dtype=np.int64)


def run_spiking(layer: SpikingLayer, events: EventMap, bound: int, membranes: bool = False
                ) -> tuple[EventMap, np.ndarray, np.ndarray | None]:
    """One spiking layer on bit planes; the signature of
    :func:`flexspim.sim.compiled.run_spiking` (``bound`` is unused: the planes wrap exactly
    like the macro)."""
    form = conv_form(layer, events.shape)
    n_t, n = events.bits.shape[:2]
    n_o = layer.weight.shape[0]
    (oh, ow), (_, kh, kw, _) = form.out_hw, form.weight.shape
    n_wd = -(-n_o // WORD_LANES)
    init = np.zeros((oh * ow, n_o), dtype=np.int64)
    if layer.initial_membrane is not None:
        init[:] = np.asarray(layer.initial_membrane, dtype=np.int64).reshape(n_o, -1).T
    v = np.tile(_plane_words(init, layer.v_bits).reshape(1, -1), (n, 1))
    w = _plane_words(form.weight, layer.w_bits)
    real = np.array([min(WORD_LANES, n_o - WORD_LANES * o) for o in range(n_wd)], np.int64)
    masks = np.array([ALL_LANES if r == WORD_LANES else np.uint64((1 << int(r)) - 1)
                      for r in real], dtype=np.uint64)
    dims = (kh, kw, ow, n_wd, layer.w_bits, layer.v_bits)
    geom = (form.row_taps, form.col_taps, real, masks, np.array(dims, dtype=np.int64))
    out = np.empty((n_t, n, oh, ow, n_wd), dtype=np.int64)
    tallies = np.empty((len(TALLY_ROWS), n_t, n), dtype=np.int64)
    counts = events.counts if events.counts is not None else np.zeros((1,) * 5, np.int32)
    with numba.parallel_chunksize(1):
        _layer_kernel(events.bits, counts, events.counts is not None, geom,
                      w.reshape(-1), _thresholds(layer), layer.reset == "subtract",
                      _leak_kernel_args(layer), v, out.reshape(n_t, n, oh * ow, n_wd), tallies)
    out_map = EventMap(out, (n_o, oh, ow), None, flat=not isinstance(layer, Conv2d))
    if not membranes:
        return out_map, tallies, None
    planes = v.reshape(-1, layer.v_bits)
    values = from_planes(planes, layer.v_bits, planes.shape[0] * WORD_LANES)
    final = values.reshape(n, oh * ow, n_wd * WORD_LANES)[:, :, :n_o].transpose(0, 2, 1)
    shape = (n_o, oh, ow) if isinstance(layer, Conv2d) else (n_o,)
    return out_map, tallies, np.ascontiguousarray(final).reshape(n, *shape)


def run_batch(net: IntNetwork, spikes: np.ndarray, *, return_membranes: bool = False
              ) -> BatchStats:
    """Simulate one batch of binned spikes ``[T, N, *input_shape]`` on bit planes (the
    per-cell model where Numba is not installed)."""
    if numba is None:  # pragma: no cover
        return bitcell.run_batch(net, spikes, return_membranes=return_membranes)
    return run_chunked(net, spikes, return_membranes, run_spiking)
