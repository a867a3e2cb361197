"""The integer network: an input shape and a chain of layers (docs/design.md §3)."""

from __future__ import annotations

from dataclasses import dataclass

from flexspim.errors import NetworkError
from flexspim.net.layers import LAYER_TYPES, Layer, SpikingLayer


@dataclass(frozen=True, eq=False)
class IntNetwork:
    """A feed-forward integer SNN, executed layer-first per timestep.

    ``input_shape`` is (channels, height, width) of the input event frames (channel = polarity);
    the last layer's neurons are the classes, predicted as the one with the most output spikes
    over all timesteps (ties: the lowest class index).
    """

    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]
    name: str = "network"

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(x) for x in self.input_shape))
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise NetworkError(f"network '{self.name}': has no layers")
        if any(s < 1 for s in self.input_shape):
            raise NetworkError(f"network '{self.name}': input shape {self.input_shape} must be "
                               f"positive")
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
