"""The networks and inputs of the figures (docs/reproduce.md): which network, how its thresholds
are calibrated, which random inputs it runs on.

A :class:`NetSpec` names a network by its shape only: ``dvs_gesture_scnn`` (the repository's
32 x 32 DVS Gesture preset, Fig. 4's headline network) or ``scnn`` (the paper-scale SCNN's shape
at another input size and base width: the workload map; at 128 x 128 with base width 32 it *is*
the paper-scale workload). Weights are seeded; thresholds are calibrated once per network
(:func:`calibrate`) and then travel with each point, so every worker builds the same network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flexspim.compile.geometry import network_geometry
from flexspim.errors import ConfigError
from flexspim.net.network import IntNetwork
from flexspim.net.presets import PAPER_SCALE_CONVS, dvs_gesture_scnn
from flexspim.sim.calibrate import calibrate_thresholds

#: Timesteps per sample (the simulator benchmark's setting, benchmarks/bench_sim.py).
N_TIMESTEPS = 20
#: Threshold calibration: target hidden density, input sparsity, samples, seed (the simulator
#: benchmark's settings: hidden layers at 10%, inputs 95% empty).
CALIBRATION = {"target_density": 0.10, "input_sparsity": 0.95, "samples": 2, "seed": 0}
#: Random samples every figure point runs on (docs/reproduce.md, "What is computed").
SAMPLES = 1
#: Input sparsity of Fig. 4, of the workload map and of Fig. 7's reference point.
REFERENCE_SPARSITY = 0.95
#: Bits of one 16 kB macro (512 x 256 cells): the unit of the stationary sets below.
MACRO_BITS = 512 * 256
#: The base width of the paper-scale SCNN (net/presets.py: 32, 64, 64, 128, 128, 256 channels).
PAPER_BASE = 32


@dataclass(frozen=True)
class NetSpec:
    """A network of the figures: ``kind`` ``dvs_gesture_scnn`` (input 2 x 32 x 32, base width
    16: the preset as it is) or ``scnn`` (the paper-scale shape: 3 x 3 convolutions of ``b, 2b,
    2b, 4b, 4b, 8b`` channels, strides 2, 1, 2, 1, 2, 2, a linear classifier to 11 classes, on
    2 x ``input_hw`` x ``input_hw`` inputs); 8-bit weights, 16-bit membranes, weight seed 0."""

    kind: str
    input_hw: int
    base: int

    def __post_init__(self) -> None:
        if self.kind not in ("dvs_gesture_scnn", "scnn"):
            raise ConfigError(f"network kind '{self.kind}': use dvs_gesture_scnn or scnn")
        if self.kind == "dvs_gesture_scnn" and (self.input_hw, self.base) != (32, 16):
            raise ConfigError("network dvs_gesture_scnn is the 32 x 32 preset with base width 16")
        if self.input_hw < 8 or self.base < 1:
            raise ConfigError(f"network scnn: input {self.input_hw} x {self.input_hw} and base "
                              f"width {self.base}: need an input of at least 8 and a base >= 1")

    @property
    def name(self) -> str:
        """``dvs_gesture_scnn``, ``paper_scale_scnn`` (128 x 128, base 32) or
        ``scnn_<H>x<H>_b<base>``."""
        if self.kind == "dvs_gesture_scnn":
            return "dvs_gesture_scnn"
        if (self.input_hw, self.base) == (128, PAPER_BASE):
            return "paper_scale_scnn"
        return f"scnn_{self.input_hw}x{self.input_hw}_b{self.base}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "input_hw": self.input_hw, "base": self.base}

    def build(self, thresholds: Sequence[int] | None = None) -> IntNetwork:
        """The network with seeded weights (and ``thresholds``, one per spiking layer)."""
        if self.kind == "dvs_gesture_scnn":
            net = dvs_gesture_scnn(thresholds=thresholds)
        else:
            convs = tuple((self.base * c // PAPER_BASE, s) for c, s in PAPER_SCALE_CONVS)
            net = dvs_gesture_scnn(thresholds=thresholds, convs=convs,
                                   input_shape=(2, self.input_hw, self.input_hw))
        return IntNetwork(input_shape=net.input_shape, layers=net.layers, name=self.name)


#: Fig. 4's headline network (docs/reproduce.md, "Fig. 4's network") and the paper-scale one.
HEADLINE_NET = NetSpec("dvs_gesture_scnn", 32, 16)
PAPER_SCALE_NET = NetSpec("scnn", 128, PAPER_BASE)


def random_inputs(net: IntNetwork, sparsity: float, n_samples: int, seed: int) -> np.ndarray:
    """Binary events ``[T, N, *input_shape]``: each (pixel, polarity, timestep) holds an event
    with probability ``1 - sparsity``."""
    rng = np.random.default_rng(seed)
    shape = (N_TIMESTEPS, n_samples, *net.input_shape)
    return (rng.random(shape) >= sparsity).astype(np.int64)


def input_seed(sparsity: float) -> int:
    """The seed of the inputs a point runs on: ``1 + round(1000 x sparsity)`` (951 at 95%)."""
    return 1 + int(round(1000 * float(sparsity)))


def calibrate(spec: NetSpec) -> tuple[list[int], list[float]]:
    """Thresholds of every spiking layer calibrated as :data:`CALIBRATION` says, and the hidden
    densities reached (:func:`flexspim.sim.calibrate.calibrate_thresholds`)."""
    c = CALIBRATION
    net = spec.build()
    x = random_inputs(net, c["input_sparsity"], c["samples"], c["seed"])
    calibrated, densities = calibrate_thresholds(net, x, c["target_density"])
    return [int(la.threshold) for la in calibrated.spiking_layers], [float(d) for d in densities]


def stationary_sets(spec: NetSpec) -> dict[str, float]:
    """The network's operands in macros of :data:`MACRO_BITS` (unpadded bits): all weights,
    all membranes, and the HS-min set (each layer's smaller operand)."""
    geos = network_geometry(spec.build())
    w = sum(g.operand_bits("weights") for g in geos)
    v = sum(g.operand_bits("membranes") for g in geos)
    m = sum(min(g.operand_bits("weights"), g.operand_bits("membranes")) for g in geos)
    return {"hs_min_set_macros": m / MACRO_BITS, "weights_macros": w / MACRO_BITS,
            "membranes_macros": v / MACRO_BITS}
