"""Network architectures for training (layer shapes only; weights are learned).

An :class:`Architecture` is a chain of small frozen layer specs that :mod:`flexspim.train.model`
turns into a quantization-aware SNN and :func:`flexspim.train.model.export_network` into an
:class:`~flexspim.net.IntNetwork` with the same layer names. Presets live in :data:`PRESETS`:

- ``dvs_gesture``: the paper's 6-conv SCNN (paper §IV, Fig. 4; the same layers and names as
  :func:`flexspim.net.presets.dvs_gesture_scnn`): input 2 x 32 x 32, 3 x 3 convolutions with
  16, 32, 32, 64, 64, 128 channels, stride 2 at the 2nd, 4th and 6th, padding 1, a linear
  classifier to 11 classes.
- ``digits``: a small net for the offline digits event dataset (:class:`flexspim.data.DigitsEvents`):
  conv 3 x 3 (16) -> spike max-pool 2 -> conv 3 x 3 (32) -> spike max-pool 2 -> linear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flexspim.errors import ConfigError
from flexspim.net.presets import DVS_GESTURE_CLASSES, DVS_GESTURE_CONVS, DVS_GESTURE_INPUT


@dataclass(frozen=True)
class ConvSpec:
    """A 3-D feature map -> IF neurons through a 2-D convolution (no bias)."""

    name: str
    out_channels: int
    kernel: int = 3
    stride: int = 1
    padding: int = 1


@dataclass(frozen=True)
class LinearSpec:
    """A flat vector -> IF neurons through a fully connected layer (no bias)."""

    name: str
    out_features: int


@dataclass(frozen=True)
class PoolSpec:
    """Spike max-pooling (OR over ``kernel`` x ``kernel`` windows, stride = kernel)."""

    name: str
    kernel: int = 2


@dataclass(frozen=True)
class FlattenSpec:
    """Reshape (C, H, W) to (C*H*W,), C-order."""

    name: str


LayerSpec = ConvSpec | LinearSpec | PoolSpec | FlattenSpec

#: Registry from the ``kind`` written in checkpoints to the spec class.
SPEC_TYPES: dict[str, type] = {"conv2d": ConvSpec, "linear": LinearSpec, "maxpool": PoolSpec,
                               "flatten": FlattenSpec}
_KIND_OF: dict[type, str] = {cls: kind for kind, cls in SPEC_TYPES.items()}


@dataclass(frozen=True)
class Architecture:
    """An input shape (C, H, W) and a chain of layer specs ending in a spiking layer."""

    name: str
    input_shape: tuple[int, int, int]
    layers: tuple[LayerSpec, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers or not isinstance(self.layers[-1], (ConvSpec, LinearSpec)):
            raise ConfigError(f"architecture '{self.name}': the last layer must be a conv2d or "
                              f"linear layer (its neurons are the classes)")

    @property
    def spiking(self) -> list[ConvSpec | LinearSpec]:
        """The layers with weights and neurons, in order."""
        return [s for s in self.layers if isinstance(s, (ConvSpec, LinearSpec))]

    def to_dict(self) -> dict:
        """Plain-data form (for checkpoints)."""
        return {"name": self.name, "input_shape": list(self.input_shape),
                "layers": [{"kind": _KIND_OF[type(s)], **s.__dict__} for s in self.layers]}

    @staticmethod
    def from_dict(doc: dict) -> Architecture:
        """Inverse of :meth:`to_dict`."""
        layers = []
        for entry in doc["layers"]:
            fields = {k: v for k, v in entry.items() if k != "kind"}
            if entry["kind"] not in SPEC_TYPES:
                raise ConfigError(f"architecture '{doc.get('name')}': unknown layer kind "
                                  f"'{entry['kind']}'; known: {', '.join(SPEC_TYPES)}")
            layers.append(SPEC_TYPES[entry["kind"]](**fields))
        return Architecture(name=doc["name"], input_shape=tuple(doc["input_shape"]),
                            layers=tuple(layers))


def dvs_gesture(input_shape: tuple[int, int, int] = DVS_GESTURE_INPUT,
                n_classes: int = DVS_GESTURE_CLASSES) -> Architecture:
    """The paper's 6-conv DVS Gesture SCNN (paper §IV; names as ``presets.dvs_gesture_scnn``)."""
    layers: list[LayerSpec] = [ConvSpec(f"conv{i + 1}", c, 3, s, 1)
                               for i, (c, s) in enumerate(DVS_GESTURE_CONVS)]
    layers += [FlattenSpec("flatten"), LinearSpec("fc", n_classes)]
    return Architecture("dvs_gesture", input_shape, tuple(layers))


def digits(input_shape: tuple[int, int, int] = (2, 34, 34), n_classes: int = 10) -> Architecture:
    """Small SCNN for the offline digits event dataset (input 2 x H x W, 10 classes)."""
    layers: tuple[LayerSpec, ...] = (
        ConvSpec("conv1", 16, 3, 1, 1), PoolSpec("pool1", 2),
        ConvSpec("conv2", 32, 3, 1, 1), PoolSpec("pool2", 2),
        FlattenSpec("flatten"), LinearSpec("fc", n_classes),
    )
    return Architecture("digits", input_shape, layers)


#: Preset name -> builder ``(input_shape, n_classes) -> Architecture``.
PRESETS: dict[str, Callable[..., Architecture]] = {"digits": digits, "dvs_gesture": dvs_gesture}


def preset(name: str, input_shape: tuple[int, int, int] | None = None,
           n_classes: int | None = None) -> Architecture:
    """The preset architecture ``name``, optionally for another input shape / class count."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset '{name}'; use one of {', '.join(PRESETS)}")
    kwargs: dict = {}
    if input_shape is not None:
        kwargs["input_shape"] = tuple(int(s) for s in input_shape)
    if n_classes is not None:
        kwargs["n_classes"] = int(n_classes)
    return PRESETS[name](**kwargs)
