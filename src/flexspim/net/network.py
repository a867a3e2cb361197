"""The integer network: an input shape and a chain of layers (docs/design.md §3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexspim.errors import NetworkError
from flexspim.net.layers import LAYER_TYPES, Layer, SpikingLayer


@dataclass(frozen=True, eq=False)
class IntNetwork:
    """A feed-forward integer SNN, executed layer-first per timestep.

    ``input_shape`` is (channels, height, width) of the input event frames (channel = polarity);
    the last layer's neurons are the classes, predicted as the one with the most output spikes
    over all timesteps (ties: the lowest class index).

    ``always_on`` is the number of trailing input channels (features, for a flat input) that
    carry one event at every position and timestep, whatever the data: the constant input that
    holds a layer's bias as one more weight (the event source injects them; see
    docs/nir.md). The data itself has :attr:`data_shape`.
    """

    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]
    name: str = "network"
    always_on: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(x) for x in self.input_shape))
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise NetworkError(f"network '{self.name}': has no layers")
        if any(s < 1 for s in self.input_shape):
            raise NetworkError(f"network '{self.name}': input shape {self.input_shape} must be "
                               f"positive")
        object.__setattr__(self, "always_on", int(self.always_on))
        if not 0 <= self.always_on < self.input_shape[0]:
            raise NetworkError(f"network '{self.name}': always_on = {self.always_on} must be in "
                               f"[0, {self.input_shape[0] - 1}] (input channels "
                               f"{self.input_shape[0]} minus at least one data channel)")
        names = set()
        for layer in self.layers:
            if type(layer) not in LAYER_TYPES.values():
                raise NetworkError(f"network '{self.name}': unknown layer type "
                                   f"{type(layer).__name__}; use one of {', '.join(LAYER_TYPES)}")
            if layer.name in names:
                raise NetworkError(f"network '{self.name}': two layers are named '{layer.name}'; "
                                   f"layer names must be unique")
            names.add(layer.name)
        if not isinstance(self.layers[-1], SpikingLayer):
            raise NetworkError(f"network '{self.name}': the last layer '{self.layers[-1].name}' "
                               f"must be a conv2d or linear layer (its neurons are the classes)")
        shapes = self.shapes  # checks that shapes chain
        for layer, (_, out) in zip(self.layers, shapes, strict=True):
            init = getattr(layer, "initial_membrane", None)
            if init is not None and tuple(init.shape) != tuple(out):
                raise NetworkError(f"layer '{layer.name}': initial_membrane shape "
                                   f"{tuple(init.shape)} differs from the output shape {out}")

    @property
    def data_shape(self) -> tuple[int, ...]:
        """The input shape the data has: :attr:`input_shape` less the always-on channels."""
        return (self.input_shape[0] - self.always_on, *self.input_shape[1:])

    def with_always_on(self, spikes: np.ndarray) -> np.ndarray:
        """Binned data ``[T, N, *data_shape]`` with the always-on channels appended (ones)."""
        if not self.always_on:
            return spikes
        ones = np.ones((*spikes.shape[:2], self.always_on, *spikes.shape[3:]), dtype=spikes.dtype)
        return np.concatenate([spikes, ones], axis=2)

    @property
    def shapes(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """(input shape, output shape) of every layer, in order."""
        out: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        shape = self.input_shape
        for layer in self.layers:
            nxt = tuple(layer.output_shape(shape))
            out.append((shape, nxt))
            shape = nxt
        return out

    @property
    def n_classes(self) -> int:
        """Number of output neurons (classes)."""
        shape = self.shapes[-1][1]
        n = 1
        for s in shape:
            n *= s
        return n

    @property
    def spiking_layers(self) -> list[SpikingLayer]:
        """The layers with weights and neurons, in order."""
        return [layer for layer in self.layers if isinstance(layer, SpikingLayer)]

    def layer(self, name: str) -> Layer:
        """The layer called ``name``."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise NetworkError(f"network '{self.name}' has no layer '{name}'; layers: "
                           f"{', '.join(x.name for x in self.layers)}")
