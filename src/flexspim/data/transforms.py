"""Event transforms: settings in a small frozen dataclass, the work in a pure function.

Like Tonic's transforms, each is a callable ``events -> events`` (or ``events -> frames`` for
:class:`ToFrames`) that keeps no state between calls; chain them with :class:`Compose`.
Tonic's own transforms (``tonic.transforms``) take and return the same arrays and can be mixed
in a :class:`Compose`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from flexspim.data.functional import bin_events, denoise_events, downsample_events


@dataclass(frozen=True)
class Downsample:
    """Integer spatial down-sampling (``x // factor``, ``y // factor``); see
    :func:`~flexspim.data.functional.downsample_events`. ``factor=4`` takes DVS Gesture's
    128 x 128 sensor to 32 x 32."""

    factor: int = 1

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return downsample_events(events, self.factor)


@dataclass(frozen=True)
class Denoise:
    """Drop events without a neighbour event within ``filter_time_us`` µs; the same result as
    ``tonic.transforms.Denoise`` (default 10 000 µs, Tonic's default), vectorised."""

    filter_time_us: int = 10_000

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return denoise_events(events, self.filter_time_us)


@dataclass(frozen=True)
class ToFrames:
    """Bin events into int16 ``[T, P, H, W]`` count frames over the sample's own time span; see
    :func:`~flexspim.data.functional.bin_events`."""

    sensor_size: tuple[int, int, int]
    n_time_bins: int
    binary: bool = False

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return bin_events(events, self.sensor_size, self.n_time_bins, binary=self.binary)


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in order."""

    transforms: tuple[Callable[[np.ndarray], np.ndarray], ...]

    def __call__(self, events: np.ndarray) -> np.ndarray:
        for tf in self.transforms:
            events = tf(events)
        return events
