"""What a file or dataset folder holds: ``flexspim data info PATH``.

:func:`inspect_path` accepts an event file of any format :func:`~flexspim.data.read_events`
reads (AEDAT 4.0 / 3.1, Prophesee EVT 2.0 / EVT 3.0 / DAT, a ``.npy`` of events), a folder of
them, Tonic's ``[N, 4]`` DVS Gesture ``.npy``, a DVS Gesture folder in either layout, or the word
``digits`` for :class:`~flexspim.data.DigitsEvents`. Each kind is one entry
of :data:`INSPECTORS`: a test that recognises the path and the function that inspects it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flexspim.data.aedat import read_aedat_header, summarize_aedat
from flexspim.data.digits import DigitsEvents
from flexspim.data.dvsgesture import (
    GESTURE_CLASSES,
    GESTURE_SENSOR,
    DVSGesture,
    available_splits,
    detect_layout,
    read_tonic_npy,
)
from flexspim.data.events import as_events, duration_us
from flexspim.data.recordings import Recording, event_files, is_event_file, read_events
from flexspim.errors import FormatError


@dataclass(frozen=True)
class DataInfo:
    """A summary of an event file or dataset.

    ``n_events``: events (for a DVS Gesture folder in the original layout, the valid polarity
    events of its recordings, from the packet headers); ``duration_us``: first to last event of
    a file, or the summed length of all samples of a dataset (µs); ``sensor_size`` ``(W, H, P)``
    (from the file header when it names a known sensor, else the largest coordinate + 1);
    ``samples``: ``(split, count)`` pairs; ``classes`` empty for a bare recording.
    """

    path: str
    kind: str
    n_events: int
    duration_us: int
    sensor_size: tuple[int, int, int]
    classes: tuple[str, ...] = ()
    samples: tuple[tuple[str, int], ...] = ()
    time_range_us: tuple[int, int] | None = None
    dropped_bytes: int = 0


def _extent(events: np.ndarray) -> tuple[int, int, int]:
    if len(events) == 0:
        return (0, 0, 2)
    return (int(events["x"].max()) + 1, int(events["y"].max()) + 1, 2)


def _is_digits(path: str) -> bool:
    return path == "digits"


def _inspect_digits(path: str, allow_truncated: bool = False) -> DataInfo:
    parts = {split: DigitsEvents(split) for split in ("train", "test")}
    first = parts["train"]
    rec = first._rec
    n = len(rec.labels)
    return DataInfo(
        path="digits",
        kind="DigitsEvents (scikit-learn digits in three saccades, offline)",
        n_events=int(rec.offsets[-1]),
        duration_us=n * first.config.duration_us,
        sensor_size=first.sensor_size,
        classes=tuple(first.classes),
        samples=tuple((s, len(d)) for s, d in parts.items()),
    )


def _is_recording(path: str) -> bool:
    return is_event_file(path)


def _recording_info(rec: Recording, kind: str) -> DataInfo:
    t = rec.events["t"]
    return DataInfo(
        path=str(rec.path),
        kind=kind,
        n_events=len(rec.events),
        duration_us=duration_us(rec.events),
        sensor_size=rec.sensor_size or _extent(rec.events),
        time_range_us=(int(t.min()), int(t.max())) if len(t) else None,
        dropped_bytes=rec.dropped_bytes,
    )


def _inspect_recording(path: str, allow_truncated: bool = False) -> DataInfo:
    (rec,) = read_events(path, allow_truncated=allow_truncated)
    kind = f"{rec.format} recording"
    if rec.format.startswith("AEDAT 3"):
        source = read_aedat_header(path).source
        kind += f" ({source})" if source else ""
    elif rec.format.startswith("NumPy"):
        kind = "event array (x, y, p, t in µs)"
    return _recording_info(rec, kind)


def _is_tonic_npy(path: str) -> bool:
    return Path(path).suffix.lower() == ".npy" and Path(path).is_file()


def _inspect_tonic_npy(path: str, allow_truncated: bool = False) -> DataInfo:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise FormatError(f"{path}: not a NumPy .npy file ({exc})") from None
    if arr.dtype.names is not None:
        events = as_events(np.asarray(arr), path)
        kind = "event array (x, y, p, t in µs)"
    else:
        events = read_tonic_npy(path)
        kind = "Tonic DVS Gesture sample (x, y, p, t in ms)"
    return DataInfo(path, kind, len(events), duration_us(events), _extent(events))


def _is_recording_folder(path: str) -> bool:
    return Path(path).is_dir() and bool(event_files(path)[0])


def _inspect_recording_folder(path: str, allow_truncated: bool = False) -> DataInfo:
    recs = read_events(path, allow_truncated=allow_truncated)
    sizes = [r.sensor_size or _extent(r.events) for r in recs]
    formats = ", ".join(sorted({r.format for r in recs}))
    firsts = [int(r.events["t"].min()) for r in recs if len(r.events)]
    lasts = [int(r.events["t"].max()) for r in recs if len(r.events)]
    return DataInfo(
        path=path,
        kind=f"folder of {len(recs)} recordings ({formats})",
        n_events=sum(len(r.events) for r in recs),
        duration_us=sum(duration_us(r.events) for r in recs),
        sensor_size=(max(s[0] for s in sizes), max(s[1] for s in sizes), 2),
        samples=(("recordings", len(recs)),),
        time_range_us=(min(firsts), max(lasts)) if firsts else None,
        dropped_bytes=sum(r.dropped_bytes for r in recs),
    )


def _is_gesture(path: str) -> bool:
    return Path(path).is_dir() and detect_layout(path) is not None


def _inspect_gesture(path: str, allow_truncated: bool = False) -> DataInfo:
    layout, folder = detect_layout(path) or ("", Path(path))
    n_events = 0
    duration = 0
    samples = []
    for split in available_splits(folder, layout):
        ds = DVSGesture(folder, split, layout=layout)
        samples.append((split, len(ds)))
        if layout == "tonic":
            for s in ds.samples:
                arr = np.load(s.path, mmap_mode="r", allow_pickle=False)
                n_events += len(arr)
                if len(arr):
                    duration += int(round((float(arr[-1, 3]) - float(arr[0, 3])) * 1000.0))
        else:
            for rec in sorted({s.path for s in ds.samples}):
                n_events += summarize_aedat(rec)[1].n_valid_polarity_events
            duration += sum(s.end_us - s.start_us for s in ds.samples)
    return DataInfo(
        path=str(folder),
        kind=f"IBM DVS Gesture, {layout} layout",
        n_events=n_events,
        duration_us=duration,
        sensor_size=GESTURE_SENSOR,
        classes=tuple(GESTURE_CLASSES),
        samples=tuple(samples),
    )


#: (name, recognises the path, inspects it with ``allow_truncated``), tried in order.
INSPECTORS: tuple[tuple[str, Callable[[str], bool], Callable[[str, bool], DataInfo]], ...] = (
    ("digits", _is_digits, _inspect_digits),
    ("dvsgesture", _is_gesture, _inspect_gesture),
    ("recording", _is_recording, _inspect_recording),
    ("npy", _is_tonic_npy, _inspect_tonic_npy),
    ("recordings", _is_recording_folder, _inspect_recording_folder),
)


def inspect_path(path: str | os.PathLike[str], *, allow_truncated: bool = False) -> DataInfo:
    """Summarise an event file of any format :func:`~flexspim.data.read_events` reads, a folder
    of them, a DVS Gesture folder or ``"digits"`` (see :data:`INSPECTORS`).

    Anything else raises FormatError saying what is accepted.
    """
    text = os.fspath(path)
    for _name, recognises, inspect in INSPECTORS:
        if recognises(text):
            return inspect(text, allow_truncated)
    if not Path(text).exists():
        raise FormatError(
            f"{text}: no such file or folder; pass an event file (AEDAT, EVT 2.0 / 3.0, DAT, "
            f".npy), a folder of them, a DVS Gesture folder or the word 'digits'"
        )
    if Path(text).is_file():
        read_events(text, allow_truncated=allow_truncated)  # raises, naming the format and byte
    raise FormatError(
        f"{text}: not an event file (AEDAT 4.0 / 3.1, EVT 2.0 / 3.0, DAT, .npy), a folder of "
        f"them, a DVS Gesture folder (with trials_to_*.txt or ibmGestureTrain/) or 'digits'"
    )


def describe(info: DataInfo) -> list[str]:
    """Lines of text for ``flexspim data info``."""
    w, h, p = info.sensor_size
    lines = [
        f"path         {info.path}",
        f"kind         {info.kind}",
        f"events       {info.n_events:,}",
        f"duration     {info.duration_us / 1e6:.6f} s ({info.duration_us:,} µs)",
        f"sensor size  {w} x {h} pixels, {p} polarities",
    ]
    if info.time_range_us is not None:
        lines.append(f"timestamps   {info.time_range_us[0]:,} .. {info.time_range_us[1]:,} µs")
    if info.dropped_bytes:
        lines.append(f"dropped      {info.dropped_bytes:,} bytes of a partial packet after a cut")
    if info.samples:
        total = sum(n for _, n in info.samples)
        per = ", ".join(f"{split} {n}" for split, n in info.samples)
        lines.append(f"samples      {total} ({per})")
    if info.classes:
        lines.append(f"classes      {len(info.classes)}: {', '.join(info.classes)}")
    return lines
