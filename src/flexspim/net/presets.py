"""Network architectures used across flexspim (layer shapes; weights filled by a rule).

:func:`dvs_gesture_scnn` is the default 6-conv spiking CNN for IBM DVS Gesture (paper §IV: six
convolutional layers and a classifier; the 2-macro mapping of Fig. 4): input 2 x 32 x 32 (the
128 x 128 sensor down-sampled by 4), 3 x 3 convolutions with 16, 32, 32, 64, 64, 128 channels,
stride 2 at the 2nd, 4th and 6th, padding 1, then a linear classifier to 11 classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flexspim.net.layers import Conv2d, Flatten, Linear
from flexspim.net.network import IntNetwork

#: (out_channels, stride) of the six conv layers of the default DVS Gesture network.
DVS_GESTURE_CONVS: tuple[tuple[int, int], ...] = (
    (16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2),
)
DVS_GESTURE_INPUT: tuple[int, int, int] = (2, 32, 32)
DVS_GESTURE_CLASSES = 11

#: (out_channels, stride) of the paper-scale preset (docs/reproduce.md §"The paper-scale
#: workload"): the same six 3 x 3 convolutions at the full DVS128 resolution, channels doubling
#: as the map halves, base width 32 so that the paper's hybrid (HS-min) stationary set needs
#: about 14 macros of 16 kB, just below the 16-18 macros where the paper's saving peaks.
PAPER_SCALE_CONVS: tuple[tuple[int, int], ...] = (
    (32, 2), (64, 1), (64, 2), (128, 1), (128, 2), (256, 2),
)
PAPER_SCALE_INPUT: tuple[int, int, int] = (2, 128, 128)


def _bits_list(bits: int | Sequence[int], n: int, name: str) -> list[int]:
    if isinstance(bits, (int, np.integer)):
        return [int(bits)] * n
    out = [int(b) for b in bits]
    if len(out) != n:
        raise ValueError(f"{name}: expected {n} values (one per spiking layer), got {len(out)}")
    return out


def _random_weights(rng: np.random.Generator, shape: tuple[int, ...], w_bits: int,
                    weight_scale: float) -> tuple[np.ndarray, int]:
    """Uniform integers in [-q, q] that fit ``w_bits`` (1 bit: {-1, 0}); returns (weights, q)."""
    if w_bits == 1:
        return rng.integers(-1, 1, size=shape, dtype=np.int64), 1
    q = min(max(1, int(weight_scale * (1 << (w_bits - 1)))), (1 << (w_bits - 1)) - 1)
    return rng.integers(-q, q + 1, size=shape, dtype=np.int64), q


def _threshold(thresholds: Sequence[int] | None, i: int, q: int, v_bits: int) -> int:
    thr = thresholds[i] if thresholds is not None else max(1, 2 * q)
    return max(1, min(int(thr), (1 << (v_bits - 1)) - 1))


def dvs_gesture_scnn(
    *,
    w_bits: int | Sequence[int] = 8,
    v_bits: int | Sequence[int] = 16,
    seed: int = 0,
    weight_scale: float = 0.25,
    thresholds: Sequence[int] | None = None,
    input_shape: tuple[int, int, int] = DVS_GESTURE_INPUT,
    convs: Sequence[tuple[int, int]] = DVS_GESTURE_CONVS,
    n_classes: int = DVS_GESTURE_CLASSES,
) -> IntNetwork:
    """The default 6-conv SCNN with seeded random integer weights.

    Weights are drawn uniformly from ``[-q, q]`` with ``q = max(1, weight_scale * 2**(w_bits-1))``
    (so they fit ``w_bits``); thresholds default to ``2 * q`` per layer (clipped to ``v_bits``).
    Used where only the architecture matters (compiler, cost model, benchmarks).
    """
    rng = np.random.default_rng(seed)
    n_spiking = len(convs) + 1
    wb = _bits_list(w_bits, n_spiking, "w_bits")
    vb = _bits_list(v_bits, n_spiking, "v_bits")
    layers: list = []
    c_in = input_shape[0]
    h, w = input_shape[1], input_shape[2]
    for i, (c_out, stride) in enumerate(convs):
        weight, q = _random_weights(rng, (c_out, c_in, 3, 3), wb[i], weight_scale)
        thr = _threshold(thresholds, i, q, vb[i])
        layers.append(Conv2d(name=f"conv{i + 1}", weight=weight, w_bits=wb[i], v_bits=vb[i],
                             threshold=thr, stride=(stride, stride), padding=(1, 1)))
        c_in = c_out
        h = (h + 2 - 3) // stride + 1
        w = (w + 2 - 3) // stride + 1
    layers.append(Flatten(name="flatten"))
    i = len(convs)
    fc_w, q = _random_weights(rng, (n_classes, c_in * h * w), wb[i], weight_scale)
    thr = _threshold(thresholds, i, q, vb[i])
    layers.append(Linear(name="fc", weight=fc_w, w_bits=wb[i], v_bits=vb[i], threshold=thr))
    return IntNetwork(input_shape=input_shape, layers=tuple(layers), name="dvs_gesture_scnn")


def paper_scale_scnn(*, w_bits: int | Sequence[int] = 8, v_bits: int | Sequence[int] = 16,
                     seed: int = 0, weight_scale: float = 0.25,
                     thresholds: Sequence[int] | None = None) -> IntNetwork:
    """The paper-scale DVS Gesture SCNN (docs/reproduce.md): input 2 x 128 x 128 (the DVS128
    sensor, no down-sampling), 3 x 3 convolutions of 32, 64, 64, 128, 128, 256 channels with
    stride 2 at the 1st, 3rd, 5th and 6th, padding 1, then a linear classifier to 11 classes;
    8-bit weights and 16-bit membranes (paper Table I). Seeded random weights as in
    :func:`dvs_gesture_scnn`; give ``thresholds`` from a calibration for realistic activity."""
    net = dvs_gesture_scnn(w_bits=w_bits, v_bits=v_bits, seed=seed, weight_scale=weight_scale,
                           thresholds=thresholds, input_shape=PAPER_SCALE_INPUT,
                           convs=PAPER_SCALE_CONVS)
    return IntNetwork(input_shape=net.input_shape, layers=net.layers, name="paper_scale_scnn")
