"""IBM DVS Gesture (Amir et al., CVPR 2017): 11 gestures by 29 users under 5 lightings, recorded
with a DVS128 (128 x 128 pixels). Read from disk; nothing is downloaded.

Two layouts are read:

- ``"original"``, the IBM release (folder ``DvsGesture``): ``userNN_<lighting>.aedat``
  (AEDAT 3.1), ``userNN_<lighting>_labels.csv`` (header ``class,startTime_usec,endTime_usec``,
  classes 1–11) and ``trials_to_train.txt`` / ``trials_to_test.txt`` (one ``.aedat`` name per
  line). Each labelled span is one sample: the events with ``start <= t < end``, times shifted so
  that the span starts at 0 µs; label ``class - 1``.
- ``"tonic"``, Tonic's preprocessed release: ``ibmGestureTrain/userNN_<lighting>/<class>.npy``
  (and ``ibmGestureTest``), each an ``[N, 4]`` array of columns x, y, p, t with t in ms, which
  is converted to µs as Tonic does.

``layout="auto"`` picks the layout from what the folder holds (also one level down, in
``DvsGesture`` or ``DVSGesture``, the folder names of the two releases).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flexspim.data.aedat import read_aedat
from flexspim.data.events import EVENT_DTYPE
from flexspim.errors import ConfigError, FormatError

#: The 11 classes, in label order (label = class number in the labels file - 1).
GESTURE_CLASSES: list[str] = [
    "Hand clapping",
    "Right hand wave",
    "Left hand wave",
    "Right arm cw",
    "Right arm ccw",
    "Left arm cw",
    "Left arm ccw",
    "Arm roll",
    "Air drums",
    "Air guitar",
    "Other gestures",
]
GESTURE_SENSOR: tuple[int, int, int] = (128, 128, 2)
LABELS_HEADER = ("class", "startTime_usec", "endTime_usec")
SPLITS = ("train", "test")
_TONIC_FOLDERS = {"train": "ibmGestureTrain", "test": "ibmGestureTest"}
_USER_RE = re.compile(r"^user(\d+)_(.+)$")


@dataclass(frozen=True)
class GestureSample:
    """One sample: its file, label (0–10), user, lighting and, for the original layout, the
    labelled span ``[start_us, end_us)`` in the recording (-1 for the Tonic layout)."""

    path: Path
    label: int
    user: int
    lighting: str
    start_us: int = -1
    end_us: int = -1


def read_labels(path: str | os.PathLike[str]) -> list[tuple[int, int, int]]:
    """Rows ``(label 0–10, start_us, end_us)`` of a ``userNN_<lighting>_labels.csv``.

    A bad header, a row that is not three integers, a class outside 1–11 or an empty span
    raises FormatError naming the file and line.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise FormatError(f"{p}: no such labels file; every .aedat needs its _labels.csv") from None
    lines = text.splitlines()
    head = tuple(c.strip() for c in lines[0].split(",")) if lines else ()
    if head != LABELS_HEADER:
        raise FormatError(
            f"{p}: line 1: header {','.join(head) or '(empty)'!r}, expected "
            f"'{','.join(LABELS_HEADER)}'"
        )
    rows: list[tuple[int, int, int]] = []
    for no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        try:
            cls, start, end = (int(c) for c in cells)
        except ValueError:
            raise FormatError(
                f"{p}: line {no}: {line.strip()!r} is not 'class,startTime_usec,endTime_usec' "
                f"(three integers)"
            ) from None
        if not 1 <= cls <= len(GESTURE_CLASSES):
            raise FormatError(
                f"{p}: line {no}: class {cls} is outside 1-{len(GESTURE_CLASSES)}"
            )
        if start < 0 or end <= start:
            raise FormatError(
                f"{p}: line {no}: span [{start}, {end}) µs is empty or negative; "
                f"startTime_usec must be >= 0 and below endTime_usec"
            )
        rows.append((cls - 1, start, end))
    return rows


def read_trials(path: str | os.PathLike[str]) -> list[str]:
    """The ``.aedat`` names listed in ``trials_to_train.txt`` / ``trials_to_test.txt``."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        raise FormatError(f"{p}: no such file; the original release has one per split") from None
    names = []
    for no, line in enumerate(lines, start=1):
        name = line.strip()
        if not name:
            continue
        if not name.endswith(".aedat") or "/" in name or "\\" in name:
            raise FormatError(
                f"{p}: line {no}: {name!r} is not the name of an .aedat file in the folder"
            )
        names.append(name)
    return names


def _user_lighting(stem: str, where: Path) -> tuple[int, str]:
    m = _USER_RE.match(stem)
    if m is None:
        raise FormatError(f"{where}: name {stem!r} is not 'userNN_<lighting>'")
    return int(m.group(1)), m.group(2)


def _index_original(root: Path, split: str) -> list[GestureSample]:
    samples: list[GestureSample] = []
    trials = root / f"trials_to_{split}.txt"
    for no, name in enumerate(read_trials(trials), start=1):
        aedat = root / name
        if not aedat.is_file():
            raise FormatError(f"{trials}: line {no}: {name} is not in {root}")
        user, lighting = _user_lighting(aedat.stem, aedat)
        for label, start, end in read_labels(root / f"{aedat.stem}_labels.csv"):
            samples.append(GestureSample(aedat, label, user, lighting, start, end))
    return samples


def _index_tonic(root: Path, split: str) -> list[GestureSample]:
    folder = root / _TONIC_FOLDERS[split]
    if not folder.is_dir():
        raise FormatError(f"{root}: no folder {_TONIC_FOLDERS[split]} for split {split!r}")
    samples: list[GestureSample] = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        user, lighting = _user_lighting(sub.name, sub)
        for f in sorted(sub.glob("*.npy"), key=lambda q: (len(q.stem), q.stem)):
            if not f.stem.isdigit() or not 0 <= int(f.stem) < len(GESTURE_CLASSES):
                raise FormatError(
                    f"{f}: file name must be the class index 0-{len(GESTURE_CLASSES) - 1}.npy"
                )
            samples.append(GestureSample(f, int(f.stem), user, lighting))
    return samples


def _load_original(sample: GestureSample, cache: dict[Path, np.ndarray]) -> np.ndarray:
    if sample.path not in cache:
        cache.clear()
        cache[sample.path] = read_aedat(sample.path)
    ev = cache[sample.path]
    t = ev["t"]
    out = ev[(t >= sample.start_us) & (t < sample.end_us)]
    out["t"] -= sample.start_us
    return out


def read_tonic_npy(path: str | os.PathLike[str]) -> np.ndarray:
    """Events of one Tonic DVS Gesture ``.npy`` (``[N, 4]``: x, y, p, t in ms) in µs."""
    p = Path(path)
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise FormatError(f"{p}: not a NumPy .npy file ({exc})") from None
    if arr.ndim != 2 or arr.shape[1] != 4 or arr.dtype.names is not None:
        raise FormatError(
            f"{p}: holds an array of shape {arr.shape} and dtype {arr.dtype}; Tonic's DVS "
            f"Gesture files are [N, 4] numbers (x, y, p, t in ms)"
        )
    ev = np.empty(len(arr), dtype=EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"] = arr[:, 0], arr[:, 1], arr[:, 2] != 0
    ev["t"] = np.rint(arr[:, 3].astype(np.float64) * 1000.0).astype(np.int64)
    return ev


def _load_tonic(sample: GestureSample, cache: dict[Path, np.ndarray]) -> np.ndarray:
    return read_tonic_npy(sample.path)


#: Per layout: how to list the samples of a split, and how to load one sample's events.
LAYOUTS: dict[
    str,
    tuple[
        Callable[[Path, str], list[GestureSample]],
        Callable[[GestureSample, dict[Path, np.ndarray]], np.ndarray],
    ],
] = {
    "original": (_index_original, _load_original),
    "tonic": (_index_tonic, _load_tonic),
}


def detect_layout(root: str | os.PathLike[str]) -> tuple[str, Path] | None:
    """``(layout, folder)`` of a DVS Gesture folder, or None when it is neither layout."""
    base = Path(root)
    for folder in (base, base / "DvsGesture", base / "DVSGesture"):
        if not folder.is_dir():
            continue
        if any((folder / name).is_dir() for name in _TONIC_FOLDERS.values()):
            return "tonic", folder
        if (folder / "trials_to_train.txt").is_file() or (folder / "trials_to_test.txt").is_file():
            return "original", folder
    return None


def available_splits(folder: str | os.PathLike[str], layout: str) -> list[str]:
    """The splits a DVS Gesture folder of ``layout`` holds."""
    base = Path(folder)
    if layout == "tonic":
        return [s for s in SPLITS if (base / _TONIC_FOLDERS[s]).is_dir()]
    return [s for s in SPLITS if (base / f"trials_to_{s}.txt").is_file()]


class DVSGesture:
    """IBM DVS Gesture samples from a folder (see the module docstring); items are
    ``(events, label)`` with :data:`~flexspim.data.events.EVENT_DTYPE` events (t in µs) and a
    label 0–10, after ``transform`` when one is given.

    Reading the original layout decodes a whole ``.aedat`` recording per access; consecutive
    samples of the same recording reuse it (samples are ordered by recording).
    """

    classes: list[str] = GESTURE_CLASSES
    sensor_size: tuple[int, int, int] = GESTURE_SENSOR

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        layout: str = "auto",
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ConfigError(f"split = {split!r}; use 'train' or 'test'")
        base = Path(root)
        if not base.is_dir():
            raise FormatError(f"{base}: no such folder; pass the DVS Gesture folder")
        if layout == "auto":
            found = detect_layout(base)
            if found is None:
                raise FormatError(
                    f"{base}: neither DVS Gesture layout (no trials_to_train.txt / "
                    f"trials_to_test.txt, no ibmGestureTrain/ or ibmGestureTest/ folder)"
                )
            layout, base = found
        elif layout not in LAYOUTS:
            raise ConfigError(f"layout = {layout!r}; use 'auto', {', '.join(map(repr, LAYOUTS))}")
        else:
            found = detect_layout(base)
            if found is not None and found[0] == layout:
                base = found[1]
        if transform is not None and not callable(transform):
            raise ConfigError(f"transform: {transform!r} is not callable")
        index, self._load = LAYOUTS[layout]
        self.root = base
        self.split = split
        self.layout = layout
        self.transform = transform
        self.samples: tuple[GestureSample, ...] = tuple(index(base, split))
        self.targets = np.array([s.label for s in self.samples], dtype=np.int64)
        self._cache: dict[Path, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        sample = self.samples[i]
        events = self._load(sample, self._cache)
        if self.transform is not None:
            events = self.transform(events)
        return events, sample.label
