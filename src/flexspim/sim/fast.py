"""The ``fast`` engine: vectorised, batched, bit-exact with :mod:`flexspim.net.reference`.

Without leak, a layer's synaptic input at timestep t depends only on that layer's input events at
t, so one convolution (or matrix product) over all ``T x N`` input frames gives every timestep's
input at once; only the integrate/threshold/reset scan runs sequentially over T. Exactness:

- the convolution runs in float32 when every partial sum stays below 2**24 (bound: the largest
  sum of |w| over a neuron's fan-in times the largest input count), in float64 below 2**53, and
  otherwise as an exact int64 sum over kernel taps;
- the scan runs in float32/float64 under the same rule applied to ``2**(v_bits-1) + bound``,
  otherwise in int64; a timestep whose membranes leave the ``v_bits`` range is wrapped in int64
  (mod 2**v_bits) and its wrapped neurons are counted as overflow events;
- SOPs are counted from the input events and each pixel's fan-out (:func:`conv_fanout`), so they
  do not depend on the arithmetic at all.

Threads: torch's intra-op pool, as the caller sets it (``torch.set_num_threads``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

try:  # the compiled backend; without Numba the torch backend runs
    import numba
    from numba import prange
except ImportError:  # pragma: no cover - exercised only where Numba is not installed
    numba = None
    prange = range

from flexspim.net.layers import Conv2d, Flatten, SpikeMaxPool, SpikingLayer, int_range
from flexspim.net.network import IntNetwork
from flexspim.sim.common import (
    FLOAT32_EXACT,
    FLOAT64_EXACT,
    BatchStats,
    conv_fanout,
    layer_input_bounds,
    merge_stats,
)


def _dtype_for(bound: int) -> Any:
    import torch

    if bound < FLOAT32_EXACT:
        return torch.float32
    if bound < FLOAT64_EXACT:
        return torch.float64
    return torch.int64


def _conv_int64(layer: Conv2d, x: Any) -> Any:
    """Exact int64 convolution as a sum over kernel taps (torch has no int64 conv2d on CPU)."""
    import torch

    w = torch.as_tensor(layer.weight, dtype=torch.int64)
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    xp = torch.nn.functional.pad(x.to(torch.int64), (pw, pw, ph, ph))
    oh = (x.shape[2] + 2 * ph - kh) // sh + 1
    ow = (x.shape[3] + 2 * pw - kw) // sw + 1
    out = torch.zeros((x.shape[0], w.shape[0], oh, ow), dtype=torch.int64)
    for i in range(kh):
        for j in range(kw):
            tap = xp[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
            out += torch.einsum("nchw,oc->nohw", tap, w[:, :, i, j])
    return out


def _synaptic_input(layer: SpikingLayer, x: Any, dtype: Any) -> Any:
    """Synaptic input of every frame of ``x`` ``[T*N, ...]`` in ``dtype`` (exact by the bound)."""
    import torch

    if isinstance(layer, Conv2d):
        if dtype == torch.int64:
            return _conv_int64(layer, x)
        w = torch.as_tensor(layer.weight).to(dtype).contiguous(memory_format=torch.channels_last)
        xin = x.to(dtype).contiguous(memory_format=torch.channels_last)
        return torch.nn.functional.conv2d(xin, w, stride=layer.stride, padding=layer.padding)
    w = torch.as_tensor(layer.weight).to(dtype)
    return x.reshape(x.shape[0], -1).to(dtype) @ w.T


def _sops(layer: SpikingLayer, x: Any, n_t: int, n: int) -> Any:
    """SOPs ``[T, N]`` (float64, exact integers) of the input frames ``x`` ``[T*N, ...]``."""
    import torch

    if isinstance(layer, Conv2d):
        fan = torch.from_numpy(conv_fanout(layer, (x.shape[2], x.shape[3])).astype(np.float64))
        # channel sums are small integers (exact in float32); the products go to float64
        per_pixel = x.sum(dim=1).to(torch.float64).reshape(n_t, n, -1)
        return per_pixel @ fan.reshape(-1)
    return _frame_sums(x, n_t, n) * int(layer.weight.shape[0])


def _frame_sums(x: Any, n_t: int, n: int, max_value: float | None = None) -> Any:
    """``[T, N]`` float64 sum of every frame of ``x`` ``[T*N, ...]`` (exact integer counts).

    ``max_value``: the largest entry of ``x`` when known (1 for spikes), else it is measured.
    """
    import torch

    if x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last):
        x = x.permute(0, 2, 3, 1)  # a contiguous view: each frame is one run of memory
    flat = x.reshape(x.shape[0], -1)
    if max_value is None:
        max_value = float(flat.max()) if flat.numel() else 0.0
    bound = float(flat.shape[1]) * max_value
    if bound < FLOAT32_EXACT:  # float32 adds these counts exactly; no float64 copy
        return flat.sum(dim=1).to(torch.float64).reshape(n_t, n)
    return flat.sum(dim=1, dtype=torch.float64).reshape(n_t, n)


def _wrap_step(v: Any, layer: SpikingLayer) -> tuple[Any, int]:
    """Wrap ``v`` into the v_bits range in int64; returns (wrapped, number of wrapped neurons)."""
    import torch

    exact = v.to(torch.int64)
    half = 1 << (layer.v_bits - 1)
    wrapped = ((exact + half) & ((1 << layer.v_bits) - 1)) - half
    n_over = int((wrapped != exact).sum())
    return wrapped.to(v.dtype), n_over


#: Neurons per scan chunk: the integrate/threshold/reset passes of one timestep run over this
#: many membranes at a time so that they stay in the core's L2 cache (1 MiB of float32; measured
#: on the 2-core benchmark machine, see benchmarks/bench_sim.py). Not a model parameter.
SCAN_CHUNK = 1 << 18


def _scan(layer: SpikingLayer, syn: Any, n_t: int, n: int, dtype: Any, li: int,
          stats: dict[str, np.ndarray]) -> tuple[Any, Any]:
    """Integrate, threshold and reset over T; returns (spikes [T*N, ...] float32, membranes).

    Samples are independent, so the scan runs over chunks of samples, each chunk over all T.
    """
    import torch

    syn = syn.to(dtype) if syn.dtype != dtype else syn
    v = torch.empty_like(syn[:n])
    init = layer.initial_membrane
    if init is None:
        v.zero_()
    else:
        v.copy_(torch.as_tensor(init).to(dtype).expand_as(v))
    # float32 input is consumed timestep by timestep: its slice t then holds the spikes of t
    # (no second buffer, and memory that is already in cache)
    spikes = syn if syn.dtype == torch.float32 else torch.empty_like(syn, dtype=torch.float32)
    per_sample = max(1, v[0].numel()) if n else 1
    chunk = max(1, min(n, SCAN_CHUNK // per_sample))
    vmin = np.full(n_t, np.iinfo(np.int64).max, dtype=np.int64)
    vmax = np.full(n_t, np.iinfo(np.int64).min, dtype=np.int64)
    for s0 in range(0, n, chunk):
        s1 = min(n, s0 + chunk)
        _scan_chunk(layer, v[s0:s1], syn, spikes, n, s0, s1, n_t, dtype, li, stats, vmin, vmax)
    stats["vmin"][li], stats["vmax"][li] = vmin, vmax
    return spikes, v


def _scan_chunk(layer: SpikingLayer, v: Any, syn: Any, spikes: Any, n: int, s0: int, s1: int,
                n_t: int, dtype: Any, li: int, stats: dict[str, np.ndarray], vmin: np.ndarray,
                vmax: np.ndarray) -> None:
    import torch

    lo, hi = int_range(layer.v_bits)
    thr = layer.threshold
    for t in range(n_t):
        v.add_(syn[t * n + s0 : t * n + s1])
        mn, mx = (a.item() for a in torch.aminmax(v))
        if mn < lo or mx > hi:
            wrapped, n_over = _wrap_step(v, layer)
            v.copy_(wrapped)
            stats["overflow"][li, t] += n_over
            mn, mx = (a.item() for a in torch.aminmax(v))
        vmin[t], vmax[t] = min(vmin[t], int(mn)), max(vmax[t], int(mx))
        out_t = spikes[t * n + s0 : t * n + s1]
        if dtype == torch.float32:
            # v is integer-valued: clamp(v - (thr - 1), 0, 1) is 1 exactly where v >= thr
            torch.sub(v, thr - 1, out=out_t).clamp_(0.0, 1.0)
        else:
            out_t.copy_(v >= thr)
        if layer.reset == "subtract":
            v.sub_(out_t if dtype == torch.float32 else out_t.to(dtype), alpha=thr)
        else:
            v.masked_fill_(out_t.bool(), 0)


def _maxpool(layer: SpikeMaxPool, x: Any) -> Any:
    import torch

    pooled = torch.nn.functional.max_pool2d(x.float(), layer.kernel, layer.stride)
    return (pooled > 0).float()


def _flatten(layer: Flatten, x: Any) -> Any:
    return x.reshape(x.shape[0], -1)


#: Dispatch table for the layers without neurons.
_PASSIVE: dict[type, Callable[[Any, Any], Any]] = {SpikeMaxPool: _maxpool, Flatten: _flatten}


#: Largest activation tensor (bytes) the engine builds at once; larger batches run in chunks of
#: samples. Fresh allocations above glibc's 32 MiB mmap limit are page-faulted in on every batch,
#: which cost ~0.55 ms/MiB against ~0.12 ms/MiB below it on the benchmark machine (measured with
#: benchmarks/bench_sim.py's network: 16 samples per chunk ran 20% faster than 64). Not a model
#: parameter.
CHUNK_BYTES = 16 << 20


def run_batch(net: IntNetwork, spikes: np.ndarray, *, return_membranes: bool = False
              ) -> BatchStats:
    """Simulate one batch of binned spikes ``[T, N, *input_shape]`` (int counts >= 0).

    Runs in chunks of samples whose largest float32 activation stays within CHUNK_BYTES.
    """
    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    widest = max([int(np.prod(net.input_shape))] + [int(np.prod(out)) for _, out in net.shapes])
    chunk = max(1, CHUNK_BYTES // max(1, 4 * n_t * widest))
    return merge_stats([_run_chunk(net, spikes[:, s : s + chunk], return_membranes)
                        for s in range(0, n, chunk)])


def _run_chunk(net: IntNetwork, spikes: np.ndarray, return_membranes: bool) -> BatchStats:
    import torch

    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    n_l = len(net.layers)
    bounds = layer_input_bounds(net, int(spikes.max()) if spikes.size else 0)
    stats = {k: np.zeros((n_l, n_t), dtype=np.int64)
             for k in ("inputs", "sops", "spikes", "overflow", "vmin", "vmax")}
    samples = {k: np.zeros((n, n_l), dtype=np.int64) for k in ("inputs", "sops", "spikes")}
    # float32 holds the input exactly, and any sum over one frame, below 2**24
    frame_bound = int(spikes.max()) * int(np.prod(spikes.shape[2:]))
    in_dtype = np.float32 if frame_bound < FLOAT32_EXACT else np.float64
    x = torch.from_numpy(np.ascontiguousarray(spikes, dtype=in_dtype).reshape(
        n_t * n, *spikes.shape[2:]))
    finals: list[np.ndarray] = []
    events = _frame_sums(x, n_t, n).to(torch.int64).numpy()
    for li, layer in enumerate(net.layers):
        stats["inputs"][li] = events.sum(axis=1)
        samples["inputs"][:, li] = events.sum(axis=0)
        if isinstance(layer, SpikingLayer):
            sops = _sops(layer, x, n_t, n).to(torch.int64).numpy()
            stats["sops"][li] = sops.sum(axis=1)
            samples["sops"][:, li] = sops.sum(axis=0)
            lo, hi = int_range(layer.v_bits)
            syn = _synaptic_input(layer, x, _dtype_for(bounds[li]))
            x, v = _scan(layer, syn, n_t, n, _dtype_for(max(-lo, hi) + 1 + bounds[li]), li, stats)
            if return_membranes:
                finals.append(v.to(torch.int64).contiguous().numpy())
        else:
            x = _PASSIVE[type(layer)](layer, x)
        # binary after a spiking or pooling layer; flatten keeps its input's values
        known = 1.0 if not isinstance(layer, Flatten) else None
        events = _frame_sums(x, n_t, n, known).to(torch.int64).numpy()  # next layer's input
        stats["spikes"][li] = events.sum(axis=1)
        samples["spikes"][:, li] = events.sum(axis=0)
    counts = x.reshape(n_t, n, -1).sum(dim=0, dtype=torch.float64).to(torch.int64).numpy()
    return BatchStats(
        output_counts=counts,
        step_input_events=stats["inputs"], step_sops=stats["sops"],
        step_output_spikes=stats["spikes"], step_overflow=stats["overflow"],
        membrane_min=stats["vmin"], membrane_max=stats["vmax"],
        sample_sops=samples["sops"], sample_spikes=samples["spikes"],
        sample_input_events=samples["inputs"],
        final_membranes=finals if return_membranes else None,
    )


# --------------------------------------------------------------------------------------------
# Event-driven compiled backend (Numba): one kernel per spiking layer, exact integer arithmetic.
# --------------------------------------------------------------------------------------------

#: int32 membranes hold every exact sum while ``2**(v_bits-1) + bound`` stays below 2**31;
#: otherwise the compiled backend accumulates in int64 (bounded by 2**62, see common.py).
INT32_EXACT = 1 << 31


def _if_layer_kernel(x, w, fan, stride_h, stride_w, pad_h, pad_w, lo, hi, half, mask,  # type: ignore[no-untyped-def]  # noqa: ANN001, E501
                     threshold, subtract, v, spikes, ins, sops, outs, over, vmin, vmax):
    """One IF layer (conv2d; linear as a 1x1 conv on a 1x1 map) over all T for every sample.

    ``x`` int counts ``[T, N, C, H, W]``; ``w`` ``[C, KH, KW, O]`` in the accumulator dtype;
    ``fan`` int64 ``[H, W]`` synapses per input pixel; ``v`` ``[N, OH, OW, O]`` membranes (hold
    the initial membranes on entry, the final ones on exit); ``spikes`` uint8 ``[T, N, O, OH,
    OW]`` (written); ``ins, sops, outs, over, vmin, vmax`` int64 ``[T, N]`` (written).
    Event-driven: every input event (count k at pixel (c, y, x)) adds k times its fan-out
    weights into the membranes it reaches (one SOP each); then every neuron is wrapped to
    v_bits (counted as an overflow if it left the range), compared and reset (DESIGN.md §3).
    """
    n_t, n_s, n_c, h, wd = x.shape
    kh, kw, n_o = w.shape[1], w.shape[2], w.shape[3]
    oh, ow = v.shape[1], v.shape[2]
    for s in prange(n_s):
        vs = v[s]
        for t in range(n_t):
            n_in = 0
            n_sop = 0
            for c in range(n_c):
                for y in range(h):
                    for xx in range(wd):
                        k = x[t, s, c, y, xx]
                        if k == 0:
                            continue
                        n_in += k
                        n_sop += k * fan[y, xx]
                        for i in range(kh):
                            ry = y + pad_h - i
                            if ry < 0 or ry % stride_h != 0:
                                continue
                            oy = ry // stride_h
                            if oy >= oh:
                                continue
                            for j in range(kw):
                                rx = xx + pad_w - j
                                if rx < 0 or rx % stride_w != 0:
                                    continue
                                ox = rx // stride_w
                                if ox >= ow:
                                    continue
                                row = vs[oy, ox]
                                wrow = w[c, i, j]
                                if k == 1:
                                    for o in range(n_o):
                                        row[o] += wrow[o]
                                else:
                                    for o in range(n_o):
                                        row[o] += k * wrow[o]
            n_out = 0
            n_over = 0
            mn = hi
            mx = lo
            for oy in range(oh):
                for ox in range(ow):
                    row = vs[oy, ox]
                    for o in range(n_o):
                        val = row[o]
                        if val < lo or val > hi:
                            val = ((val + half) & mask) - half
                            n_over += 1
                        mn = min(mn, val)
                        mx = max(mx, val)
                        if val >= threshold:
                            spikes[t, s, o, oy, ox] = 1
                            n_out += 1
                            val = val - threshold if subtract else 0
                        else:
                            spikes[t, s, o, oy, ox] = 0
                        row[o] = val
            ins[t, s] = n_in
            sops[t, s] = n_sop
            outs[t, s] = n_out
            over[t, s] = n_over
            vmin[t, s] = mn
            vmax[t, s] = mx


@functools.cache
def _compiled_kernel() -> Callable[..., None] | None:
    """The Numba-compiled layer kernel (parallel over samples, cached on disk), or None when
    Numba is not installed (the torch backend runs then)."""
    if numba is None:
        return None
    return numba.njit(parallel=True, cache=True, nogil=True)(_if_layer_kernel)  # type: ignore
