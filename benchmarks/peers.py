"""SNN simulators timed beside flexspim by bench_sim.py (installed with ``pip install -e .[bench]``).

Float peers (PyTorch; CPU inference, ``torch.no_grad``, float32, the caller's torch threads)
build the benchmark network from the same integer weights (``nn.Conv2d`` / ``nn.Linear``
without bias, weights as float32 integers) and integrate-and-fire neurons without leak, and run
the same binned inputs ``[T, N, ...]`` batch by batch:

- ``snntorch``: ``snn.Leaky(beta=1, threshold=thr, reset_mechanism="subtract",
  reset_delay=False)`` stepped over T. Leaky fires on v > threshold (flexspim: v >= threshold),
  and no other threshold subtracts exactly thr, so its spikes differ where a membrane equals the
  threshold;
- ``spikingjelly``: ``activation_based.neuron.IFNode(v_threshold=thr, v_reset=None)`` (soft
  reset = subtract), multi-step mode: each layer runs on all T x N frames at once;
- ``sinabs``: ``layers.IAFSqueeze(spike_threshold=thr, spike_fn=SingleSpike,
  reset_fn=MembraneSubtract(), min_v_mem=None)`` on (batch x time)-squeezed frames;
- ``norse``: ``torch.IAFCell(IAFParameters(v_th=thr, v_reset=0))`` stepped over T; Norse's IAF
  fires on v > threshold and resets to ``v_reset`` (it has no subtract reset), so its spikes
  differ from ours after the first reset: a speed peer only.

All sums are integers below 2**24, exact in float32, and the benchmark's membranes never reach
the 16-bit range, so SpikingJelly and Sinabs compute the same spikes as flexspim
(``<peer>_same_counts``).

Each peer is ``run(net, x, batch) -> (wall seconds, output spike counts [N, classes])``;
:func:`missing` says why a peer cannot run here (the import error), so the benchmark records it
and goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from flexspim.net import Conv2d, Flatten, IntNetwork, Linear, SpikingLayer

PeerRun = tuple[float, np.ndarray]


def synapses(net: IntNetwork) -> list[torch.nn.Module]:
    """The network's layers as float32 torch modules (no bias; flatten as ``nn.Flatten``)."""
    mods: list[torch.nn.Module] = []
    for layer in net.layers:
        if isinstance(layer, Conv2d):
            m: torch.nn.Module = torch.nn.Conv2d(layer.in_channels, layer.out_channels,
                                                 layer.kernel_size, stride=layer.stride,
                                                 padding=layer.padding, bias=False)
        elif isinstance(layer, Linear):
            m = torch.nn.Linear(layer.in_features, layer.out_features, bias=False)
        elif isinstance(layer, Flatten):
            m = torch.nn.Flatten()
        else:
            raise ValueError(f"layer {layer.name}: not part of the benchmark network")
        if isinstance(layer, SpikingLayer):
            with torch.no_grad():
                m.weight.copy_(torch.as_tensor(layer.weight, dtype=torch.float32))
        mods.append(m)
    return mods


def _batches(x: np.ndarray, batch: int) -> list[torch.Tensor]:
    return [torch.from_numpy(np.ascontiguousarray(x[:, s : s + batch], dtype=np.float32))
            for s in range(0, x.shape[1], batch)]


def _stepped(net: IntNetwork, x: np.ndarray, batch: int,
             neuron: Callable[[SpikingLayer], Any], step: Callable[[Any, Any, Any], Any]
             ) -> PeerRun:
    """Peers stepped over T: ``neuron(layer)`` makes a cell, ``step(cell, current, state)``
    returns (spikes, state)."""
    mods = synapses(net)
    cells = [neuron(la) if isinstance(la, SpikingLayer) else None for la in net.layers]
    counts = []
    frames = _batches(x, batch)
    t0 = time.perf_counter()
    with torch.no_grad():
        for xb in frames:
            states: list[Any] = [None] * len(mods)
            total = 0
            for t in range(xb.shape[0]):
                h = xb[t]
                for i, (m, cell) in enumerate(zip(mods, cells, strict=True)):
                    h = m(h)
                    if cell is not None:
                        h, states[i] = step(cell, h, states[i])
                total = total + h
            counts.append(total.numpy())
    return time.perf_counter() - t0, np.concatenate(counts)


def run_snntorch(net: IntNetwork, x: np.ndarray, batch: int) -> PeerRun:
    import snntorch as snn

    def neuron(layer: SpikingLayer) -> Any:
        return snn.Leaky(beta=1.0, threshold=float(layer.threshold),
                         reset_mechanism="subtract", reset_delay=False)

    def step(cell: Any, h: Any, mem: Any) -> Any:
        spk, mem = cell(h, cell.init_leaky() if mem is None else mem)
        return spk, mem

    return _stepped(net, x, batch, neuron, step)


def run_norse(net: IntNetwork, x: np.ndarray, batch: int) -> PeerRun:
    from norse.torch import IAFCell, IAFParameters

    def neuron(layer: SpikingLayer) -> Any:
        return IAFCell(IAFParameters(v_th=torch.tensor(float(layer.threshold)),
                                     v_reset=torch.tensor(0.0)))

    def step(cell: Any, h: Any, state: Any) -> Any:
        return cell(h, state)

    return _stepped(net, x, batch, neuron, step)


def run_spikingjelly(net: IntNetwork, x: np.ndarray, batch: int) -> PeerRun:
    from spikingjelly.activation_based import functional, layer, neuron

    mods: list[torch.nn.Module] = []
    for la, m in zip(net.layers, synapses(net), strict=True):
        mods.append(layer.SeqToANNContainer(m))
        if isinstance(la, SpikingLayer):
            mods.append(neuron.IFNode(v_threshold=float(la.threshold), v_reset=None,
                                      step_mode="m"))
    model = torch.nn.Sequential(*mods)
    functional.set_step_mode(model, "m")
    counts = []
    frames = _batches(x, batch)
    t0 = time.perf_counter()
    with torch.no_grad():
        for xb in frames:
            functional.reset_net(model)
            counts.append(model(xb).sum(dim=0).numpy())
    return time.perf_counter() - t0, np.concatenate(counts)


def run_sinabs(net: IntNetwork, x: np.ndarray, batch: int) -> PeerRun:
    from sinabs.activation import MembraneSubtract, SingleSpike
    from sinabs.layers import IAFSqueeze

    n_t = x.shape[0]
    counts = []
    frames = _batches(x, batch)
    t0 = time.perf_counter()
    with torch.no_grad():
        for xb in frames:
            n = xb.shape[1]
            mods: list[torch.nn.Module] = []
            for la, m in zip(net.layers, synapses(net), strict=True):
                mods.append(m)
                if isinstance(la, SpikingLayer):
                    mods.append(IAFSqueeze(batch_size=n, spike_threshold=float(la.threshold),
                                           spike_fn=SingleSpike, reset_fn=MembraneSubtract(),
                                           min_v_mem=None))
            model = torch.nn.Sequential(*mods)
            # (batch x time) squeezed: sample-major, as sinabs expects
            out = model(xb.transpose(0, 1).reshape(n * n_t, *xb.shape[2:]))
            counts.append(out.reshape(n, n_t, -1).sum(dim=1).numpy())
    return time.perf_counter() - t0, np.concatenate(counts)


#: Float peers by name (the keys of ``speedup_vs_<peer>``), with the module each one imports.
FLOAT_PEERS: dict[str, tuple[str, Callable[[IntNetwork, np.ndarray, int], PeerRun]]] = {
    "snntorch": ("snntorch", run_snntorch),
    "spikingjelly": ("spikingjelly.activation_based.neuron", run_spikingjelly),
    "sinabs": ("sinabs.layers", run_sinabs),
    "norse": ("norse.torch", run_norse),
}


def missing(module: str) -> str | None:
    """None when ``module`` imports, else the error (one line)."""
    try:
        __import__(module)
    except Exception as exc:  # noqa: BLE001 - any import failure disqualifies the peer
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def version(module: str) -> str | None:
    """The installed version of a distribution, or None."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(module)
    except PackageNotFoundError:
        return None
