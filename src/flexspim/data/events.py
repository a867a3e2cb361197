"""Event streams as NumPy structured arrays, with Tonic's field names and types.

An event is ``(x, y, p, t)``: pixel column ``x`` and row ``y`` (pixels, 0 at the top-left),
polarity ``p`` (``True`` = ON, the log intensity rose; ``False`` = OFF) and timestamp ``t`` in
microseconds (µs). :data:`EVENT_DTYPE` is exactly the dtype of ``tonic.datasets.DVSGesture``
(Tonic 1.7), so arrays pass between flexspim and Tonic's transforms unchanged.

A sensor size is ``(W, H, P)`` as in Tonic: width, height (pixels) and number of polarities (2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flexspim.errors import ConfigError, FormatError

#: Tonic's event dtype for DVS Gesture: x, y int16 (pixels), p bool (ON = True), t int64 (µs).
EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)])

SensorSize = tuple[int, int, int]


def make_events(x: object, y: object, p: object, t: object) -> np.ndarray:
    """A structured :data:`EVENT_DTYPE` array from four equally long sequences.

    ``x``/``y`` in pixels, ``p`` truthy for ON events, ``t`` in microseconds.
    """
    cols = [np.asarray(c).ravel() for c in (x, y, p, t)]
    n = len(cols[0])
    if any(len(c) != n for c in cols):
        raise ConfigError(
            f"make_events: x, y, p, t have lengths {[len(c) for c in cols]}; "
            f"pass four arrays of the same length"
        )
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["x"], ev["y"] = cols[0], cols[1]
    ev["p"] = cols[2].astype(bool)
    ev["t"] = cols[3]
    return ev


def as_events(events: np.ndarray, where: str = "events") -> np.ndarray:
    """Check that ``events`` is a structured array with fields x, y, p, t; return it as
    :data:`EVENT_DTYPE` (a copy only when the field types differ).

    Raises FormatError naming ``where`` and the missing fields.
    """
    names = getattr(getattr(events, "dtype", None), "names", None)
    if names is None or not {"x", "y", "p", "t"} <= set(names):
        raise FormatError(
            f"{where}: expected a structured event array with fields x, y, p, t, got "
            f"{getattr(events, 'dtype', type(events).__name__)}; build one with "
            f"flexspim.data.make_events"
        )
    if events.dtype == EVENT_DTYPE:
        return events
    return make_events(events["x"], events["y"], events["p"], events["t"])


def check_sensor_size(sensor_size: Sequence[int], where: str = "sensor_size") -> SensorSize:
    """Validate a Tonic sensor size ``(W, H, P)`` with W, H >= 1 and P in {1, 2}."""
    try:
        w, h, p = (int(v) for v in sensor_size)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where}: expected (width, height, polarities), got {sensor_size!r}"
        ) from None
    if w < 1 or h < 1 or p not in (1, 2):
        raise ConfigError(
            f"{where}: (W, H, P) = {(w, h, p)}; width and height must be >= 1 and P 1 or 2"
        )
    return (w, h, p)


def check_in_sensor(events: np.ndarray, sensor_size: SensorSize, where: str = "events") -> None:
    """Raise FormatError if an event lies outside the sensor (naming the first such event)."""
    if len(events) == 0:
        return
    w, h, _ = sensor_size
    for field, size, axis in (("x", w, "width"), ("y", h, "height")):
        col = events[field]
        bad = np.flatnonzero((col < 0) | (col >= size))
        if bad.size:
            i = int(bad[0])
            raise FormatError(
                f"{where}: event {i} has {field}={int(col[i])} outside the sensor {axis} "
                f"{size} (sensor_size {tuple(sensor_size)}); pass the sensor size of the "
                f"recording or down-sample first"
            )


def check_timestamps(events: np.ndarray, where: str = "events") -> None:
    """Raise FormatError if an event has a negative timestamp (naming the first such event):
    timestamps are microseconds from the recording's start, so windows and time bins begin at
    0 (a recording whose clock starts earlier is shifted before it is saved)."""
    if len(events) == 0:
        return
    t = events["t"]
    bad = np.flatnonzero(t < 0)
    if bad.size:
        i = int(bad[0])
        raise FormatError(f"{where}: event {i} has t = {int(t[i])} µs; timestamps are "
                          f"microseconds >= 0: shift them (events['t'] -= events['t'].min()) "
                          f"and save the file again")


def duration_us(events: np.ndarray) -> int:
    """Time from the first to the last event in µs (0 for fewer than two events)."""
    if len(events) < 2:
        return 0
    t = events["t"]
    return int(t.max() - t.min())
