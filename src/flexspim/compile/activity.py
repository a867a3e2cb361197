"""Expected activity of a network: events into every layer per sample (the compiler's input for
the ``optimal`` search and for the analytic cost estimate), and, when measured, where and when
they happen (the reuse profiles of :mod:`flexspim.compile.reuse` come from them)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flexspim.compile.geometry import Stationary
from flexspim.compile.reuse import MacroReuse, ReuseProfile, layer_profile, macro_reuse
from flexspim.errors import ConfigError
from flexspim.net.layers import Conv2d, SpikeMaxPool, SpikingLayer
from flexspim.net.network import IntNetwork

#: Samples of a measured activity kept for its reuse profiles (a seeded subset of larger runs;
#: the profiles are fractions, so a subset estimates them). Not a model parameter.
PROFILE_SAMPLES = 64
#: Seed of the synthetic events an assumed activity draws its reuse profiles from.
SYNTHETIC_SEED = 0

#: Default hidden-layer spike density (spikes per neuron per timestep). Source: the simulator
#: benchmark of the project (issue 3) sets thresholds so that hidden layers spike at 5-15%;
#: 0.1 is the middle of that range.
DEFAULT_HIDDEN_DENSITY = 0.1
#: Default input sparsity: fraction of (pixel, polarity, timestep) bins without an event.
#: Source: the same benchmark's inputs (95% zeros), inside the paper's Fig. 7 range 85-99%.
DEFAULT_INPUT_SPARSITY = 0.95
#: Default timesteps per sample. Source: the same benchmark (T = 20).
DEFAULT_TIMESTEPS = 20


def _size(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


@dataclass(frozen=True)
class Activity:
    """Expected events per sample, summed over the ``n_timesteps`` timesteps.

    ``input_events[l]``: events into ``net.layers[l]`` (every layer, pool and flatten
    included); the output events of layer l are ``input_events[l + 1]``, and those of the last
    layer are ``last_output_events``. ``sops[l]``, when measured, are the layer's synaptic
    operations (else input events x the layer's mean fan-out are used). ``source`` says where the
    numbers come from (printed by ``flexspim compile``).
    """

    input_events: tuple[float, ...]
    n_timesteps: int
    last_output_events: float = 0.0
    sops: tuple[float, ...] | None = None
    source: str = "assumed"
    #: Per layer, the measured input counts ``[T, N, inputs]`` and output spikes
    #: ``[T, N, neurons]`` of a spiking layer (None for the others, or for all when the
    #: activity is assumed or given as totals).
    layer_inputs: tuple[np.ndarray | None, ...] = field(default=(), compare=False, repr=False)
    layer_outputs: tuple[np.ndarray | None, ...] = field(default=(), compare=False, repr=False)
    _profiles: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_events", tuple(float(x) for x in self.input_events))
        if self.sops is not None:
            object.__setattr__(self, "sops", tuple(float(x) for x in self.sops))
            if len(self.sops) != len(self.input_events) or \
                    any(not math.isfinite(x) or x < 0 for x in self.sops):
                raise ConfigError("activity: give one finite SOP count >= 0 per layer")
        if int(self.n_timesteps) < 1:
            raise ConfigError(f"activity: n_timesteps = {self.n_timesteps} must be >= 1")
        bad = [x for x in self.input_events if not math.isfinite(x) or x < 0]
        if bad or not math.isfinite(self.last_output_events) or self.last_output_events < 0:
            raise ConfigError("activity: event counts must be finite and >= 0")

    @property
    def measured_events(self) -> bool:
        """Whether the layers' input events are known position by position."""
        return any(x is not None for x in self.layer_inputs)

    def layer_events(self, net: IntNetwork, index: int) -> np.ndarray:
        """Input counts ``[T, N, inputs]`` of layer ``index``: measured, or drawn (seeded)
        uniformly at the layer's density for an assumed activity (one sample)."""
        if index < len(self.layer_inputs) and self.layer_inputs[index] is not None:
            return self.layer_inputs[index]  # type: ignore[return-value]
        return self._synthetic(net, index, self.input_events[index], net.shapes[index][0], 0)

    def layer_spikes(self, net: IntNetwork, index: int) -> np.ndarray:
        """Output spikes ``[T, N, neurons]`` of spiking layer ``index``: measured, or drawn
        (seeded) uniformly at its spike density."""
        if index < len(self.layer_outputs) and self.layer_outputs[index] is not None:
            return self.layer_outputs[index]  # type: ignore[return-value]
        return self._synthetic(net, index, self.output_events(index), net.shapes[index][1], 1)

    def _synthetic(self, net: IntNetwork, index: int, events: float, shape: Sequence[int],
                   which: int) -> np.ndarray:
        size = _size(shape)
        t = int(self.n_timesteps)
        density = min(1.0, events / max(size * t, 1))
        rng = np.random.default_rng([SYNTHETIC_SEED, index, which])
        return (rng.random((t, 1, size)) < density).astype(np.int64)

    def event_map(self, net: IntNetwork, index: int) -> np.ndarray:
        """Expected input events per sample at every input position of layer ``index``
        (``[inputs]``, C-order): measured, else uniform."""
        if index < len(self.layer_inputs) and self.layer_inputs[index] is not None:
            x = self.layer_inputs[index]
            per = x.sum(axis=(0, 1), dtype=np.float64) / max(x.shape[1], 1)  # type: ignore
            total = float(per.sum())
            return per * (self.input_events[index] / total) if total > 0 else per
        size = _size(net.shapes[index][0])
        return np.full(size, self.input_events[index] / max(size, 1))

    def cached(self, key: Any, make: Any) -> Any:
        """``make()`` computed once per ``key`` for this activity (statistics of its events that
        do not depend on the mapping)."""
        if key not in self._profiles:
            self._profiles[key] = make()
        return self._profiles[key]

    def profile(self, net: IntNetwork, index: int, stationary: Stationary, pack: int) -> ReuseProfile:
        """The :class:`~flexspim.compile.reuse.ReuseProfile` of layer ``index`` for a stationary
        operand and a lane packing (computed once, then kept)."""
        key = (index, stationary, int(pack))
        if key not in self._profiles:
            self._profiles[key] = layer_profile(self.layer_events(net, index),
                                                stationary=stationary, pack=int(pack),
                                                **self._layer_geometry(net, index))
        return self._profiles[key]

    def _layer_geometry(self, net: IntNetwork, index: int) -> dict[str, Any]:
        layer = net.layers[index]
        in_shape, out_shape = net.shapes[index]
        if isinstance(layer, Conv2d):
            return dict(in_hw=tuple(in_shape[1:]), kernel=tuple(layer.kernel_size),
                        stride=tuple(layer.stride), padding=tuple(layer.padding),
                        out_hw=tuple(out_shape[1:]), in_channels=int(in_shape[0]))
        return dict(in_hw=(1, 1), kernel=(1, 1), stride=(1, 1), padding=(0, 0),
                    out_hw=(1, 1), in_channels=_size(in_shape))

    def placed_reuse(self, net: IntNetwork, index: int, stationary: Stationary, pack: int,
                     macro_of: np.ndarray, caps: np.ndarray, resident: np.ndarray,
                     target: bool, spill_slots: int) -> MacroReuse:
        """The :class:`~flexspim.compile.reuse.MacroReuse` of layer ``index`` on a placement
        (``macro_of[group, cg]``, ``caps[m]`` streamed slots, ``resident[group, cg]``, the
        controller's ``target`` order or arrival order, the home macro's ``spill_slots``; kept
        per placement)."""
        mo = np.ascontiguousarray(macro_of, dtype=np.int64)
        cp = np.ascontiguousarray(caps, dtype=np.float64)
        res = np.ascontiguousarray(resident, dtype=np.bool_)
        key = ("placed", index, stationary, int(pack), mo.shape, mo.tobytes(), cp.tobytes(),
               res.tobytes(), bool(target), int(spill_slots))
        return self.cached(key, lambda: macro_reuse(
            self.layer_events(net, index), stationary=stationary, pack=int(pack), macro_of=mo,
            caps=cp, resident=res, target=target, spill_slots=int(spill_slots),
            **self._layer_geometry(net, index)))

    def output_events(self, index: int) -> float:
        """Expected output events of layer ``index`` per sample."""
        if index + 1 < len(self.input_events):
            return self.input_events[index + 1]
        return self.last_output_events

    def check(self, net: IntNetwork) -> None:
        """Raise ConfigError unless there is one count per layer of ``net``."""
        if len(self.input_events) != len(net.layers):
            raise ConfigError(f"activity: {len(self.input_events)} event counts for network "
                              f"'{net.name}' with {len(net.layers)} layers; give one per layer")

    def describe(self) -> str:
        """One line: where the activity comes from and its numbers per layer (per sample)."""
        ev = ", ".join(f"{x:.4g}" for x in self.input_events)
        return (f"activity ({self.source}): T = {self.n_timesteps}, input events per sample "
                f"into each layer: {ev}")

    @classmethod
    def from_sparsity(cls, net: IntNetwork, *, input_sparsity: float = DEFAULT_INPUT_SPARSITY,
                      n_timesteps: int = DEFAULT_TIMESTEPS,
                      hidden_density: float | Sequence[float] = DEFAULT_HIDDEN_DENSITY
                      ) -> Activity:
        """Activity from an input sparsity and a spike density per spiking layer.

        Input events = ``(1 - input_sparsity) * C*H*W * T`` (plus every position of the
        network's always-on channels, when it has any); a spiking layer emits
        ``density * neurons * T`` events; a max-pool output fires when any of its ``k*k``
        inputs does (independent inputs): ``1 - (1 - d_in)**(k*k)``; flatten passes events on.
        ``hidden_density`` is one value or one per spiking layer.
        """
        if not 0.0 <= float(input_sparsity) <= 1.0:
            raise ConfigError(f"input_sparsity = {input_sparsity} must be in [0, 1]")
        n_spiking = len(net.spiking_layers)
        dens = ([float(hidden_density)] * n_spiking
                if isinstance(hidden_density, (int, float)) else [float(d) for d in hidden_density])
        if len(dens) != n_spiking or any(not 0.0 <= d <= 1.0 for d in dens):
            raise ConfigError(f"hidden_density: give one value or {n_spiking} values (one per "
                              f"spiking layer), each in [0, 1]")
        t = int(n_timesteps)
        if t < 1:
            raise ConfigError(f"n_timesteps = {n_timesteps} must be >= 1")
        # always-on input channels (biases imported from NIR, docs/nir.md) hold an event at every
        # position and timestep whatever the sparsity of the data
        always = _size(net.input_shape) - _size(net.data_shape)
        events = [((1.0 - float(input_sparsity)) * _size(net.data_shape) + always) * t]
        k = 0
        for layer, (in_shape, out_shape) in zip(net.layers, net.shapes, strict=True):
            if isinstance(layer, SpikingLayer):
                out = dens[k] * _size(out_shape) * t
                k += 1
            elif isinstance(layer, SpikeMaxPool):
                d_in = events[-1] / max(_size(in_shape) * t, 1)
                kh, kw = layer.kernel
                out = (1.0 - (1.0 - min(d_in, 1.0)) ** (kh * kw)) * _size(out_shape) * t
            else:
                out = events[-1]
            events.append(out)
        return cls(tuple(events[:-1]), t, events[-1],
                   source=f"assumed: input sparsity {float(input_sparsity):g}, hidden spike "
                          f"density {', '.join(f'{d:g}' for d in sorted(set(dens)))}")

    @classmethod
    def from_counts(cls, net: IntNetwork, input_events_per_sample: Sequence[float],
                    n_timesteps: int, last_output_events: float = 0.0,
                    sops_per_sample: Sequence[float] | None = None,
                    source: str = "measured") -> Activity:
        """Activity from measured events (and optionally SOPs) per sample into each layer."""
        act = cls(tuple(float(x) for x in input_events_per_sample), int(n_timesteps),
                  float(last_output_events),
                  None if sops_per_sample is None else tuple(float(x) for x in sops_per_sample),
                  source)
        act.check(net)
        return act

    @classmethod
    def from_result(cls, net: IntNetwork, input_events: Sequence[float],
                    output_spikes: Sequence[float], n_samples: int, n_timesteps: int,
                    sops: Sequence[float] | None = None, source: str = "measured") -> Activity:
        """Activity from a simulation's per-layer totals (input events, output spikes and
        optionally SOPs of every layer over ``n_samples`` samples), averaged per sample."""
        n = max(int(n_samples), 1)
        return cls.from_counts(net, [float(x) / n for x in input_events], n_timesteps,
                               float(output_spikes[-1]) / n,
                               None if sops is None else [float(x) / n for x in sops], source)

    @classmethod
    def from_trace(cls, net: IntNetwork, result: Any, inputs: np.ndarray,
                   layer_outputs: Sequence[np.ndarray], source: str = "measured") -> Activity:
        """Activity measured by a simulation ``result`` whose input counts ``inputs``
        ``[T, N, ...]`` and every layer's output events ``[T, N, outputs]`` are known: the
        reuse profiles and the compares then come from the events themselves (at most
        :data:`PROFILE_SAMPLES` samples, seeded)."""
        act = cls.from_sim_result(net, result, source)
        n = int(inputs.shape[1])
        keep = np.arange(n)
        if n > PROFILE_SAMPLES:
            keep = np.sort(np.random.default_rng(SYNTHETIC_SEED).choice(n, PROFILE_SAMPLES,
                                                                        replace=False))

        def cut(x: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(np.asarray(x)[:, keep]).reshape(x.shape[0], keep.size, -1)

        ins = [inputs] + list(layer_outputs[:-1])
        spiking = [isinstance(layer, SpikingLayer) for layer in net.layers]
        return cls(act.input_events, act.n_timesteps, act.last_output_events, act.sops,
                   act.source, tuple(cut(x) if s else None for x, s in zip(ins, spiking,
                                                                           strict=True)),
                   tuple(cut(x) if s else None for x, s in zip(layer_outputs, spiking,
                                                               strict=True)))

    @classmethod
    def from_sim_result(cls, net: IntNetwork, result: Any, source: str = "measured") -> Activity:
        """Activity measured by a :class:`~flexspim.sim.SimResult` (or anything with its
        ``input_events``, ``output_spikes``, ``sops`` ``[L, T]`` arrays and sample count)."""
        return cls.from_result(net, np.asarray(result.input_events).sum(axis=1),
                               np.asarray(result.output_spikes).sum(axis=1),
                               int(result.n_samples), int(result.n_timesteps),
                               np.asarray(result.sops).sum(axis=1), source)
