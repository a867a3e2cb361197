"""Pieces shared by the simulator's engines: the per-batch statistics every engine returns, the
SOP fan-out of each input pixel, and the exactness bounds of the fast engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexspim.errors import NetworkError
from flexspim.net.layers import Conv2d, SpikingLayer
from flexspim.net.network import IntNetwork

#: float32 adds integers exactly while every partial sum stays below 2**24 (24-bit significand).
FLOAT32_EXACT = 1 << 24
#: float64 adds integers exactly below 2**53 (53-bit significand).
FLOAT64_EXACT = 1 << 53
#: The largest exact sum the simulator accepts, so that int64 arithmetic never wraps silently
#: (the same limit as :data:`flexspim.net.reference.INT64_SAFE`).
INT64_SAFE = 1 << 62


@dataclass(frozen=True, eq=False)
class BatchStats:
    """What an engine returns for one batch of ``N`` samples (all int64).

    ``step_*``: ``[L, T]`` summed over the batch's samples; ``sample_*``: ``[N, L]`` summed over
    timesteps; ``membrane_min/max``: ``[L, T]`` after integration, before reset (0 for layers
    without membranes); ``final_membranes``: per spiking layer ``[N, *shape]`` or None.
    """

    output_counts: np.ndarray
    step_input_events: np.ndarray
    step_sops: np.ndarray
    step_output_spikes: np.ndarray
    step_overflow: np.ndarray
    membrane_min: np.ndarray
    membrane_max: np.ndarray
    sample_sops: np.ndarray
    sample_spikes: np.ndarray
    sample_input_events: np.ndarray
    final_membranes: list[np.ndarray] | None
    #: Every layer's output events ``[T, N, outputs]`` (uint8), only when asked for
    #: (``record=True``: the activity trace the system engine replays).
    layer_outputs: list[np.ndarray] | None = None


Tallies = dict[str, np.ndarray]


def new_tallies(n_layers: int, n_timesteps: int, n_samples: int) -> tuple[Tallies, Tallies]:
    """Zeroed per-step ``[L, T]`` tallies (inputs, sops, spikes, overflow, vmin, vmax) and
    per-sample ``[N, L]`` tallies (inputs, sops, spikes) that an engine fills in."""
    steps = {k: np.zeros((n_layers, n_timesteps), dtype=np.int64)
             for k in ("inputs", "sops", "spikes", "overflow", "vmin", "vmax")}
    samples = {k: np.zeros((n_samples, n_layers), dtype=np.int64)
               for k in ("inputs", "sops", "spikes")}
    return steps, samples


def batch_stats(output_counts: np.ndarray, steps: Tallies, samples: Tallies,
                final_membranes: list[np.ndarray] | None,
                layer_outputs: list[np.ndarray] | None = None) -> BatchStats:
    """The :class:`BatchStats` of filled :func:`new_tallies`."""
    return BatchStats(layer_outputs=layer_outputs,
        output_counts=output_counts,
        step_input_events=steps["inputs"], step_sops=steps["sops"],
        step_output_spikes=steps["spikes"], step_overflow=steps["overflow"],
        membrane_min=steps["vmin"], membrane_max=steps["vmax"],
        sample_sops=samples["sops"], sample_spikes=samples["spikes"],
        sample_input_events=samples["inputs"], final_membranes=final_membranes)


def merge_stats(parts: list[BatchStats]) -> BatchStats:
    """One :class:`BatchStats` for the samples of ``parts`` in order (counts add, min/max
    combine)."""
    if len(parts) == 1:
        return parts[0]

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts], axis=0)

    def total(name: str) -> np.ndarray:
        return np.sum([getattr(p, name) for p in parts], axis=0).astype(np.int64)

    finals = None
    if parts[0].final_membranes is not None:
        finals = [np.concatenate([p.final_membranes[i] for p in parts], axis=0)  # type: ignore
                  for i in range(len(parts[0].final_membranes))]
    outputs = None
    if parts[0].layer_outputs is not None:
        outputs = [np.concatenate([p.layer_outputs[i] for p in parts], axis=1)  # type: ignore
                   for i in range(len(parts[0].layer_outputs))]
    return BatchStats(
        layer_outputs=outputs, output_counts=cat("output_counts"),
        step_input_events=total("step_input_events"), step_sops=total("step_sops"),
        step_output_spikes=total("step_output_spikes"), step_overflow=total("step_overflow"),
        membrane_min=np.min([p.membrane_min for p in parts], axis=0).astype(np.int64),
        membrane_max=np.max([p.membrane_max for p in parts], axis=0).astype(np.int64),
        sample_sops=cat("sample_sops"), sample_spikes=cat("sample_spikes"),
        sample_input_events=cat("sample_input_events"), final_membranes=finals,
    )


def conv_fanout(layer: Conv2d, in_hw: tuple[int, int]) -> np.ndarray:
    """``[H, W]`` int64: synapses (output neurons it reaches) of one input pixel of one channel.

    A pixel (y, x) reaches output (o, oy, ox) through tap (i, j) when ``oy*sh - ph + i == y`` and
    ``ox*sw - pw + j == x`` with the output inside the map; every out channel o counts. Zero
    weights count; taps in the padding read no pixel, so they are not synapses (docs/design.md §3).
    """
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    h, w = in_hw
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def axis(n_in: int, n_out: int, k: int, s: int, p: int) -> np.ndarray:
        reach = np.zeros(n_in, dtype=np.int64)
        for i in range(k):
            pos = np.arange(n_out) * s - p + i
            np.add.at(reach, pos[(pos >= 0) & (pos < n_in)], 1)
        return reach

    return np.outer(axis(h, oh, kh, sh, ph), axis(w, ow, kw, sw, pw)) * layer.out_channels


def fan_in_bound(layer: SpikingLayer) -> int:
    """Largest sum of |weight| over one neuron's fan-in (a Python int, exact)."""
    w = np.asarray(layer.weight)
    if not w.size:
        return 0
    flat = w.reshape(w.shape[0], -1)
    if layer.w_bits <= 32 and flat.shape[1] < (1 << 30):  # int64 holds the sum exactly
        return int(np.abs(flat.astype(np.int64)).sum(axis=1).max())
    return int(np.abs(flat.astype(object)).sum(axis=1).max())


def layer_input_bounds(net: IntNetwork, max_count: int) -> list[int]:
    """Per layer: largest |synaptic input| of one neuron in one timestep (0 for passive layers).

    ``max_count`` is the largest input count of the first layer; after a spiking layer inputs
    are binary (maxpool and flatten keep their input's maximum). Raises NetworkError when an exact
    membrane sum could pass 2**62.
    """
    count = max(int(max_count), 1)
    out: list[int] = []
    for layer in net.layers:
        if isinstance(layer, SpikingLayer):
            bound = fan_in_bound(layer) * count
            if (1 << (layer.v_bits - 1)) + bound >= INT64_SAFE:
                raise NetworkError(f"layer '{layer.name}': membranes of v_bits = {layer.v_bits} "
                                   f"plus inputs up to {bound} can exceed 2**62; exact "
                                   f"simulation needs v_bits <= 61 and smaller weights")
            out.append(bound)
            count = 1
        else:
            out.append(0)
    return out


def layer_neurons(net: IntNetwork) -> tuple[int, ...]:
    """Output size (neurons or output events per timestep at most) of every layer."""
    return tuple(int(np.prod(out)) for _, out in net.shapes)


def leak_operations(net: IntNetwork, n_samples: int, n_timesteps: int) -> np.ndarray:
    """int64 ``[L, T]``: membranes leaked per layer and timestep over ``n_samples`` samples.

    The leak is time-driven (docs/arithmetic.md "Leak"): every membrane of a leaky layer, every
    timestep, whatever the events; 0 for layers without a leak or without membranes.
    """
    per_layer = [int(np.prod(out)) * int(n_samples)
                 if isinstance(layer, SpikingLayer) and layer.leak is not None else 0
                 for layer, (_, out) in zip(net.layers, net.shapes, strict=True)]
    return np.repeat(np.asarray(per_layer, dtype=np.int64)[:, None], int(n_timesteps), axis=1)


