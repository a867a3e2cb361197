"""The ``fast`` engine: vectorised, batched, bit-exact with :mod:`flexspim.net.reference`.

Two backends (:data:`BACKENDS`) with identical results and counts:

- ``numba`` (default where Numba is installed, ``pip install flexspim[fast]``): event-driven
  like the chip (paper §III). Per spiking layer one compiled kernel runs all T timesteps of
  every sample (parallel over samples, Numba's thread pool): each input event adds its fan-out
  weights into channels-last integer membranes, then one pass wraps, thresholds and resets.
  Exact integer arithmetic: int32 while ``2**(v_bits-1) + bound <= 2**31``, else int64
  (:func:`accumulator_dtype`; ``bound`` = largest sum of |w| over a fan-in x the largest count).
- ``torch``: without leak, a layer's synaptic input at timestep t depends only on that layer's
  input events at t, so one convolution (or matrix product) over all ``T x N`` input frames
  gives every timestep's input at once; only the integrate/threshold/reset scan runs
  sequentially over T. The convolution runs in float32 when every partial sum stays below
  2**24, in float64 below 2**53, and otherwise as an exact int64 sum over kernel taps; the scan
  runs in float32/float64 under the same rule applied to ``2**(v_bits-1) + bound``, otherwise
  in int64; a timestep whose membranes leave the ``v_bits`` range is wrapped in int64 (mod
  2**v_bits) and its wrapped neurons are counted as overflow events. Threads: torch's pool.
  ``device="cuda"`` runs this backend on a GPU under the same bounds: cuDNN and TF32 are off
  there (:func:`flexspim._device.exact_math`), and the int64 sums use
  :func:`flexspim.net.reference.channel_mix` (CUDA has no int64 matrix product).

SOPs are counted from the input events and each pixel's fan-out (:func:`conv_fanout`), so they
do not depend on the arithmetic at all.
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

from flexspim._device import exact_math, is_cuda
from flexspim.errors import ConfigError
from flexspim.net.layers import Conv2d, Flatten, SpikeMaxPool, SpikingLayer, int_range
from flexspim.net.network import IntNetwork
from flexspim.net.reference import channel_mix, int64_matmul
from flexspim.sim.common import (
    FLOAT32_EXACT,
    FLOAT64_EXACT,
    BatchStats,
    batch_stats,
    conv_fanout,
    layer_input_bounds,
    merge_stats,
    new_tallies,
)


def _dtype_for(bound: int) -> Any:
    import torch

    if bound < FLOAT32_EXACT:
        return torch.float32
    if bound < FLOAT64_EXACT:
        return torch.float64
    return torch.int64


def _conv_int64(layer: Conv2d, x: Any) -> Any:
    """Exact int64 convolution as a sum over kernel taps (torch has no int64 conv2d)."""
    import torch

    w = torch.as_tensor(layer.weight, dtype=torch.int64).to(x.device)
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    xp = torch.nn.functional.pad(x.to(torch.int64), (pw, pw, ph, ph))
    oh = (x.shape[2] + 2 * ph - kh) // sh + 1
    ow = (x.shape[3] + 2 * pw - kw) // sw + 1
    out = torch.zeros((x.shape[0], w.shape[0], oh, ow), dtype=torch.int64, device=x.device)
    for i in range(kh):
        for j in range(kw):
            tap = xp[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
            out += channel_mix(tap, w[:, :, i, j])
    return out


def _synaptic_input(layer: SpikingLayer, x: Any, dtype: Any) -> Any:
    """Synaptic input of every frame of ``x`` ``[T*N, ...]`` in ``dtype`` (exact by the bound)."""
    import torch

    if isinstance(layer, Conv2d):
        if dtype == torch.int64:
            return _conv_int64(layer, x)
        w = torch.as_tensor(layer.weight).to(x.device, dtype).contiguous(
            memory_format=torch.channels_last)
        xin = x.to(dtype).contiguous(memory_format=torch.channels_last)
        return torch.nn.functional.conv2d(xin, w, stride=layer.stride, padding=layer.padding)
    w = torch.as_tensor(layer.weight).to(x.device, dtype)
    if dtype == torch.int64:
        return int64_matmul(x.reshape(x.shape[0], -1).to(dtype), w)
    return x.reshape(x.shape[0], -1).to(dtype) @ w.T


def _sops(layer: SpikingLayer, x: Any, n_t: int, n: int) -> Any:
    """SOPs ``[T, N]`` (float64, exact integers) of the input frames ``x`` ``[T*N, ...]``."""
    import torch

    if isinstance(layer, Conv2d):
        fan = torch.from_numpy(conv_fanout(layer, (x.shape[2], x.shape[3])).astype(np.float64)
                               ).to(x.device)
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
        v.copy_(torch.as_tensor(init).to(v.device, dtype).expand_as(v))
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
#: The same limit on a CUDA device, where the page-fault cost does not apply and larger
#: chunks keep the GPU busy (512 MiB of a GPU's memory; not a model parameter).
CUDA_CHUNK_BYTES = 512 << 20


def _run_torch(net: IntNetwork, spikes: np.ndarray, return_membranes: bool,
               device: Any = None) -> BatchStats:
    """The torch backend: one float32 convolution over all T x N frames per layer (float64 or
    int64 beyond the exact bounds), then a vectorised scan over T.

    Runs in chunks of samples whose largest float32 activation stays within CHUNK_BYTES
    (CUDA_CHUNK_BYTES on a GPU). ``device``: a ``torch.device`` or its name (default the CPU).
    """
    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    widest = max([int(np.prod(net.input_shape))] + [int(np.prod(out)) for _, out in net.shapes])
    limit = CUDA_CHUNK_BYTES if is_cuda(device) else CHUNK_BYTES
    chunk = max(1, limit // max(1, 4 * n_t * widest))
    with exact_math(device):
        return merge_stats([_run_chunk(net, spikes[:, s : s + chunk], return_membranes, device)
                            for s in range(0, n, chunk)])


def _run_chunk(net: IntNetwork, spikes: np.ndarray, return_membranes: bool,
               device: Any = None) -> BatchStats:
    import torch

    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    n_l = len(net.layers)
    bounds = layer_input_bounds(net, int(spikes.max()) if spikes.size else 0)
    stats, samples = new_tallies(n_l, n_t, n)
    # float32 holds the input exactly, and any sum over one frame, below 2**24
    frame_bound = int(spikes.max()) * int(np.prod(spikes.shape[2:]))
    in_dtype = np.float32 if frame_bound < FLOAT32_EXACT else np.float64
    x = torch.from_numpy(np.ascontiguousarray(spikes, dtype=in_dtype).reshape(
        n_t * n, *spikes.shape[2:])).to(device or "cpu")
    finals: list[np.ndarray] = []
    events = _frame_sums(x, n_t, n).to(torch.int64).cpu().numpy()
    for li, layer in enumerate(net.layers):
        stats["inputs"][li] = events.sum(axis=1)
        samples["inputs"][:, li] = events.sum(axis=0)
        if isinstance(layer, SpikingLayer):
            sops = _sops(layer, x, n_t, n).to(torch.int64).cpu().numpy()
            stats["sops"][li] = sops.sum(axis=1)
            samples["sops"][:, li] = sops.sum(axis=0)
            lo, hi = int_range(layer.v_bits)
            syn = _synaptic_input(layer, x, _dtype_for(bounds[li]))
            x, v = _scan(layer, syn, n_t, n, _dtype_for(max(-lo, hi) + 1 + bounds[li]), li, stats)
            if return_membranes:
                finals.append(v.to(torch.int64).contiguous().cpu().numpy())
        else:
            x = _PASSIVE[type(layer)](layer, x)
        # binary after a spiking or pooling layer; flatten keeps its input's values
        known = 1.0 if not isinstance(layer, Flatten) else None
        events = _frame_sums(x, n_t, n, known).to(torch.int64).cpu().numpy()  # next input
        stats["spikes"][li] = events.sum(axis=1)
        samples["spikes"][:, li] = events.sum(axis=0)
    counts = x.reshape(n_t, n, -1).sum(dim=0, dtype=torch.float64).to(torch.int64).cpu().numpy()
    return batch_stats(counts, stats, samples, finals if return_membranes else None)


# --------------------------------------------------------------------------------------------
# Event-driven compiled backend (Numba): one kernel per spiking layer, exact integer arithmetic.
# --------------------------------------------------------------------------------------------

#: int32 membranes hold every exact sum while ``2**(v_bits-1) + bound <= 2**31``; otherwise
#: the compiled backend accumulates in int64 (bounded by 2**62, see common.py).
INT32_EXACT = 1 << 31
#: Output channels are padded to a multiple of LANES (8 int32 = one 256-bit AVX2 register) so
#: that the compiled accumulation runs in whole vectors; padded lanes copy lane 0 (same weights,
#: same initial membrane), so they never change a count, a minimum or a maximum. Not a model
#: parameter.
LANES = 8


def _if_layer_kernel(x: Any, blocks: Any, where: Any, w: Any, n_real: int, fan: Any,
                     row_taps: Any, col_taps: Any, lo: int, hi: int, half: int, mask: int,
                     threshold: int, subtract: bool, v: Any, spikes: Any, ins: Any, sops: Any,
                     outs: Any, over: Any, vmin: Any, vmax: Any) -> None:
    """One IF layer (conv2d; linear as a 1x1 conv on a 1x1 map) over all T for every sample.

    Channels-last layout: ``x`` int counts ``[T, N, H, W, C]``; ``blocks`` uint64 ``[T, N,
    ceil(H*W*C/8)]``, nonzero where one of 8 consecutive positions of ``x`` has an event;
    ``where`` int64 ``[H*W*C, 3]``: (y, x, c) of each flat position (:func:`_positions`);
    ``w`` ``[C, KH, KW, O]`` in the accumulator dtype, O a multiple of LANES of which the first
    ``n_real`` are the layer's channels (the rest copy channel 0); ``fan`` int64 ``[H, W]``
    synapses per input pixel; ``row_taps`` int64 ``[H, 1 + 2*KH]``: for input row y the number
    m of kernel rows that reach an output row, then m pairs (kernel row i, output row oy)
    (``col_taps`` likewise for columns, :func:`tap_table`); ``v`` ``[N, OH, OW, O]`` membranes
    (the initial membranes on entry, the final ones on exit); ``spikes`` uint8
    ``[T, N, OH, OW, O]`` (written); ``ins, sops, outs, over, vmin, vmax`` int64 ``[T, N]``
    (written). Event-driven (paper §III): every input event (count k at pixel (y, x) of channel
    c) adds k times its fan-out weights into the membranes it reaches, one SOP each; then every
    membrane is wrapped to v_bits (an overflow event if it left the range), compared with the
    threshold and reset (docs/design.md §3).
    """
    n_t, n_s, h, wd, n_c = x.shape
    n_o = w.shape[3]
    oh, ow = v.shape[1], v.shape[2]
    n_v = oh * ow * n_o
    n_x = h * wd * n_c
    for s in prange(n_s):
        vs = v[s]
        vf = vs.reshape(n_v)
        events = np.empty(n_x, dtype=np.int64)
        for t in range(n_t):
            n_in = 0
            n_sop = 0
            xf = x[t, s].reshape(n_x)
            xw = blocks[t, s]
            # positions with events, gathered without a branch per position
            n_ev = 0
            for blk in range(xw.shape[0]):
                if xw[blk] == 0:  # eight input positions without events
                    continue
                for p in range(8 * blk, min(8 * blk + 8, n_x)):
                    events[n_ev] = p
                    n_ev += xf[p] != 0
            for e in range(n_ev):
                p = events[e]
                k = xf[p]
                y, xx, c = where[p, 0], where[p, 1], where[p, 2]
                n_in += k
                n_sop += k * fan[y, xx]
                for a in range(row_taps[y, 0]):
                    i, oy = row_taps[y, 1 + 2 * a], row_taps[y, 2 + 2 * a]
                    for b in range(col_taps[xx, 0]):
                        j, ox = col_taps[xx, 1 + 2 * b], col_taps[xx, 2 + 2 * b]
                        vrow = vs[oy, ox]
                        wrow = w[c, i, j]
                        if k == 1:
                            for o in range(n_o):
                                vrow[o] += wrow[o]
                        else:
                            for o in range(n_o):
                                vrow[o] += k * wrow[o]
            mn = vf[0]
            mx = vf[0]
            for q in range(n_v):
                mn = min(mn, vf[q])
                mx = max(mx, vf[q])
            n_over = 0
            if mn < lo or mx > hi:  # rare: wrap modulo 2**v_bits (the macro's adder)
                for q in range(n_v):
                    val = vf[q]
                    if val < lo or val > hi:
                        vf[q] = ((val + half) & mask) - half
                        n_over += q % n_o < n_real
                mn = vf[0]
                mx = vf[0]
                for q in range(n_v):
                    mn = min(mn, vf[q])
                    mx = max(mx, vf[q])
            sp = spikes[t, s].reshape(n_v)
            n_out = 0
            for q in range(n_v):
                f = vf[q] >= threshold
                sp[q] = f
                n_out += f
                if subtract:
                    vf[q] -= threshold * f
                else:
                    vf[q] *= 1 - f
            if n_real != n_o:  # padded lanes copy lane 0: take their spikes back out
                for q in range(n_v):
                    if q % n_o >= n_real:
                        n_out -= sp[q]
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


def accumulator_dtype(layer: SpikingLayer, bound: int) -> np.dtype:
    """Membrane dtype of the compiled backend: int32 while ``2**(v_bits-1) + bound <= 2**31``
    (every partial sum v + inputs lies in [-2**31, 2**31 - 1]), else int64. ``bound``: largest
    |synaptic input| of one neuron in one timestep (:func:`layer_input_bounds`)."""
    return np.dtype(np.int32 if (1 << (layer.v_bits - 1)) + bound <= INT32_EXACT else np.int64)


def tap_table(n_in: int, n_out: int, k: int, stride: int, pad: int) -> np.ndarray:
    """int64 ``[n_in, 1 + 2*k]``: per input position p, the number m of kernel taps i with an
    output q inside the map (``q*stride - pad + i == p``), then the m pairs (i, q)."""
    table = np.zeros((n_in, 1 + 2 * k), dtype=np.int64)
    for p in range(n_in):
        for i in range(k):
            r = p + pad - i
            if r >= 0 and r % stride == 0 and r // stride < n_out:
                m = table[p, 0]
                table[p, 1 + 2 * m], table[p, 2 + 2 * m] = i, r // stride
                table[p, 0] = m + 1
    return table


def _as_conv(layer: SpikingLayer, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(weights [C, KH, KW, O], fan-out [H, W], row taps, column taps) of a spiking layer; a
    linear layer is a 1x1 convolution of its F input features on a 1x1 map."""
    if isinstance(layer, Conv2d):
        w = np.transpose(np.asarray(layer.weight), (1, 2, 3, 0))
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
        return (w, conv_fanout(layer, (in_shape[1], in_shape[2])),
                tap_table(in_shape[1], out_shape[1], kh, sh, ph),
                tap_table(in_shape[2], out_shape[2], kw, sw, pw))
    w = np.asarray(layer.weight).T.reshape(-1, 1, 1, layer.weight.shape[0])
    one = tap_table(1, 1, 1, 1, 0)
    return w, np.full((1, 1), layer.weight.shape[0], dtype=np.int64), one, one


def _padded_lanes(n_o: int) -> np.ndarray:
    """Channel index of every lane: 0..n_o-1, then channel 0 up to a multiple of LANES."""
    pad = -n_o % LANES
    return np.concatenate([np.arange(n_o), np.zeros(pad, dtype=np.int64)]).astype(np.int64)


def _event_blocks(x: np.ndarray) -> np.ndarray:
    """uint64 ``[T, N, ceil(P/8)]`` over the P positions of every frame of ``x``: nonzero where
    one of 8 consecutive positions holds an event (a free view for uint8 frames of 8k bytes)."""
    n_t, n = x.shape[:2]
    flat = x.reshape(n_t, n, -1)
    if flat.dtype == np.uint8 and flat.shape[2] % 8 == 0:
        return flat.view(np.uint64)
    padded = np.zeros((n_t, n, -(-flat.shape[2] // 8) * 8), dtype=np.uint8)
    padded[:, :, : flat.shape[2]] = flat != 0
    return padded.view(np.uint64)


def _positions(shape: tuple[int, ...]) -> np.ndarray:
    """int64 ``[H*W*C, 3]``: (y, x, c) of every flat channels-last position of an ``[H, W, C]``
    frame (the kernel's events are flat positions)."""
    h, w, c = shape
    return np.stack(np.unravel_index(np.arange(h * w * c), (h, w, c)), axis=1).astype(np.int64)


def _pool_tn(layer: SpikeMaxPool, x: np.ndarray) -> np.ndarray:
    """Spike max-pool of channels-last ``[T, N, H, W, C]`` counts (OR over each window)."""
    kh, kw = layer.kernel
    sh, sw = layer.stride  # type: ignore[misc]
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    return np.ascontiguousarray(win[:, :, ::sh, ::sw].max(axis=(5, 6)) > 0).view(np.uint8)


def _flatten_tn(layer: Flatten, x: np.ndarray) -> np.ndarray:
    """Flatten channels-last ``[T, N, H, W, C]`` in the network's (C, H, W) C-order."""
    if x.ndim == 5:
        x = np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3))
    return x.reshape(x.shape[0], x.shape[1], -1)


#: Layers without neurons on ``[T, N, ...]`` integer arrays (compiled backend).
_PASSIVE_TN: dict[type, Callable[[Any, np.ndarray], np.ndarray]] = {
    SpikeMaxPool: _pool_tn, Flatten: _flatten_tn,
}


def _run_compiled(net: IntNetwork, spikes: np.ndarray, return_membranes: bool) -> BatchStats:
    """The compiled backend: per spiking layer one event-driven Numba kernel over all T and
    samples (parallel over samples), exact in int32 or int64 (:func:`accumulator_dtype`)."""
    kernel = _compiled_kernel()
    if kernel is None:
        raise ConfigError("the 'numba' backend of the fast engine needs Numba; install "
                          "flexspim[fast] or use the 'torch' backend")
    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    n_l = len(net.layers)
    max_count = int(spikes.max()) if spikes.size else 0
    bounds = layer_input_bounds(net, max_count)
    x = np.asarray(spikes, dtype=np.uint8 if max_count < 256 else np.int64)
    # feature maps run channels-last [T, N, H, W, C]: an event's fan-out weights and the
    # membranes it reaches are contiguous runs of output channels
    x = np.ascontiguousarray(x.transpose(0, 1, 3, 4, 2) if x.ndim == 5 else x)
    stats, samples = new_tallies(n_l, n_t, n)
    finals: list[np.ndarray] = []
    for li, (layer, (in_shape, out_shape)) in enumerate(zip(net.layers, net.shapes,
                                                            strict=True)):
        if isinstance(layer, SpikingLayer):
            acc = accumulator_dtype(layer, bounds[li])
            w, fan, rows, cols = _as_conv(layer, in_shape, out_shape)
            x5 = x if x.ndim == 5 else x.reshape(n_t, n, 1, 1, -1)
            oh, ow = (out_shape[1], out_shape[2]) if len(out_shape) == 3 else (1, 1)
            n_o = w.shape[3]
            lanes = _padded_lanes(n_o)
            v = np.zeros((n, oh, ow, n_o), dtype=acc)
            if layer.initial_membrane is not None:
                v[...] = np.asarray(layer.initial_membrane).reshape(n_o, oh, ow).transpose(1, 2, 0)
            v = np.ascontiguousarray(v[..., lanes])
            out = np.empty((n_t, n, oh, ow, lanes.size), dtype=np.uint8)
            per = [np.empty((n_t, n), dtype=np.int64) for _ in range(6)]
            lo, hi = int_range(layer.v_bits)
            # samples are handed to threads one at a time (dynamic scheduling): a thread whose
            # core is busy with other work takes fewer samples
            with numba.parallel_chunksize(1):
                kernel(x5, _event_blocks(x5), _positions(x5.shape[2:]),
                       np.ascontiguousarray(w[..., lanes], dtype=acc), n_o, fan, rows, cols,
                       acc.type(lo), acc.type(hi), 1 << (layer.v_bits - 1),
                       (1 << layer.v_bits) - 1, acc.type(layer.threshold),
                       layer.reset == "subtract", v, out, *per)
            for key, arr in zip(("inputs", "sops", "spikes", "overflow"), per[:4], strict=True):
                stats[key][li] = arr.sum(axis=1)
                if key != "overflow":
                    samples[key][:, li] = arr.sum(axis=0)
            stats["vmin"][li], stats["vmax"][li] = per[4].min(axis=1), per[5].max(axis=1)
            if lanes.size != n_o:
                out, v = np.ascontiguousarray(out[..., :n_o]), v[..., :n_o]
            x = out if len(out_shape) == 3 else out.reshape(n_t, n, n_o)
            if return_membranes:
                finals.append(v.transpose(0, 3, 1, 2).astype(np.int64).reshape(n, *out_shape))
        else:
            ins = x.reshape(n_t, n, -1).sum(axis=2, dtype=np.int64)
            stats["inputs"][li], samples["inputs"][:, li] = ins.sum(axis=1), ins.sum(axis=0)
            x = _PASSIVE_TN[type(layer)](layer, x)
            outs = x.reshape(n_t, n, -1).sum(axis=2, dtype=np.int64)
            stats["spikes"][li], samples["spikes"][:, li] = outs.sum(axis=1), outs.sum(axis=0)
    if x.ndim == 5:
        x = x.transpose(0, 1, 4, 2, 3)
    counts = x.reshape(n_t, n, -1).sum(axis=0, dtype=np.int64)
    return batch_stats(counts, stats, samples, finals if return_membranes else None)


#: Backends of the fast engine: name -> runner. Identical results; ``numba`` (event-driven,
#: compiled) is the default where Numba is installed, ``torch`` (dense float convolutions) else.
BACKENDS: dict[str, Callable[[IntNetwork, np.ndarray, bool], BatchStats]] = {
    "numba": _run_compiled,
    "torch": _run_torch,
}


def default_backend() -> str:
    """``numba`` when Numba is importable, else ``torch``."""
    return "numba" if numba is not None else "torch"


def run_batch(net: IntNetwork, spikes: np.ndarray, *, return_membranes: bool = False,
              backend: str | None = None, device: Any = None) -> BatchStats:
    """Simulate one batch of binned spikes ``[T, N, *input_shape]`` (int counts >= 0).

    ``backend``: a key of :data:`BACKENDS` (default :func:`default_backend`). ``device``: a
    ``torch.device`` or its name; a CUDA device runs the ``torch`` backend there (the compiled
    backend runs on the CPU only).
    """
    if is_cuda(device):
        if backend not in (None, "torch"):
            raise ConfigError(f"the '{backend}' backend of the fast engine runs on the CPU only; "
                              f"use the 'torch' backend on {device}")
        return _run_torch(net, spikes, return_membranes, device)
    name = default_backend() if backend is None else backend
    if name not in BACKENDS:
        raise ConfigError(f"unknown fast-engine backend '{name}'; use one of "
                          f"{', '.join(BACKENDS)}")
    return BACKENDS[name](net, spikes, return_membranes)
