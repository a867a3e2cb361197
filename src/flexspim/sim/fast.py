"""The ``fast`` engine: vectorised, batched, bit-exact with :mod:`flexspim.net.reference`.

Two backends (:data:`BACKENDS`) with identical results and counts:

- ``numba`` (default where Numba is installed, ``pip install flexspim[fast]``): event-driven
  like the chip (paper §III), in :mod:`flexspim.sim.compiled`. Per spiking layer one compiled
  kernel runs all T timesteps of every sample (parallel over samples): each input event adds its
  fan-out weights into the timestep's input of the neurons it reaches, then one pass wraps,
  counts overflow, thresholds and resets; spikes travel between layers as bit maps. Exact
  integer lanes: int16 where ``v_bits <= 16`` and the timestep's input fits, else int32 or
  int64 (:func:`flexspim.sim.compiled.lane_dtype`).
- ``torch``: a layer's synaptic input at timestep t depends only on that layer's input events
  at t (a leak acts on the membranes, not on the input), so one convolution (or matrix
  product) over all ``T x N`` input frames gives every timestep's input at once; only the
  leak/integrate/threshold/reset scan runs sequentially over T. A leak is exact in the scan's
  arithmetic: ``trunc(v * 2**-k)`` of an integer-valued float is exact (a power-of-two scale),
  and so is ``clamp``. The convolution runs in float32 when every partial sum stays below
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

from collections.abc import Callable
from typing import Any

import numpy as np

from flexspim._device import exact_math, is_cuda
from flexspim.errors import ConfigError
from flexspim.net.layers import Conv2d, Flatten, Leak, SpikeMaxPool, SpikingLayer, int_range
from flexspim.net.network import IntNetwork
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
from flexspim.sim.compiled import numba, run_compiled


def _dtype_for(bound: int) -> Any:
    import torch

    if bound < FLOAT32_EXACT:
        return torch.float32
    if bound < FLOAT64_EXACT:
        return torch.float64
    return torch.int64


def _reference() -> Any:
    """The integer reference module (imports torch: only when the torch backend runs)."""
    from flexspim.net import reference  # imports torch

    return reference


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
            out += _reference().channel_mix(tap, w[:, :, i, j])
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
        return _reference().int64_matmul(x.reshape(x.shape[0], -1).to(dtype), w)
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
    """Leak, integrate, threshold and reset over T; returns (spikes [T*N, ...] float32,
    membranes).

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


def _leak_step(v: Any, leak: Leak) -> None:
    """``v <- v - leak_term(v)`` in place, exact in v's dtype (float32/float64 integer values,
    or int64)."""
    import torch

    if leak.kind == "constant":
        v.sub_(v.clamp(-leak.amount, leak.amount))
    elif v.dtype == torch.int64:
        v.sub_(_reference()._shift_term(v, leak.amount))
    else:
        v.sub_(torch.trunc(v * 2.0 ** -leak.amount))


def _scan_chunk(layer: SpikingLayer, v: Any, syn: Any, spikes: Any, n: int, s0: int, s1: int,
                n_t: int, dtype: Any, li: int, stats: dict[str, np.ndarray], vmin: np.ndarray,
                vmax: np.ndarray) -> None:
    import torch

    lo, hi = int_range(layer.v_bits)
    thr = layer.threshold
    for t in range(n_t):
        if layer.leak is not None:
            _leak_step(v, layer.leak)
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
               device: Any = None, record: bool = False) -> BatchStats:
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
        return merge_stats([_run_chunk(net, spikes[:, s : s + chunk], return_membranes, device,
                                       record) for s in range(0, n, chunk)])


def _run_chunk(net: IntNetwork, spikes: np.ndarray, return_membranes: bool,
               device: Any = None, record: bool = False) -> BatchStats:
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
    outputs: list[np.ndarray] = []
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
        if record:   # spikes are 0/1; a flatten of the input keeps its event counts
            kind = torch.uint8 if known == 1.0 else torch.int32
            outputs.append(x.reshape(n_t, n, -1).to(kind).cpu().numpy())
    counts = x.reshape(n_t, n, -1).sum(dim=0, dtype=torch.float64).to(torch.int64).cpu().numpy()
    return batch_stats(counts, stats, samples, finals if return_membranes else None,
                       outputs if record else None)


#: Backends of the fast engine: name -> runner. Identical results; ``numba`` (event-driven,
#: compiled) is the default where Numba is installed, ``torch`` (dense float convolutions) else.
BACKENDS: dict[str, Callable[..., BatchStats]] = {
    "numba": run_compiled,
    "torch": _run_torch,
}


def default_backend() -> str:
    """``numba`` when Numba is importable, else ``torch``."""
    return "numba" if numba is not None else "torch"


def run_batch(net: IntNetwork, spikes: np.ndarray, *, return_membranes: bool = False,
              backend: str | None = None, device: Any = None, record: bool = False
              ) -> BatchStats:
    """Simulate one batch of binned spikes ``[T, N, *input_shape]`` (int counts >= 0).

    ``backend``: a key of :data:`BACKENDS` (default :func:`default_backend`). ``device``: a
    ``torch.device`` or its name; a CUDA device runs the ``torch`` backend there (the compiled
    backend runs on the CPU only). ``record``: also return every layer's output events
    (``BatchStats.layer_outputs``).
    """
    if is_cuda(device):
        if backend not in (None, "torch"):
            raise ConfigError(f"the '{backend}' backend of the fast engine runs on the CPU only; "
                              f"use the 'torch' backend on {device}")
        return _run_torch(net, spikes, return_membranes, device, record)
    name = default_backend() if backend is None else backend
    if name not in BACKENDS:
        raise ConfigError(f"unknown fast-engine backend '{name}'; use one of "
                          f"{', '.join(BACKENDS)}")
    return BACKENDS[name](net, spikes, return_membranes, record=record)
