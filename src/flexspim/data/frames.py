"""Whole datasets as dense timestep tensors, for training and simulation."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from tqdm import tqdm

from flexspim.data.events import check_sensor_size
from flexspim.data.functional import bin_events
from flexspim.errors import ConfigError


def load_frames(
    dataset: Any, n_time_bins: int, *, binary: bool = False, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Bin every sample of ``dataset`` with :func:`~flexspim.data.functional.bin_events`.

    ``dataset`` is any sized, indexable dataset of ``(events, label)`` items with a
    ``sensor_size`` ``(W, H, P)`` (:class:`~flexspim.data.DigitsEvents`,
    :class:`~flexspim.data.DVSGesture`, a Tonic dataset). Returns ``X`` int16
    ``[N, T, P, H, W]`` (event counts per time bin, or 0/1 with ``binary=True``) and ``y`` int64
    ``[N]``. ``progress=True`` shows a tqdm bar on stderr.
    """
    size = getattr(dataset, "sensor_size", None)
    if size is None:
        raise ConfigError(
            f"load_frames: {type(dataset).__name__} has no sensor_size; pass a dataset with "
            f"sensor_size (W, H, P)"
        )
    w, h, p = check_sensor_size(size, f"{type(dataset).__name__}.sensor_size")
    if int(n_time_bins) < 1:
        raise ConfigError(f"n_time_bins = {n_time_bins}; use at least 1 time bin")
    n = len(dataset)
    x = np.zeros((n, int(n_time_bins), p, h, w), dtype=np.int16)
    y = np.zeros(n, dtype=np.int64)
    items: Any = range(n)
    if progress:
        items = tqdm(items, desc="binning", unit="sample", file=sys.stderr)
    for i in items:
        events, label = dataset[i]
        x[i] = bin_events(events, (w, h, p), n_time_bins, binary=binary)
        y[i] = int(label)
    return x, y
