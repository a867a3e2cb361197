"""Pure NumPy kernels over event arrays (:data:`~flexspim.data.events.EVENT_DTYPE`).

Each function takes events and settings and returns a new array; none keeps state. The
dataclass transforms of :mod:`flexspim.data.transforms` call them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flexspim.data.events import as_events, check_in_sensor, check_sensor_size
from flexspim.errors import ConfigError

#: Largest count a frame cell holds (int16); more events in one cell saturate there.
FRAME_MAX = np.iinfo(np.int16).max


def time_bin_index(t: np.ndarray, n_time_bins: int) -> np.ndarray:
    """Time bin of each timestamp: ``((t - t_first) * T) // (t_last - t_first + 1)``.

    The span from the first to the last event (both included, µs) is split into ``T`` equal
    bins; every event falls in one bin in ``[0, T)``; the first event is in bin 0 and the last
    in bin ``T - 1`` whenever the span is at least ``T`` µs.
    """
    if len(t) == 0:
        return np.empty(0, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    t0 = int(t.min())
    span = int(t.max()) - t0 + 1
    return ((t - t0) * n_time_bins) // span


def bin_events(
    events: np.ndarray,
    sensor_size: Sequence[int],
    n_time_bins: int,
    *,
    binary: bool = False,
) -> np.ndarray:
    """Bin events into ``n_time_bins`` frames of event counts, int16 ``[T, P, H, W]``.

    Time range: from the sample's first to its last event, split into ``T`` equal bins as in
    :func:`time_bin_index` (so no event is lost). Channel ``p = 0`` counts OFF events and
    ``p = 1`` ON events (Tonic's order); a sensor with ``P = 1`` counts both in channel 0.
    Counts saturate at 32767; ``binary=True`` clips them to 1 (a spike per pixel and bin).

    This differs from ``tonic.functional.to_frame_numpy(..., n_time_bins=T)``, whose bins are
    ``(t_last - t_first) // T`` µs long, so that events after ``T`` whole bins are dropped, and
    which needs events sorted by time; hence flexspim bins with its own kernel.
    Events outside the sensor raise FormatError; ``n_time_bins < 1`` ConfigError.
    """
    size = check_sensor_size(sensor_size)
    if int(n_time_bins) < 1:
        raise ConfigError(f"n_time_bins = {n_time_bins}; use at least 1 time bin")
    ev = as_events(events)
    check_in_sensor(ev, size)
    w, h, npol = size
    t_bins = int(n_time_bins)
    frames = np.zeros((t_bins, npol, h, w), dtype=np.int16)
    if len(ev) == 0:
        return frames
    k = time_bin_index(ev["t"], t_bins)
    pol = ev["p"].astype(np.int64) if npol == 2 else np.zeros(len(ev), dtype=np.int64)
    flat = ((k * npol + pol) * h + ev["y"].astype(np.int64)) * w + ev["x"].astype(np.int64)
    counts = np.bincount(flat, minlength=frames.size)
    np.minimum(counts, 1 if binary else FRAME_MAX, out=counts)
    frames[...] = counts.reshape(frames.shape)
    return frames


def downsample_events(events: np.ndarray, factor: int) -> np.ndarray:
    """Spatial down-sampling by an integer factor: ``x // factor``, ``y // factor``; no event
    is dropped, t and p are unchanged. A ``(W, H, P)`` sensor becomes
    :func:`downsampled_size` ``(ceil(W / f), ceil(H / f), P)``.

    Tonic's ``Downsample`` multiplies by a float factor and truncates, which for factors that
    are not powers of two maps e.g. ``x = 3`` with factor 1/3 to 0; integer division is exact.
    """
    f = int(factor)
    if f < 1 or f != factor:
        raise ConfigError(f"down-sampling factor = {factor!r}; use an integer >= 1")
    ev = as_events(events).copy()
    ev["x"] //= f
    ev["y"] //= f
    return ev


def downsampled_size(sensor_size: Sequence[int], factor: int) -> tuple[int, int, int]:
    """Sensor size after :func:`downsample_events`: ``(ceil(W / f), ceil(H / f), P)``."""
    w, h, p = check_sensor_size(sensor_size)
    f = int(factor)
    if f < 1:
        raise ConfigError(f"down-sampling factor = {factor!r}; use an integer >= 1")
    return (-(-w // f), -(-h // f), p)


_NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def denoise_events(events: np.ndarray, filter_time_us: int = 10_000) -> np.ndarray:
    """Drop events with no recent neighbour: exactly ``tonic.functional.denoise_numpy``,
    vectorised.

    Event ``i`` is kept when one of its 4-connected neighbour pixels (inside the box
    ``[0, max x] x [0, max y]`` of the sample) last fired, at an earlier position in the array,
    at time ``t_j`` with ``t_j + filter_time_us > t_i``; a neighbour that has not fired yet
    counts as ``t_j = 0`` (Tonic initialises its memory to ``filter_time``). Tonic runs this as
    a Python loop over events; here it is a few sorted searches, with identical output.
    """
    ev = as_events(events)
    ft = int(filter_time_us)
    if ft < 0:
        raise ConfigError(f"filter_time_us = {filter_time_us}; use a time >= 0 µs")
    n = len(ev)
    if n == 0:
        return ev.copy()
    x = ev["x"].astype(np.int64)
    y = ev["y"].astype(np.int64)
    t = ev["t"].astype(np.int64)
    if int(x.min()) < 0 or int(y.min()) < 0:
        raise ConfigError("denoise_events: events hold negative coordinates; crop them first")
    width = int(x.max()) + 1
    height = int(y.max()) + 1
    idx = np.arange(n, dtype=np.int64)
    pix = x * height + y
    order = np.lexsort((idx, pix))
    keys = pix[order] * n + idx[order]
    sorted_pix = pix[order]
    t_sorted = t[order]
    keep = np.zeros(n, dtype=bool)
    for dx, dy in _NEIGHBOURS:
        nx, ny = x + dx, y + dy
        inside = (nx >= 0) & (nx < width) & (ny >= 0) & (ny < height)
        q = nx * height + ny
        pos = np.searchsorted(keys, q * n + idx) - 1
        posc = np.maximum(pos, 0)
        found = (pos >= 0) & (sorted_pix[posc] == q)
        last_t = np.where(found, t_sorted[posc], 0)
        keep |= inside & (last_t + ft > t)
    return ev[keep]


def crop_events(events: np.ndarray, origin: Sequence[int], size: Sequence[int]) -> np.ndarray:
    """Keep the events inside the box ``[x0, x0 + w) x [y0, y0 + h)`` and move it to the origin:
    ``x' = x - x0``, ``y' = y - y0`` (pixels). The crop of ``tonic.functional.crop_numpy`` and
    ``tonic.transforms.CenterCrop`` with the box given explicitly; the new sensor is
    ``(w, h, P)``."""
    x0, y0 = (int(v) for v in origin)
    w, h = (int(v) for v in size)
    if x0 < 0 or y0 < 0 or w < 1 or h < 1:
        raise ConfigError(f"crop box at ({x0}, {y0}) of {w} x {h}: the origin must be >= 0 and "
                          f"the size >= 1 pixel")
    ev = as_events(events)
    x = ev["x"].astype(np.int64)
    y = ev["y"].astype(np.int64)
    out = ev[(x >= x0) & (x < x0 + w) & (y >= y0) & (y < y0 + h)]  # a copy
    out["x"] -= x0
    out["y"] -= y0
    return out


def downsample_to(events: np.ndarray, sensor_size: Sequence[int],
                  target_size: Sequence[int]) -> np.ndarray:
    """Spatial down-sampling from a ``(W, H, P)`` sensor to ``(W', H')`` pixels, Tonic's
    ``Downsample(sensor_size=..., target_size=...)``: ``x' = floor(x * W' / W)``,
    ``y' = floor(y * H' / H)``; no event is dropped, t and p are unchanged.

    Computed in integers, so exact: Tonic multiplies by the float ``W' / W``, which for a few
    sizes lands just below an integer (346 -> 48 pixels maps x = 173 to 23 instead of 24); for
    every other pixel the two agree (tested). Targets larger than the sensor raise ConfigError.
    """
    w, h, _ = check_sensor_size(sensor_size)
    tw, th = (int(v) for v in target_size)
    if not (1 <= tw <= w and 1 <= th <= h):
        raise ConfigError(f"down-sampling {w} x {h} to {tw} x {th}: the target must be between "
                          f"1 x 1 and the sensor size (flexspim does not up-sample)")
    ev = as_events(events)
    check_in_sensor(ev, (w, h, 2))
    out = ev.copy()
    out["x"] = (ev["x"].astype(np.int64) * tw) // w
    out["y"] = (ev["y"].astype(np.int64) * th) // h
    return out


def time_windows(t: np.ndarray, window_us: int) -> list[tuple[int, int]]:
    """``(start, stop)`` index ranges of consecutive ``window_us`` windows over sorted ``t``:
    Tonic's ``SliceByTime(time_window=window_us)`` (no overlap, incomplete last window left out).

    Window k holds the events with ``t0 + k w <= t < t0 + (k + 1) w``, ``t0`` the first event;
    there are ``floor((t_last - t0 - w) / w) + 1`` windows, at least one (a recording shorter
    than the window gives one window with all its events).
    """
    w = int(window_us)
    if w < 1:
        raise ConfigError(f"time window = {window_us} µs; use at least 1 µs")
    t = np.asarray(t, dtype=np.int64)
    if len(t) == 0:
        return []
    t0 = int(t[0])
    n = max((int(t[-1]) - t0 - w) // w + 1, 1)
    starts = t0 + w * np.arange(n, dtype=np.int64)
    lo = np.searchsorted(t, starts)
    hi = np.searchsorted(t, starts + w)
    return [(int(a), int(b)) for a, b in zip(lo, hi, strict=True)]


def slice_by_time(events: np.ndarray, window_us: int) -> list[np.ndarray]:
    """Cut ``events`` into consecutive ``window_us`` windows (see :func:`time_windows`); events
    are put in time order first (a stable sort, a no-op for camera recordings)."""
    ev = as_events(events)
    t = ev["t"]
    if len(t) > 1 and bool(np.any(t[1:] < t[:-1])):
        ev = ev[np.argsort(t, kind="stable")]
    return [ev[a:b] for a, b in time_windows(ev["t"], window_us)]
