"""Entry point of the simulator: :func:`simulate` and the engine registry :data:`ENGINES`.

Inputs follow one convention, the reference's: binned spikes ``[T, N, *net.input_shape]``
(time first, then samples) as a NumPy or torch integer array of nonnegative counts (a count k is k
events at that pixel and bin). Event streams are accepted too: one structured array (fields x, y,
p, t, Tonic's dtype) or a list of them (one per sample), binned with
:func:`flexspim.data.bin_events` into ``n_time_bins`` bins over ``sensor_size`` (W, H, P).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from flexspim._device import as_device, is_cuda
from flexspim.data import bin_events
from flexspim.errors import ConfigError, FormatError, NetworkError
from flexspim.net.network import IntNetwork
from flexspim.sim import bitcell, bitlevel, fast
from flexspim.sim.batches import NetworkEngine, check_batch_size, check_labels, run_batches
from flexspim.sim.common import BatchStats, layer_neurons, leak_operations, merge_stats
from flexspim.sim.result import SimResult

#: Largest event count per pixel and bin, plus one (float32 inputs of the fast engine stay exact
#: below 2**24; larger counts switch it to float64).
MAX_COUNT = 1 << 31

#: Engine registry: name -> ``run_batch(net, spikes [T, N, ...], *, return_membranes)``.
#: ``fast``: vectorised/compiled integer lanes; ``bitlevel``: every SOP through the macro's five
#: phases on bit planes; ``bitcell``: every SOP through the per-cell macro model (the
#: specification, slow). All three give identical results.
ENGINES: dict[str, Callable[..., BatchStats]] = {
    "fast": fast.run_batch,
    "bitlevel": bitlevel.run_batch,
    "bitcell": bitcell.run_batch,
}


def _is_event_array(obj: Any) -> bool:
    return isinstance(obj, np.ndarray) and obj.dtype.names is not None


def bin_event_streams(streams: Sequence[np.ndarray], n_time_bins: int,
                      sensor_size: tuple[int, int, int]) -> np.ndarray:
    """Bin event streams into ``[T, N, P, H, W]`` int64 counts with
    :func:`flexspim.data.bin_events`."""
    frames = [np.asarray(bin_events(ev, sensor_size, n_time_bins), dtype=np.int64)
              for ev in streams]
    return np.stack(frames, axis=1)


def sensor_advice(sensor: Sequence[int], net_wh: tuple[int, int]) -> str:
    """How to feed events of a ``sensor`` (W, H) to a network of input ``net_wh`` (W, H): map the
    sensor onto the network's input (command line ``--downsample W,H``, Tonic's semantics)."""
    (sw, sh), (w, h) = (int(sensor[0]), int(sensor[1])), net_wh
    if sw < w or sh < h:
        return (f"the {sw} x {sh} sensor is smaller than the {w} x {h} input and events are not "
                f"up-sampled: simulate a network made for this sensor (flexspim data frames / "
                f"flexspim train, docs/training.md)")
    return (f"map the {sw} x {sh} sensor onto {w} x {h} (command line: --downsample {w},{h}, "
            f"with --crop X0,Y0,W,H first to keep the aspect; Python: "
            f"flexspim.data.inputs.Preprocess)")


def prepare_inputs(net: IntNetwork, inputs: Any, *, n_time_bins: int | None = None,
                   sensor_size: Sequence[int] | None = None) -> np.ndarray:
    """Turn ``inputs`` (binned spikes or event streams) into integer ``[T, N, *input_shape]``.

    Binned integer arrays keep their dtype (engines cast them); booleans become int64.
    """
    if _is_event_array(inputs):
        inputs = [inputs]
    if isinstance(inputs, (list, tuple)) and inputs and all(_is_event_array(e) for e in inputs):
        if n_time_bins is None or int(n_time_bins) < 1:
            raise ConfigError(f"event-stream inputs need n_time_bins >= 1 (got {n_time_bins!r}); "
                              f"pass n_time_bins / --time-bins")
        c, h, w = (tuple(net.data_shape) + (1, 1))[:3]
        size = tuple(int(s) for s in (sensor_size if sensor_size is not None else (w, h, c)))
        size = size + (c,) if len(size) == 2 else size
        if size != (w, h, c):
            raise ConfigError(f"sensor size {size} (W, H, P) does not match the network input "
                              f"(C, H, W) = {tuple(net.data_shape)}; "
                              f"{sensor_advice(size[:2], (w, h))}")
        arr = bin_event_streams(list(inputs), int(n_time_bins), size)  # type: ignore[arg-type]
    else:
        if hasattr(inputs, "detach"):
            inputs = inputs.detach().cpu().numpy()
        arr = np.asarray(inputs)
        if arr.dtype == np.bool_:
            arr = arr.astype(np.int64)
        if not np.issubdtype(arr.dtype, np.integer):
            raise FormatError(f"inputs: dtype {arr.dtype} is neither integer spike counts "
                              f"[T, N, *input_shape] nor structured events (x, y, p, t)")
    shape = tuple(net.input_shape)
    if net.always_on and arr.ndim == 2 + len(shape) and tuple(arr.shape[2:]) == net.data_shape:
        arr = net.with_always_on(arr)
    if arr.ndim != 2 + len(shape) or tuple(arr.shape[2:]) != shape:
        raise NetworkError(f"inputs: shape {tuple(arr.shape)} does not match [T, N, "
                           f"{', '.join(map(str, shape))}] of network '{net.name}' (time first, "
                           f"then samples)")
    if n_time_bins is not None and arr.shape[0] != int(n_time_bins):
        raise ConfigError(f"inputs are binned into {arr.shape[0]} time bins, n_time_bins is "
                          f"{n_time_bins}: leave n_time_bins out (--time-bins) to simulate the "
                          f"{arr.shape[0]} bins as they are, or bin the events into "
                          f"{n_time_bins}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise FormatError(f"inputs: shape {tuple(arr.shape)} has no timestep or no sample")
    if arr.size and int(arr.min()) < 0:
        raise FormatError("inputs: negative event counts; counts must be >= 0")
    if arr.size and int(arr.max()) >= MAX_COUNT:
        raise FormatError(f"inputs: an event count of {int(arr.max())} at one pixel and bin; "
                          f"counts must be < 2**31 (use more time bins)")
    return arr


def _engine_runner(engine: str, device: Any) -> Callable[..., BatchStats]:
    """The batch runner of ``engine`` on ``device`` (None: the engine's own default, the CPU).

    ``device`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (or a ``torch.device``); a CUDA
    device runs the fast engine's torch backend there, bit-exact as on the CPU.
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine '{engine}'; use one of {', '.join(ENGINES)}")
    if device is None:
        return ENGINES[engine]

    dev = as_device(device)
    if not is_cuda(dev):
        return ENGINES[engine]
    if engine != "fast":
        raise ConfigError(f"the '{engine}' engine runs on the CPU only; use engine 'fast' on "
                          f"{dev} or device 'cpu'")
    return functools.partial(fast.run_batch, device=dev)


def simulate(net: IntNetwork, inputs: Any, *, engine: str = "fast",
             n_time_bins: int | None = None, sensor_size: Sequence[int] | None = None,
             labels: Any = None, batch_size: int = 64, progress: bool = False,
             return_membranes: bool = False, device: Any = None) -> SimResult:
    """Simulate ``net`` bit-exactly on ``inputs``; returns per-layer, per-timestep counts.

    ``inputs``: binned spikes ``[T, N, *net.input_shape]`` or event streams (see the module
    docstring). ``engine``: a key of :data:`ENGINES` (``fast`` by default, ``bitlevel`` runs every
    SOP through the macro's phases on bit planes, ``bitcell`` through the per-cell macro model).
    Samples run in batches of ``batch_size``; ``progress`` shows a tqdm bar on stderr.
    Arithmetic and counts: docs/design.md §3, :class:`SimResult`. ``device``: ``auto``,
    ``cpu``, ``cuda`` or ``cuda:N`` for the torch backend of the fast engine (default: the
    engine's own backend on the CPU).
    """
    runner = _engine_runner(engine, device)
    check_batch_size(batch_size)
    spikes = prepare_inputs(net, inputs, n_time_bins=n_time_bins, sensor_size=sensor_size)
    n_t, n = int(spikes.shape[0]), int(spikes.shape[1])
    lab = check_labels(labels, n)
    eng = NetworkEngine(net, spikes, runner, name=f"simulate ({engine})",
                        return_membranes=return_membranes)
    parts = run_batches(eng, n, batch_size, progress)
    return assemble_result(net, merge_stats(parts), engine, n_t, lab)


def assemble_result(net: IntNetwork, merged: BatchStats, engine: str, n_timesteps: int,
                    labels: np.ndarray | None) -> SimResult:
    """The :class:`SimResult` of every batch's statistics merged into one (predictions: the
    class with the most output spikes, ties to the lowest index)."""
    counts = merged.output_counts
    return SimResult(
        engine=engine, n_samples=int(counts.shape[0]), n_timesteps=int(n_timesteps),
        layer_names=[layer.name for layer in net.layers],
        predictions=np.argmax(counts, axis=1).astype(np.int64), labels=labels,
        output_counts=counts, network=net.name, layer_neurons=layer_neurons(net),
        layer_kinds=tuple(layer.kind for layer in net.layers),
        input_events=merged.step_input_events, sops=merged.step_sops,
        output_spikes=merged.step_output_spikes, overflow_events=merged.step_overflow,
        membrane_min=merged.membrane_min, membrane_max=merged.membrane_max,
        sample_sops=merged.sample_sops, sample_spikes=merged.sample_spikes,
        sample_input_events=merged.sample_input_events, final_membranes=merged.final_membranes,
        leak_ops=leak_operations(net, int(counts.shape[0]), n_timesteps),
    )
